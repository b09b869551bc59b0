"""pywinrm over CredSSP (requests-credssp), driven by emulator/tests/interop_credssp.rs (and
imported by credssp_spnego.py).

Usage: credssp.py <url> <user> <mechanism> <command> [args...]
<mechanism> is pywinrm's credssp_auth_mechanism (ntlm, auto). The password comes from
$PSRM_TEST_PASSWORD (never on the command line, never printed). Prints exactly one line:
`OK <rc> <base64 stdout> <base64 stderr>` (empty output is `-`), or `ERROR <type>: <text>`.
"""

import base64
import os
import sys


def b64(data):
    return base64.b64encode(data).decode("ascii") or "-"


def run_cmd(url, user, command, args, mechanism=None):
    """pywinrm's CredSSP `run_cmd` (with `mechanism` as credssp_auth_mechanism, else its
    default); the `OK ...` or `ERROR ...` result line."""
    import winrm

    try:
        s = winrm.Session(
            url,
            auth=(user, os.environ["PSRM_TEST_PASSWORD"]),
            transport="credssp",
            message_encryption="auto",
            server_cert_validation="ignore",
        )
        if mechanism is not None:
            # Protocol takes no credssp_auth_mechanism; its transport builds the session lazily.
            s.protocol.transport.credssp_auth_mechanism = mechanism
        r = s.run_cmd(command, args)
        return "OK %d %s %s" % (r.status_code, b64(r.std_out), b64(r.std_err))
    except Exception as e:  # the test asserts on the type and text
        return "ERROR %s: %s" % (type(e).__name__, str(e).replace("\n", " "))


def main():
    url, user, mechanism, command = sys.argv[1:5]
    sys.stdout.write(run_cmd(url, user, command, sys.argv[5:], mechanism) + "\n")


if __name__ == "__main__":
    main()
