"""Real peers of certificate authentication, driven by emulator/tests/interop_cert_auth.rs.

Usage:
  cert_auth.py pywinrm <url> <cert.pem> <key.pem> <command> [args...]
      pywinrm's transport='certificate' (requests presents the certificate, sends the
      secprofile/https/mutual Authorization header), Session.run_cmd.
      Prints `OK <rc> <base64 stdout> <base64 stderr>` (empty output is `-`) or
      `ERROR <type>: <text>`.
  cert_auth.py password <url> <user> <transport> <command> [args...]
      pywinrm with a password scheme (basic, ntlm) and no client certificate, on the same
      listener; the password comes from $PSRM_TEST_PASSWORD. Output as above.
  cert_auth.py nocert <url>
      A bare requests POST with the mutual header and no client certificate.
      Prints `STATUS <code>`.
Server certificates are not verified (the emulator's is self-signed).
"""

import base64
import os
import sys

MUTUAL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"


def out(line):
    sys.stdout.write(line.replace("\n", " ") + "\n")
    sys.stdout.flush()


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii") or "-"


def main(argv):
    mode = argv[1]
    if mode == "pywinrm":
        import winrm

        url, cert, key, command = argv[2:6]
        session = winrm.Session(
            url,
            auth=("", ""),
            transport="certificate",
            cert_pem=cert,
            cert_key_pem=key,
            server_cert_validation="ignore",
        )
        try:
            r = session.run_cmd(command, argv[6:])
        except Exception as e:  # the test asserts on the type
            out("ERROR %s: %s" % (type(e).__name__, e))
            return
        out("OK %d %s %s" % (r.status_code, b64(r.std_out), b64(r.std_err)))
    elif mode == "password":
        import winrm

        url, user, transport, command = argv[2:6]
        session = winrm.Session(
            url,
            auth=(user, os.environ["PSRM_TEST_PASSWORD"]),
            transport=transport,
            server_cert_validation="ignore",
        )
        try:
            r = session.run_cmd(command, argv[6:])
        except Exception as e:
            out("ERROR %s: %s" % (type(e).__name__, e))
            return
        out("OK %d %s %s" % (r.status_code, b64(r.std_out), b64(r.std_err)))
    elif mode == "nocert":
        import requests
        import urllib3

        urllib3.disable_warnings()
        r = requests.post(
            argv[2],
            data=b"",
            headers={
                "Authorization": MUTUAL,
                "Content-Type": "application/soap+xml;charset=UTF-8",
            },
            verify=False,
        )
        out("STATUS %d" % r.status_code)
    else:
        out("ERROR usage: unknown mode %s" % mode)


if __name__ == "__main__":
    main(sys.argv)
