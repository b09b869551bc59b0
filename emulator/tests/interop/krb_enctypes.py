"""Kerberos peers for the acceptor's session-key and sealing cases (MIT krb5 through pyspnego
and python-gssapi), driven by emulator/tests/interop_kerberos_enctypes.rs.

Usage: krb_enctypes.py <mode> <url> <principal> [args...]
The password comes from $PSRM_TEST_PASSWORD; KRB5_CONFIG and KRB5CCNAME name the test realm
and a private credential cache. ENCTYPES is an MIT enctype list (`aes128-cts-hmac-sha1-96`):
the peer runs on a copy of $KRB5_CONFIG whose permitted, default TGS and default TKT enctypes
are only those, so the KDC issues session keys of that type.

Modes:
  pywinrm_cmd URL PRINCIPAL ENCTYPES COMMAND [ARGS...]
      pywinrm transport='kerberos' run_cmd (sealed over HTTP)
  sealed URL PRINCIPAL ENCTYPES SPN SCHEME MUTUAL
      pyspnego protocol='kerberos' by hand (MUTUAL `yes` or `no`: ContextReq with or without
      mutual_auth), the token under SCHEME, then two sealed WinRS Creates
  spnego_no_token URL PRINCIPAL ENCTYPES SPN
      a hand-built SPNEGO NegTokenInit listing krb5 then NTLM without a mechToken; on the
      answer, pyspnego's AP-REQ in a NegTokenResp, then one sealed WinRS Create

Prints one line: `OK <rc> <base64 stdout> <base64 stderr>` for pywinrm_cmd, and for the by-hand
modes `AUTH status=<s> reply=<yes|no> complete=<bool> key=<bytes> SEALED <flags...> <b64 plain>`
(each sealed reply's RFC 4121 token flags as two hex digits), `HTTP <status> <detail>`, or
`ERROR <type>: <text>`.
"""

import base64
import os
import sys

from winrm_by_hand import b64, create_shell, post_sealed, report

KRB5_OID = bytes.fromhex("2a864886f712010202")
NTLM_OID = bytes.fromhex("2b06010401823702020a")
SPNEGO_OID = bytes.fromhex("2b0601050502")
PROTOCOL = "application/HTTP-Kerberos-session-encrypted"


def restrict(enctypes):
    """Points KRB5_CONFIG at a copy of the realm's krb5.conf limited to `enctypes` (before
    gssapi creates a krb5 context, which reads the file)."""
    src = os.environ["KRB5_CONFIG"]
    with open(src) as f:
        lines = [l for l in f.read().splitlines() if "_enctypes" not in l]
    at = lines.index("[libdefaults]") + 1
    for key in ("permitted_enctypes", "default_tkt_enctypes", "default_tgs_enctypes"):
        lines.insert(at, "  %s = %s" % (key, enctypes))
    path = src + "." + enctypes.replace(" ", "_")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.environ["KRB5_CONFIG"] = path


def kinit(principal):
    """alice's TGT from her password, stored in $KRB5CCNAME."""
    import gssapi
    import gssapi.raw

    name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
    creds = gssapi.raw.acquire_cred_with_password(
        name, os.environ["PSRM_TEST_PASSWORD"].encode(), usage="initiate"
    ).creds
    gssapi.raw.store_cred_into(
        {"ccache": os.environ["KRB5CCNAME"]}, creds, usage="initiate", overwrite=True
    )


def pywinrm_cmd(url, principal, enctypes, command, *args):
    import winrm

    restrict(enctypes)
    kinit(principal)
    session = winrm.Session(
        url,
        auth=(principal, None),
        transport="kerberos",
        message_encryption="auto",
        server_cert_validation="ignore",
    )
    r = session.run_cmd(command, list(args))
    return "OK %d %s %s" % (r.status_code, b64(r.std_out), b64(r.std_err))


def krb_client(principal, spn, mutual):
    import spnego

    req = spnego.ContextReq.default
    if not mutual:
        req &= ~spnego.ContextReq.mutual_auth
    service, host = spn.split("/", 1)
    return spnego.client(
        principal,
        os.environ["PSRM_TEST_PASSWORD"],
        hostname=host,
        service=service,
        protocol="kerberos",
        context_req=req,
    )


def wrap_flags(response):
    """The flags octet of the RFC 4121 token in a sealed reply, as two hex digits."""
    content = response.content
    marker = b"application/octet-stream\r\n"
    start = content.index(marker) + len(marker) + 4
    return "%02x" % content[start + 2]


def two_creates(session, ctx, url):
    """Two sealed Creates on the context (sequence numbers advance both ways)."""
    flags, plain = [], b""
    for message_id in (
        "11111111-2222-4333-8444-555555555555",
        "11111111-2222-4333-8444-666666666666",
    ):
        envelope = create_shell(url, message_id).encode()
        r, plain = post_sealed(session, ctx, url, PROTOCOL, envelope)
        if plain is None:
            raise RuntimeError("reply %d not sealed" % r.status_code)
        flags.append(wrap_flags(r))
    return " ".join(flags), plain


def sealed(url, principal, enctypes, spn, scheme, mutual):
    import requests

    restrict(enctypes)
    ctx = krb_client(principal, spn, mutual == "yes")
    session = requests.Session()
    r = session.post(
        url,
        data=b"",
        headers={"Authorization": "%s %s" % (scheme, b64(ctx.step()))},
        verify=False,
    )
    if r.status_code != 200:
        return "HTTP %d %s" % (r.status_code, r.headers.get("WWW-Authenticate", "-"))
    header = r.headers.get("WWW-Authenticate", "")
    parts = header.split(" ", 1)
    reply = len(parts) == 2 and parts[0] == scheme
    if reply:
        ctx.step(base64.b64decode(parts[1]))
    auth = "AUTH status=%d reply=%s complete=%s key=%d" % (
        r.status_code,
        "yes" if reply else "no",
        ctx.complete,
        len(ctx.session_key),
    )
    flags, plain = two_creates(session, ctx, url)
    return "%s SEALED %s %s" % (auth, flags, b64(plain))


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def parse_der(data):
    """(tag, content, rest) of one DER element."""
    tag, first = data[0], data[1]
    if first < 0x80:
        return tag, data[2 : 2 + first], data[2 + first :]
    n = first & 0x7F
    length = int.from_bytes(data[2 : 2 + n], "big")
    return tag, data[2 + n : 2 + n + length], data[2 + n + length :]


def resp_fields(token):
    """The fields of a NegTokenResp: {context tag number: inner content}."""
    tag, seq, _ = parse_der(token)
    assert tag == 0xA1, "not a NegTokenResp"
    _, body, _ = parse_der(seq)
    out = {}
    while body:
        tag, value, body = parse_der(body)
        _, inner, _ = parse_der(value)
        out[tag & 0x1F] = inner
    return out


def spnego_no_token(url, principal, enctypes, spn):
    """krb5 first, no optimistic token: the acceptor must select krb5 and wait."""
    import requests

    restrict(enctypes)
    mechs = der(0x30, der(0x06, KRB5_OID) + der(0x06, NTLM_OID))
    init = der(0x60, der(0x06, SPNEGO_OID) + der(0xA0, der(0x30, der(0xA0, mechs))))
    session = requests.Session()
    r = session.post(
        url, data=b"", headers={"Authorization": "Negotiate " + b64(init)}, verify=False
    )
    header = r.headers.get("WWW-Authenticate", "")
    if r.status_code != 401 or not header.startswith("Negotiate "):
        return "HTTP %d %s" % (r.status_code, header or "-")
    answer = resp_fields(base64.b64decode(header.split(" ", 1)[1]))
    first = "FIRST state=%s mech=%s token=%s" % (
        answer.get(0, b"").hex() or "-",
        "krb5" if answer.get(1) == KRB5_OID else (answer.get(1, b"").hex() or "-"),
        "yes" if 2 in answer else "no",
    )
    ctx = krb_client(principal, spn, True)
    resp = der(0xA1, der(0x30, der(0xA2, der(0x04, ctx.step()))))
    r = session.post(
        url, data=b"", headers={"Authorization": "Negotiate " + b64(resp)}, verify=False
    )
    if r.status_code != 200:
        return "%s HTTP %d" % (first, r.status_code)
    header = r.headers.get("WWW-Authenticate", "")
    final = resp_fields(base64.b64decode(header.split(" ", 1)[1]))
    ctx.step(final[2])
    flags, plain = two_creates(session, ctx, url)
    return "%s AUTH state=%s complete=%s SEALED %s %s" % (
        first,
        final.get(0, b"").hex(),
        ctx.complete,
        flags,
        b64(plain),
    )


MODES = {
    "pywinrm_cmd": pywinrm_cmd,
    "sealed": sealed,
    "spnego_no_token": spnego_no_token,
}


def main():
    mode, url, principal = sys.argv[1:4]
    report(MODES[mode], url, principal, *sys.argv[4:])


if __name__ == "__main__":
    main()
