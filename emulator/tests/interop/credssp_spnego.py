"""pywinrm 0.5 `transport='credssp'` with its default `credssp_auth_mechanism='auto'` (SPNEGO
inside the CredSSP TSRequests), driven by emulator/tests/interop_credssp_spnego.rs.

Usage: credssp_spnego.py URL USER COMMAND [ARGS...]   (password in $PSRM_TEST_PASSWORD)

Records the negoTokens pyspnego sends and receives (TSRequest pack / unpack are wrapped) to
tell which framing went inside. Prints `OK <rc> <b64 stdout> <b64 stderr> <sent> <received>`
where <sent> and <received> list each negoToken's kind (init(<first mech>) = SPNEGO NegTokenInit, resp = NegTokenResp, ntlm1/ntlm3 = raw NTLM)
with `+mic` when a NegTokenResp carries a mechListMIC; or `ERROR <type>: <text> <sent> <received>`.
"""

import sys

from credssp import run_cmd

SEEN = []
RECEIVED = []


def kind(token):
    from spnego._spnego import NegTokenInit, NegTokenResp, unpack_token

    if token.startswith(b"NTLMSSP\x00"):
        return "ntlm%d" % token[8]
    try:
        t = unpack_token(token)
    except Exception:
        return "other"
    if isinstance(t, NegTokenInit):
        first = t.mech_types[0] if t.mech_types else ""
        names = {
            "1.3.6.1.4.1.311.2.2.10": "ntlm",
            "1.2.840.113554.1.2.2": "krb5",
            "1.2.840.48018.1.2.2": "mskrb5",
        }
        return "init(%s)" % names.get(first, first)
    if isinstance(t, NegTokenResp):
        return "resp+mic" if t.mech_list_mic else "resp"
    return "other"


def record():
    import spnego._credssp_structures as structures

    original = structures.TSRequest.pack

    def pack(self):
        for data in self.nego_tokens or []:
            if data.nego_token:
                SEEN.append(kind(data.nego_token))
        return original(self)

    structures.TSRequest.pack = pack

    original_unpack = structures.TSRequest.unpack

    def unpack(b_data):
        request = original_unpack(b_data)
        for data in request.nego_tokens or []:
            if data.nego_token:
                RECEIVED.append(kind(data.nego_token))
        return request

    structures.TSRequest.unpack = staticmethod(unpack)


def main():
    url, user, command = sys.argv[1:4]
    record()
    line = run_cmd(url, user, command, sys.argv[4:])
    sys.stdout.write("%s %s %s\n" % (line, ",".join(SEEN) or "-", ",".join(RECEIVED) or "-"))


if __name__ == "__main__":
    main()
