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


def pywinrm_ps(url, user, password, auth, command, args):
    """Session.run_ps: a WinRS command `powershell -encodedcommand …` (CLIXML stderr cleaned)."""
    import winrm

    s = winrm.Session(
        url,
        auth=(user, password),
        transport=auth,
        message_encryption="auto" if auth == "basic" else "always",
        server_cert_validation="ignore",
    )
    r = s.run_ps(" ".join([command] + list(args)))
    return r.status_code, r.std_out.decode("utf-8"), r.std_err.decode("utf-8")


def pypsrp_session_ops(url, user, password, auth, other_user, other_password):
    """WS-Man operations through pypsrp's low-level API on a WinRS shell. Prints one
    `STEP <name> <values…>` line per operation, then `DONE`."""
    import xml.etree.ElementTree as ET
    from urllib.parse import urlparse

    from pypsrp.exceptions import WSManFaultError
    from pypsrp.shell import Process, SignalCode, WinRS
    from pypsrp.wsman import NAMESPACES, WSMan, SelectorSet

    u = urlparse(url)

    def connect(name, pw):
        return WSMan(
            u.hostname,
            port=u.port,
            username=name,
            password=pw,
            ssl=False,
            auth=auth,
            encryption="always" if auth != "basic" else "never",
            cert_validation=False,
        )

    def step(name, *values):
        out("STEP %s %s" % (name, " ".join(str(v) for v in values)))

    def fault_code(fn):
        try:
            fn()
        except WSManFaultError as e:
            return e.code
        return "none"

    shells_uri = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
    cmd_uri = shells_uri + "/cmd"
    wsman = connect(user, password)
    wsman.update_max_payload_size()
    step("max_envelope", wsman.max_envelope_size)

    shell = WinRS(wsman, environment={"PSRM_X": "1"}, idle_time_out=600)
    shell.open()
    sel = SelectorSet()
    sel.add_option("ShellId", shell.id)
    step("open", shell.owner)

    process = Process(shell, "ping", ["-n", "30", "127.0.0.1"])
    process.begin_invoke()
    process.poll_invoke()
    step("running", process.state.rsplit("/", 1)[-1])

    def enumerate(conn, resource, filter_shell=None):
        msg = ET.Element("{%s}Enumerate" % NAMESPACES["wsen"])
        ET.SubElement(msg, "{%s}OptimizeEnumeration" % NAMESPACES["wsman"])
        ET.SubElement(msg, "{%s}MaxElements" % NAMESPACES["wsman"]).text = "32000"
        if filter_shell:
            f = ET.SubElement(
                msg,
                "{%s}Filter" % NAMESPACES["wsman"],
                Dialect="http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter",
            )
            ss = ET.SubElement(f, "{%s}SelectorSet" % NAMESPACES["wsman"])
            ET.SubElement(ss, "{%s}Selector" % NAMESPACES["wsman"], Name="ShellId").text = filter_shell
        return conn.enumerate(resource, msg)

    body = enumerate(wsman, shells_uri)
    items = body.findall("wsen:EnumerateResponse/wsman:Items/rsp:Shell", NAMESPACES)
    mine = [i for i in items if i.find("rsp:ShellId", NAMESPACES).text == shell.id]
    step("enum_shells", len(mine), mine[0].find("rsp:State", NAMESPACES).text if mine else "-")

    body = enumerate(wsman, shells_uri + "/Command", shell.id)
    cmds = body.findall("wsen:EnumerateResponse/wsman:Items/rsp:Command", NAMESPACES)
    step("enum_commands", len(cmds), cmds[0].find("rsp:CommandState", NAMESPACES).text if cmds else "-")

    body = wsman.get(shells_uri, selector_set=sel)
    step("get_shell", body.find("rsp:Shell/rsp:State", NAMESPACES).text,
         body.find("rsp:Shell/rsp:ChildProcesses", NAMESPACES).text)

    other = connect(other_user, other_password)
    step("other_get", fault_code(lambda: other.get(shells_uri, selector_set=sel)))
    body = enumerate(other, shells_uri)
    step("other_enum", len(body.findall("wsen:EnumerateResponse/wsman:Items/rsp:Shell", NAMESPACES)))

    process.signal(SignalCode.CTRL_C)
    process.end_invoke()
    step("ctrl_c", process.rc)
    process.signal(SignalCode.TERMINATE)
    step("terminate", "ok")

    d = ET.Element("{%s}Disconnect" % NAMESPACES["rsp"])
    ET.SubElement(d, "{%s}IdleTimeOut" % NAMESPACES["rsp"]).text = "PT120S"
    wsman.disconnect(cmd_uri, d, selector_set=sel)
    body = wsman.get(shells_uri, selector_set=sel)
    step("disconnected", body.find("rsp:Shell/rsp:State", NAMESPACES).text,
         body.find("rsp:Shell/rsp:IdleTimeOut", NAMESPACES).text)
    late = Process(shell, "echo", ["late"])
    step("command_disconnected", fault_code(late.begin_invoke))
    wsman.reconnect(cmd_uri, selector_set=sel)
    again = Process(shell, "echo", ["%PSRM_X%"])
    again.invoke()
    step("after_reconnect", again.rc, again.stdout.decode().strip())
    shell.close()
    step("get_deleted", fault_code(lambda: wsman.get(shells_uri, selector_set=sel)))
    out("DONE")


def main():
    if sys.argv[1] == "pypsrp_session_ops":
        url, user, auth, other = sys.argv[2:6]
        pypsrp_session_ops(
            url, user, os.environ["PSRM_TEST_PASSWORD"], auth, other, os.environ["PSRM_TEST_PASSWORD2"]
        )
        return
    client, url, user, auth, command = sys.argv[1:6]
    args = sys.argv[6:]
    password = os.environ["PSRM_TEST_PASSWORD"]
    fn = {
        "pywinrm": pywinrm,
        "pywinrm_protocol": pywinrm_protocol,
        "pywinrm_ps": pywinrm_ps,
        "pypsrp_cmd": pypsrp_cmd,
    }[client]
    try:
        rc, stdout, stderr = fn(url, user, password, auth, command, args)
    except Exception as e:  # report, never crash silently
        out("ERROR %s: %s" % (type(e).__name__, e))
        return
    out("OK %d %s %s" % (rc, b64(stdout), b64(stderr)))


if __name__ == "__main__":
    main()
