"""pyspnego's own SPNEGO offering Kerberos first (MIT krb5 through python-gssapi, alice's
password) to an emulator that cannot take Kerberos, driven by
emulator/tests/interop_spnego_fallback.rs.

Usage: spnego_fallback.py URL PRINCIPAL SPN
The password comes from $PSRM_TEST_PASSWORD; KRB5_CONFIG and KRB5CCNAME name the test realm.

Runs the Negotiate exchange by hand (every token in `Authorization: Negotiate`), then one
sealed WinRS Create (application/HTTP-SPNEGO-session-encrypted). Prints one line:
`OK first=<mechs> legs=<n> protocol=<negotiated> complete=<bool> <base64 reply>
reply1=<negState>:<supportedMech>:<token?> final_mic=<bool>`,
`HTTP <status> ...`, or `ERROR <type>: <text>`.
"""

import base64
import os
import sys

KRB5 = "1.2.840.113554.1.2.2"
MS_KRB5 = "1.2.840.48018.1.2.2"
NTLM = "1.3.6.1.4.1.311.2.2.10"


def b64(data):
    return base64.b64encode(data).decode("ascii") or "-"


def create_shell(url):
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header>'
        "<a:To>%s</a:To>"
        '<w:ResourceURI s:mustUnderstand="true">'
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        '<a:ReplyTo><a:Address s:mustUnderstand="true">'
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"
        '<a:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>'
        '<w:MaxEnvelopeSize s:mustUnderstand="true">153600</w:MaxEnvelopeSize>'
        "<a:MessageID>uuid:11111111-2222-4333-8444-666666666666</a:MessageID>"
        "<w:OperationTimeout>PT20S</w:OperationTimeout></s:Header><s:Body>"
        "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
        "</s:Body></s:Envelope>" % url
    )


def run(url, principal, spn):
    import requests
    import spnego
    from spnego._spnego import NegTokenInit, NegTokenResp, unpack_token

    service, host = spn.split("/", 1)
    ctx = spnego.client(
        principal,
        os.environ["PSRM_TEST_PASSWORD"],
        hostname=host,
        service=service,
        protocol="negotiate",
    )
    token = ctx.step()
    init = unpack_token(token)
    if not isinstance(init, NegTokenInit):
        return "ERROR first token is not a NegTokenInit"
    mechs = ",".join(init.mech_types)
    session = requests.Session()
    legs = 0
    reply1 = "-"
    final_mic = False
    while True:
        legs += 1
        r = session.post(
            url,
            data=b"",
            headers={"Authorization": "Negotiate %s" % b64(token)},
            verify=False,
        )
        header = r.headers.get("WWW-Authenticate", "")
        parts = header.split(" ", 1)
        answer = base64.b64decode(parts[1]) if len(parts) == 2 and parts[0] == "Negotiate" else None
        resp = unpack_token(answer) if answer else None
        if legs == 1 and isinstance(resp, NegTokenResp):
            reply1 = "%s:%s:%s" % (
                int(resp.neg_state) if resp.neg_state is not None else "-",
                resp.supported_mech or "-",
                "token" if resp.response_token else "none",
            )
        if r.status_code == 200:
            if answer:
                final_mic = isinstance(resp, NegTokenResp) and bool(resp.mech_list_mic)
                ctx.step(answer)
            break
        if r.status_code != 401 or answer is None or legs > 5:
            return "HTTP %d legs=%d first=%s" % (r.status_code, legs, mechs)
        token = ctx.step(answer)
        if token is None:
            return "ERROR no token to send after leg %d" % legs
    if not ctx.complete:
        return "HTTP 200 complete=False legs=%d" % legs

    protocol = "application/HTTP-SPNEGO-session-encrypted"
    envelope = create_shell(url).encode()
    wrapped = ctx.wrap_winrm(envelope)
    body = (
        b"--Encrypted Boundary\r\n"
        b"\tContent-Type: " + protocol.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(envelope)).encode()
        + b"\r\n--Encrypted Boundary\r\n"
        b"\tContent-Type: application/octet-stream\r\n"
        + len(wrapped.header).to_bytes(4, "little")
        + wrapped.header
        + wrapped.data
        + b"--Encrypted Boundary--\r\n"
    )
    r = session.post(
        url,
        data=body,
        headers={
            "Content-Type": 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"'
            % protocol
        },
        verify=False,
    )
    if not r.headers.get("Content-Type", "").startswith("multipart/encrypted"):
        return "HTTP %d reply not sealed" % r.status_code
    content = r.content
    marker = b"application/octet-stream\r\n"
    start = content.index(marker) + len(marker)
    hlen = int.from_bytes(content[start : start + 4], "little")
    blob = content[start + 4 : content.rindex(b"--Encrypted Boundary--")]
    plain = ctx.unwrap_winrm(blob[:hlen], blob[hlen:])
    return "OK first=%s legs=%d protocol=%s complete=%s %s reply1=%s final_mic=%s" % (
        mechs,
        legs,
        ctx.negotiated_protocol,
        ctx.complete,
        b64(plain),
        reply1,
        final_mic,
    )


def main():
    url, principal, spn = sys.argv[1:4]
    try:
        line = run(url, principal, spn)
    except Exception as e:  # the test asserts on the type and text
        line = "ERROR %s: %s" % (type(e).__name__, str(e).replace("\n", " "))
    sys.stdout.write(line + "\n")


if __name__ == "__main__":
    main()
