"""Real Python WinRM peers driven by emulator/tests/http_*.rs.

Each subcommand prints one result line on stdout:
  OK <status> <response text>      the request went through (response decrypted by the client)
  HTTP <status>                    the server answered with an HTTP error
  ERROR <exception type> <text>    anything else
Secrets are never printed.
"""

import base64
import os
import struct
import sys

ECHO_REQUEST = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    "<s:Header/><s:Body>{}</s:Body></s:Envelope>"
)


def envelope(size=0):
    return ECHO_REQUEST.format("x" * size)


def out(line):
    sys.stdout.write(line.replace("\n", " ") + "\n")
    sys.stdout.flush()


def cmd_winrm(url, user, password, transport, encryption, size="0"):
    """pywinrm's transport layer: what run_cmd/run_ps sit on."""
    import winrm.exceptions
    import winrm.transport

    t = winrm.transport.Transport(
        endpoint=url,
        username=user,
        password=password,
        auth_method=transport,
        message_encryption=encryption,
        server_cert_validation="ignore",
    )
    try:
        resp = t.send_message(envelope(int(size)))
    except winrm.exceptions.InvalidCredentialsError:
        out("HTTP 401")
        return
    except winrm.exceptions.WinRMTransportError as e:
        out("HTTP %s" % e.code)
        return
    if isinstance(resp, bytes):
        resp = resp.decode()
    out("OK 200 %s" % resp)
    # A second message on the same connection proves sequence numbers advance correctly.
    resp = t.send_message(envelope(3))
    if isinstance(resp, bytes):
        resp = resp.decode()
    out("OK 200 %s" % resp)


def cmd_pypsrp(host, port, user, password, auth, encryption, ssl="0", size="0"):
    """pypsrp's lowest-level send: WSMan.transport.send(bytes)."""
    from pypsrp.exceptions import AuthenticationError, WSManFaultError
    from pypsrp.wsman import WSMan

    wsman = WSMan(
        host,
        port=int(port),
        username=user,
        password=password,
        ssl=ssl == "1",
        auth=auth,
        encryption=encryption,
        cert_validation=False,
    )
    try:
        for n in (int(size), 5):
            resp = wsman.transport.send(envelope(n).encode())
            out("OK 200 %s" % resp.decode())
    except AuthenticationError:
        out("HTTP 401")
    except WSManFaultError as e:
        out("HTTP %s" % getattr(e, "code", "?"))


def _session(url):
    import requests

    s = requests.Session()
    s.verify = False
    return s


def _post(s, url, token=None, scheme="Negotiate", body=b""):
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}
    if token is not None:
        headers["Authorization"] = "%s %s" % (scheme, base64.b64encode(token).decode())
    return s.post(url, data=body, headers=headers)


def _server_token(resp):
    header = resp.headers.get("WWW-Authenticate", "")
    for part in header.split(","):
        part = part.strip()
        if part.lower().startswith("negotiate ") or part.lower().startswith("ntlm "):
            return base64.b64decode(part.split(" ", 1)[1])
    return None


def _craft_authenticate(user, domain, password, challenge_bytes, with_mic_flag):
    """A hand-built NTLMv2 AUTHENTICATE computed with `password`."""
    from spnego._ntlm_raw import crypto
    from spnego._ntlm_raw.messages import (
        AvFlags,
        AvId,
        Authenticate,
        Challenge,
        FileTime,
        NegotiateFlags,
        TargetInfo,
    )

    challenge = Challenge.unpack(challenge_bytes)
    info = TargetInfo()
    for k, v in (challenge.target_info or {}).items():
        info[k] = v
    if with_mic_flag:
        info[AvId.flags] = AvFlags.mic
    elif AvId.flags in info:
        del info[AvId.flags]
    key = crypto.ntowfv2(user, crypto.ntowfv1(password), domain)
    nt, lm, _ = crypto.compute_response_v2(key, challenge.server_challenge, os.urandom(8), FileTime.now(), info)
    flags = challenge.flags & ~NegotiateFlags.key_exch
    msg = Authenticate(flags=flags, lm_challenge_response=b"\0" * 24, nt_challenge_response=nt,
                       domain_name=domain, username=user, workstation="CRAFT")
    return msg.pack()


def _negotiate_message():
    import spnego

    c = spnego.client("x", "y", protocol="ntlm")
    return c.step()


def cmd_craft(url, user, password, mode):
    """Hand-crafted NTLM / SPNEGO exchanges; prints the final HTTP status."""
    from spnego._spnego import NegState, NegTokenInit, NegTokenResp

    ntlm_oid = "1.3.6.1.4.1.311.2.2.10"
    s = _session(url)
    body = envelope().encode()
    if mode in ("nomic-raw", "mic-flag-raw", "nomic-raw-spnego-header"):
        scheme = "NTLM" if mode == "nomic-raw" else "Negotiate"
        r = _post(s, url, _negotiate_message(), scheme)
        chal = _server_token(r)
        if r.status_code != 401 or chal is None:
            out("ERROR nochallenge %s" % r.status_code)
            return
        auth = _craft_authenticate(user, "", password, chal, mode == "mic-flag-raw")
        r = _post(s, url, auth, scheme, body)
        out("HTTP %d %s" % (r.status_code, r.text))
        return
    if mode in ("nomic-spnego", "guest-spnego", "anonymous-spnego"):
        init = NegTokenInit(mech_types=[ntlm_oid], mech_token=_negotiate_message()).pack()
        r = _post(s, url, init)
        resp_token = _server_token(r)
        if r.status_code != 401 or resp_token is None:
            out("ERROR nochallenge %s" % r.status_code)
            return
        from spnego._spnego import unpack_token

        chal = unpack_token(resp_token).response_token
        if mode == "nomic-spnego":
            auth = _craft_authenticate(user, "", password, chal, False)
        elif mode == "guest-spnego":
            auth = _craft_authenticate("/GUEST", "", "", chal, False)
        else:
            from spnego._ntlm_raw.messages import Authenticate, Challenge

            c = Challenge.unpack(chal)
            auth = Authenticate(flags=c.flags, lm_challenge_response=b"\0", nt_challenge_response=b"",
                                domain_name="", username="", workstation="").pack()
        tok = NegTokenResp(neg_state=NegState.accept_complete, response_token=auth).pack()
        r = _post(s, url, tok, "Negotiate", body)
        out("HTTP %d %s" % (r.status_code, r.text))
        return
    if mode.startswith("garbage-"):
        what = mode[len("garbage-"):]
        tokens = {
            "random": os.urandom(64),
            "empty": b"",
            "ntlm-truncated": _negotiate_message()[:11],
            "spnego-truncated": NegTokenInit(mech_types=[ntlm_oid], mech_token=_negotiate_message()).pack()[:20],
            "spnego-no-token": NegTokenInit(mech_types=[ntlm_oid]).pack(),
            "spnego-kerberos-first": NegTokenInit(mech_types=["1.2.840.113554.1.2.2", ntlm_oid],
                                                  mech_token=b"\x60\x03\x01\x02\x03").pack(),
            "spnego-bad-der": b"\x60\x84\xff\xff\xff\xff\x06\x06+\x06\x01\x05\x05\x02",
            "authenticate-first": b"NTLMSSP\0\x03\0\0\0" + b"\0" * 80,
            "challenge": b"NTLMSSP\0\x02\0\0\0" + b"\0" * 40,
        }
        if what == "notbase64":
            r = s.post(url, data=body, headers={"Authorization": "Negotiate %%%%",
                                               "Content-Type": "application/soap+xml"})
        else:
            r = _post(s, url, tokens[what], "Negotiate", body)
        out("HTTP %d" % r.status_code)
        # A truncated AUTHENTICATE after a real NEGOTIATE, on a fresh connection.
        return
    if mode == "truncated-authenticate":
        r = _post(s, url, _negotiate_message(), "Negotiate")
        chal = _server_token(r)
        auth = _craft_authenticate(user, "", password, chal, True)
        r = _post(s, url, auth[: len(auth) // 2], "Negotiate", body)
        out("HTTP %d" % r.status_code)
        return
    out("ERROR unknown mode %s" % mode)


def cmd_plain(url, user, password, scheme):
    """A plaintext SOAP POST authenticated with Basic (scheme=basic)."""
    s = _session(url)
    s.auth = (user, password)
    r = s.post(url, data=envelope().encode(), headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    out("HTTP %d %s" % (r.status_code, r.text))


def main():
    import warnings

    warnings.simplefilter("ignore")
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        globals()["cmd_" + cmd](*args)
    except Exception as e:  # noqa: BLE001 - reported to the Rust test
        out("ERROR %s %s" % (type(e).__name__, str(e)[:300]))
        sys.exit(2)


if __name__ == "__main__":
    main()
