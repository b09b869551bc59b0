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

from winrm_by_hand import b64, create_shell, post_sealed, report

KRB5 = "1.2.840.113554.1.2.2"
MS_KRB5 = "1.2.840.48018.1.2.2"
NTLM = "1.3.6.1.4.1.311.2.2.10"


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

    envelope = create_shell(url, "11111111-2222-4333-8444-666666666666").encode()
    r, plain = post_sealed(session, ctx, url, "application/HTTP-SPNEGO-session-encrypted", envelope)
    if plain is None:
        return "HTTP %d reply not sealed" % r.status_code
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
    report(run, url, principal, spn)


if __name__ == "__main__":
    main()
