"""pywinrm 0.5 `transport='credssp'` with `credssp_auth_mechanism='kerberos'` (Kerberos inside
the CredSSP TSRequests, as a domain member's CredSSP), driven by
emulator/tests/interop_credssp_kerberos.rs.

Usage: credssp_kerberos.py URL USER COMMAND [ARGS...]   (password in $PSRM_TEST_PASSWORD;
KRB5_CONFIG / KRB5CCNAME name the test realm)

Records the negoTokens sent and received, as credssp_spnego.py does, naming raw GSS krb5
tokens `ap-req` / `ap-rep`. Prints `OK <rc> <b64 stdout> <b64 stderr> <sent> <received>` or
`ERROR <type>: <text> <sent> <received>`.
"""

import sys

import credssp_spnego
from credssp import run_cmd

# [APPLICATION 0] ... OID 1.2.840.113554.1.2.2, then the RFC 1964 token id.
KRB5_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
SPNEGO_KIND = credssp_spnego.kind


def kind(token):
    at = token.find(KRB5_OID)
    if token[:1] == b"\x60" and 0 < at < 6:
        token_id = token[at + len(KRB5_OID) : at + len(KRB5_OID) + 2]
        return {b"\x01\x00": "ap-req", b"\x02\x00": "ap-rep"}.get(token_id, "krb5")
    return SPNEGO_KIND(token)


def main():
    url, user, command = sys.argv[1:4]
    credssp_spnego.kind = kind  # the recorder looks `kind` up when it runs
    credssp_spnego.record()
    line = run_cmd(url, user, command, sys.argv[4:], "kerberos")
    seen = ",".join(credssp_spnego.SEEN) or "-"
    received = ",".join(credssp_spnego.RECEIVED) or "-"
    sys.stdout.write("%s %s %s\n" % (line, seen, received))


if __name__ == "__main__":
    main()
