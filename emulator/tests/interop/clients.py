"""Real WinRM clients driven by emulator/tests/interop_winrs.rs.

Usage: clients.py <client> <url> <user> <auth> <command> [args...]
The password comes from $PSRM_TEST_PASSWORD (never on the command line, never printed).
Prints exactly one line: `OK <rc> <base64 stdout> <base64 stderr>` (empty output is `-`), or
`ERROR <type>: <text>`.
"""

import base64
import os
import sys


def out(line):
    sys.stdout.write(line.replace("\n", " ") + "\n")
    sys.stdout.flush()


def b64(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return base64.b64encode(text).decode("ascii") or "-"


def pywinrm(url, user, password, auth, command, args):
    import winrm

    s = winrm.Session(
        url,
        auth=(user, password),
        transport=auth,
        message_encryption="auto" if auth == "basic" else "always",
        server_cert_validation="ignore",
    )
    r = s.run_cmd(command, args)
    return r.status_code, r.std_out.decode("utf-8"), r.std_err.decode("utf-8")


def pywinrm_protocol(url, user, password, auth, command, args):
    """The lower-level Protocol API: open_shell with env and cwd, run_command, send stdin,
    get_command_output, cleanup_command, close_shell."""
    from winrm.protocol import Protocol

    p = Protocol(
        endpoint=url,
        transport=auth,
        username=user,
        password=password,
        message_encryption="auto" if auth == "basic" else "always",
        server_cert_validation="ignore",
    )
    shell_id = p.open_shell(env_vars={"PSRM_TEST_VAR": "from-env"}, working_directory="C:\\Temp")
    cid = p.run_command(shell_id, command, args)
    p.send_command_input(shell_id, cid, b"input line\r\n", end=True)
    stdout, stderr, rc = p.get_command_output(shell_id, cid)
    p.cleanup_command(shell_id, cid)
    p.close_shell(shell_id)
    return rc, stdout.decode("utf-8"), stderr.decode("utf-8")


def pypsrp_cmd(url, user, password, auth, command, args):
    from urllib.parse import urlparse

    from pypsrp.client import Client

    u = urlparse(url)
    c = Client(
        u.hostname,
        port=u.port,
        username=user,
        password=password,
        ssl=u.scheme == "https",
        auth=auth,
        cert_validation=False,
        encryption="never" if auth == "basic" else "always",
    )
    stdout, stderr, rc = c.execute_cmd(" ".join([command] + list(args)))
    return rc, stdout, stderr


def main():
    client, url, user, auth, command = sys.argv[1:6]
    args = sys.argv[6:]
    password = os.environ["PSRM_TEST_PASSWORD"]
    fn = {"pywinrm": pywinrm, "pywinrm_protocol": pywinrm_protocol, "pypsrp_cmd": pypsrp_cmd}[client]
    try:
        rc, stdout, stderr = fn(url, user, password, auth, command, args)
    except Exception as e:  # report, never crash silently
        out("ERROR %s: %s" % (type(e).__name__, e))
        return
    out("OK %d %s %s" % (rc, b64(stdout), b64(stderr)))


if __name__ == "__main__":
    main()
