"""PowerShell remoting scenarios driven by emulator/tests/interop_pypsrp.rs.

Usage: psrp_scenarios.py <scenario> <url> <user>
The password comes from $PSRM_TEST_PASSWORD (never on the command line, never printed).
Prints one `key=<json>` line per observation, then `DONE`; an exception prints
`ERROR <type>: <text>` (the Rust test fails on anything but DONE and checks the observations).
"""

import base64
import json
import os
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"


def out(key, value):
    sys.stdout.write("%s=%s\n" % (key, json.dumps(value, sort_keys=True, default=str)))
    sys.stdout.flush()


def wsman(url, user, password, **kw):
    from pypsrp.wsman import WSMan

    u = urlparse(url)
    return WSMan(
        u.hostname,
        port=u.port,
        username=user,
        password=password,
        ssl=u.scheme == "https",
        cert_validation=False,
        operation_timeout=kw.pop("operation_timeout", 5),
        **kw,
    )


def props(obj):
    """A deserialized object's properties (extended first), as plain values."""
    d = {}
    for source in (getattr(obj, "adapted_properties", {}), getattr(obj, "extended_properties", {})):
        for k, v in (source or {}).items():
            d[k] = v
    return d


def streams_of(ps):
    s = ps.streams
    return {
        "error": [
            {
                "message": str(e),
                "category": e.category,
                "reason": e.reason,
                "fqid": e.fq_error,
            }
            for e in s.error
        ],
        "warning": [w.message for w in s.warning],
        "verbose": [v.message for v in s.verbose],
        "debug": [d.message for d in s.debug],
        "information": [str(i.message_data) for i in s.information],
        "progress": [[p.activity, p.description, p.percent_complete] for p in s.progress],
    }


def execute_ps(url, user, password):
    from pypsrp.client import Client

    u = urlparse(url)
    # Default auth (negotiate) over HTTP: message encryption is on.
    c = Client(u.hostname, port=u.port, username=user, password=password, ssl=False, cert_validation=False)
    output, streams, had_errors = c.execute_ps("'hello'; Write-Warning 'careful'; Write-Error 'bad thing'; 1 + 1")
    out("output", output)
    out("had_errors", had_errors)
    out("errors", [str(e) for e in streams.error])
    out("warnings", [w.message for w in streams.warning])
    output, streams, had_errors = c.execute_ps("$x = 6; $x * 7")
    out("clean_output", output)
    out("clean_had_errors", had_errors)
    output, streams, had_errors = c.execute_ps("'first'; throw 'fatal'")
    out("throw_output", output)
    out("throw_had_errors", had_errors)
    out("throw_errors", [str(e) for e in streams.error])


def plaintext_basic(url, user, password):
    """The same call without message encryption (Basic over HTTP): accepted or refused."""
    from pypsrp.client import Client

    u = urlparse(url)
    c = Client(
        u.hostname, port=u.port, username=user, password=password, ssl=False, auth="basic", encryption="never"
    )
    try:
        c.execute_ps("'should not run'")
        out("plaintext", "accepted")
    except Exception as e:  # noqa: BLE001 - the refusal is the expected outcome
        out("plaintext", "refused")
        out("plaintext_error", type(e).__name__)


def pool_streams(url, user, password):
    from pypsrp.powershell import PowerShell, RunspacePool

    with RunspacePool(wsman(url, user, password)) as pool:
        out("pool_state", pool.state)
        table = pool.application_private_data.data.get("PSVersionTable", {})
        out("ps_version", str(table.get("PSVersion")))
        out("protocol_version", str(table.get("PSRemotingProtocolVersion")))
        ps = PowerShell(pool)
        ps.add_script(
            "$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'\n"
            "[PSCustomObject]@{ Name = 'alpha'; Count = 3 }\n"
            "'text'\n"
            "42\n"
            "Write-Warning 'warn me'\n"
            "Write-Verbose 'so verbose'\n"
            "Write-Debug 'debugging'\n"
            "Write-Information 'for your information'\n"
            "Write-Progress -Activity 'Working' -Status 'Half' -PercentComplete 50\n"
            "Write-Error 'it failed'\n"
            "nosuchcommand\n"
        )
        output = ps.invoke()
        out("script_output", [props(o) if hasattr(o, "extended_properties") else o for o in output])
        out("script_types", [type(o).__name__ for o in output])
        out("custom_types", [o.types for o in output if hasattr(o, "types")])
        out("script_had_errors", ps.had_errors)
        out("script_state", ps.state)
        out("streams", streams_of(ps))

        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_parameter("InputObject", "from a cmdlet")
        out("cmdlet_output", ps.invoke())

        ps = PowerShell(pool)
        ps.add_script("3, 1, 2")
        ps.add_cmdlet("Sort-Object").add_parameter("Descending")  # a switch: no value
        out("switch_output", ps.invoke())

        ps = PowerShell(pool)
        ps.add_script("1..5").add_cmdlet("Select-Object").add_parameter("First", 2)
        out("param_output", ps.invoke())

        ps = PowerShell(pool)
        ps.add_script("$input | ForEach-Object { $_ * 10 }")
        out("input_output", ps.invoke(input=[1, 2, 3]))

        ps = PowerShell(pool)
        ps.add_script("$input | ForEach-Object { \"got $_\" }")
        out("input_script_output", ps.invoke(input=["a", "b"]))

        ps = PowerShell(pool)
        ps.add_script("throw 'stop here'")
        ps.invoke()
        out("throw_state", ps.state)
        out("throw_had_errors", ps.had_errors)

        ps = PowerShell(pool)
        ps.add_script("$kept = 'session'; 1")
        ps.invoke()
        ps = PowerShell(pool)
        ps.add_script("$kept")
        out("session_state", ps.invoke())

        pool.exchange_keys()
        out("session_key", pool._serializer.cipher is not None)
        pool.max_runspaces = 3
        out("max_runspaces", pool.max_runspaces)
        out("available", pool.get_available_runspaces())
        meta = pool.get_command_metadata("Get-*")
        out("metadata", sorted(m.name for m in meta))

        ps = PowerShell(pool)
        ps.add_script("'before'; Start-Sleep -Seconds 30; 'after'")
        ps.begin_invoke()
        time.sleep(0.3)
        t0 = time.time()
        ps.stop()
        out("stop_seconds", round(time.time() - t0, 1))
        ps = PowerShell(pool)
        ps.add_script("'still usable'")
        out("after_stop", ps.invoke())


def shells_and_commands(conn, shell_id):
    """Raw enumeration: the shell's State and its commands' states."""
    from pypsrp.wsman import NAMESPACES, SelectorSet

    wsen, wsmn = NAMESPACES["wsen"], NAMESPACES["wsman"]
    msg = ET.Element("{%s}Enumerate" % wsen)
    ET.SubElement(msg, "{%s}OptimizeEnumeration" % wsmn)
    ET.SubElement(msg, "{%s}MaxElements" % wsmn).text = "32000"
    resp = conn.enumerate(RSP, msg)
    state = None
    for shell in resp.findall("wsen:EnumerateResponse/wsman:Items/rsp:Shell", NAMESPACES):
        if shell.find("rsp:ShellId", NAMESPACES).text.upper() == shell_id.upper():
            state = shell.find("rsp:State", NAMESPACES).text
    msg = ET.Element("{%s}Enumerate" % wsen)
    ET.SubElement(msg, "{%s}OptimizeEnumeration" % wsmn)
    ET.SubElement(msg, "{%s}MaxElements" % wsmn).text = "32000"
    f = ET.SubElement(msg, "{%s}Filter" % wsmn, Dialect="http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter")
    sel = SelectorSet()
    sel.add_option("ShellId", shell_id)
    f.append(sel.pack())
    resp = conn.enumerate(RSP + "/Command", msg)
    commands = [
        c.find("rsp:CommandState", NAMESPACES).text.rsplit("/", 1)[-1]
        for c in resp.findall("wsen:EnumerateResponse/wsman:Items/rsp:Command", NAMESPACES)
    ]
    return state, commands


def wait_for_command_state(conn, shell_id, wanted, seconds):
    deadline = time.time() + seconds
    while True:
        state, commands = shells_and_commands(conn, shell_id)
        if commands == [wanted] or time.time() > deadline:
            return state, commands
        time.sleep(0.05)


def disconnect_with_mode(pool, mode):
    """RunspacePool.disconnect() plus an rsp:BufferMode, which pypsrp does not expose."""
    from pypsrp.powershell import PSInvocationState, RunspacePoolState
    from pypsrp.wsman import SelectorSet

    d = ET.Element("{%s}Disconnect" % RSP)
    ET.SubElement(d, "{%s}BufferMode" % RSP).text = mode
    sel = SelectorSet()
    sel.add_option("ShellId", pool.shell.id)
    pool.connection.disconnect(pool.shell.resource_uri, d, selector_set=sel)
    pool.state = RunspacePoolState.DISCONNECTED
    for p in pool.pipelines.values():
        p.state = PSInvocationState.DISCONNECTED


def reconnect_elsewhere(url, user, password, pool_id):
    """A second client: get_runspace_pools, connect, create_disconnected_power_shells."""
    from pypsrp.powershell import RunspacePool

    conn = wsman(url, user, password)
    pools = RunspacePool.get_runspace_pools(conn)
    mine = [p for p in pools if p.id.upper() == pool_id.upper()]
    out("found_pools", len(mine))
    pool = mine[0]
    out("listed_state", pool.state)
    out("listed_pipelines", len(pool.pipelines))
    pool.connect()
    out("connected_state", pool.state)
    shells = pool.create_disconnected_power_shells()
    out("disconnected_shells", len(shells))
    return conn, pool, shells


def disconnect_connect(url, user, password):
    from pypsrp.powershell import PowerShell, RunspacePool

    conn1 = wsman(url, user, password)
    pool1 = RunspacePool(conn1)
    pool1.open()
    ps = PowerShell(pool1)
    ps.add_script(
        "$marker = 'kept across clients'\n"
        "$i = 0; while ($i -lt 20) { $i++; \"tick $i\"; Start-Sleep -Milliseconds 50 }"
    )
    ps.begin_invoke()
    pool1.disconnect()
    t_disconnect = time.time()
    state, commands = shells_and_commands(wsman(url, user, password), pool1.id)
    out("state_after_disconnect", state)
    out("commands_after_disconnect", commands)
    # The script keeps writing while nobody is connected.
    state, commands = wait_for_command_state(wsman(url, user, password), pool1.id, "Done", 5)
    out("commands_later", commands)
    out("finished_while_disconnected", time.time() - t_disconnect > 0.5)

    conn2, pool2, shells = reconnect_elsewhere(url, user, password, pool1.id)
    output = shells[0].connect()
    out("received", output)
    out("received_state", shells[0].state)
    ps = PowerShell(pool2)
    ps.add_script("$marker")
    out("marker", ps.invoke())
    state, _ = shells_and_commands(conn2, pool1.id)
    out("state_after_connect", state)
    # The first client's view: the shell is connected elsewhere, so its Receive faults.
    try:
        pool1.connect()
        out("first_client_reconnect", "allowed")
    except Exception as e:  # noqa: BLE001 - any WSMan fault is the expected outcome
        out("first_client_reconnect", type(e).__name__)
    pool2.close()


def reconnect_same_client(url, user, password):
    """RunspacePool.disconnect() then connect() on the same object (WSMan Reconnect by the same
    SessionId), then PowerShell.connect() for the pipeline that ran meanwhile."""
    from pypsrp.powershell import PowerShell, RunspacePool

    pool = RunspacePool(wsman(url, user, password))
    pool.open()
    ps = PowerShell(pool)
    ps.add_script("$n = 0; while ($n -lt 10) { $n++; $n; Start-Sleep -Milliseconds 40 }")
    ps.begin_invoke()
    pool.disconnect()
    out("pool_state_disconnected", pool.state)
    time.sleep(0.6)
    pool.connect()
    out("pool_state_reconnected", pool.state)
    out("received", ps.connect())
    out("received_state", ps.state)
    ps = PowerShell(pool)
    ps.add_script("$n * 100")
    out("session_state", ps.invoke())
    pool.close()


def block_mode(url, user, password):
    from pypsrp.powershell import PowerShell, RunspacePool

    conn1 = wsman(url, user, password)
    pool1 = RunspacePool(conn1)
    pool1.open()
    ps = PowerShell(pool1)
    ps.add_script("$i = 0; while ($i -lt 300) { $i++; [PSCustomObject]@{ n = $i; pad = 'p' * 300 } }")
    ps.begin_invoke()
    pool1.disconnect()  # Block, the configuration's default
    time.sleep(1.0)
    # 300 objects of ~1 KB need far more than the 8 KB buffer: the script is paused.
    _, commands = shells_and_commands(wsman(url, user, password), pool1.id)
    out("commands_while_full", commands)
    conn2, pool2, shells = reconnect_elsewhere(url, user, password, pool1.id)
    output = shells[0].connect()
    numbers = [props(o).get("n") for o in output]
    out("count", len(numbers))
    out("in_order_without_loss", numbers == list(range(1, 301)))
    pool2.close()


def drop_mode(url, user, password):
    from pypsrp.powershell import PowerShell, RunspacePool

    conn1 = wsman(url, user, password)
    pool1 = RunspacePool(conn1)
    pool1.open()
    ps = PowerShell(pool1)
    ps.add_script("Start-Sleep -Milliseconds 200; $i = 0; while ($i -lt 300) { $i++; [PSCustomObject]@{ n = $i; pad = 'p' * 300 } }")
    ps.begin_invoke()
    disconnect_with_mode(pool1, "Drop")
    _, commands = wait_for_command_state(wsman(url, user, password), pool1.id, "Done", 5)
    out("commands_later", commands)
    _, pool2, shells = reconnect_elsewhere(url, user, password, pool1.id)
    output = shells[0].connect()
    numbers = [props(o).get("n") for o in output]
    out("count", len(numbers))
    out("last", numbers[-1] if numbers else None)
    out("first", numbers[0] if numbers else None)
    out("contiguous_tail", bool(numbers) and numbers == list(range(numbers[0], 301)))
    out("state", shells[0].state)
    pool2.close()


def pywinrm_run_ps(url, user, password):
    import winrm

    s = winrm.Session(url, auth=(user, password), transport="ntlm", message_encryption="always")
    r = s.run_ps("$a = 20; $a + 22; 'second line'")
    out("rc", r.status_code)
    out("stdout", r.std_out.decode("utf-8"))
    out("stderr", r.std_err.decode("utf-8"))
    r = s.run_ps("Write-Error 'from run_ps'; 'still here'")
    out("err_rc", r.status_code)
    out("err_stdout", r.std_out.decode("utf-8"))
    out("err_stderr", r.std_err.decode("utf-8"))
    # Output, then an error as the last statement: exit code 1 ($? of the last statement, as
    # powershell.exe -EncodedCommand on Windows) and `#< CLIXML` stderr that run_ps decodes.
    r = s.run_ps("'partial output'; Write-Error 'from run_ps'")
    out("last_rc", r.status_code)
    out("last_stdout", r.std_out.decode("utf-8"))
    out("last_stderr", r.std_err.decode("utf-8"))
    raw = s.run_cmd("powershell -encodedcommand %s" % base64.b64encode(
        "'partial output'; Write-Error 'from run_ps'".encode("utf_16_le")).decode("ascii"))
    out("last_raw_stderr_head", raw.std_err.decode("utf-8")[:60])


SCENARIOS = {
    "execute_ps": execute_ps,
    "pool_streams": pool_streams,
    "plaintext_basic": plaintext_basic,
    "disconnect_connect": disconnect_connect,
    "block_mode": block_mode,
    "reconnect_same_client": reconnect_same_client,
    "drop_mode": drop_mode,
    "pywinrm_run_ps": pywinrm_run_ps,
}


def main():
    scenario, url, user = sys.argv[1:4]
    password = os.environ["PSRM_TEST_PASSWORD"]
    try:
        SCENARIOS[scenario](url, user, password)
    except Exception as e:  # noqa: BLE001 - reported to the Rust test
        traceback.print_exc(file=sys.stderr)
        sys.stdout.write("ERROR %s: %s\n" % (type(e).__name__, str(e).replace("\n", " ")))
        sys.exit(1)
    sys.stdout.write("DONE\n")


if __name__ == "__main__":
    main()
