"""The pypsrp sample of the engine conformance table, driven by emulator/tests/interop_conformance.rs.

Usage: conformance_pypsrp.py <url> <user>   (the password comes from $PSRM_TEST_PASSWORD)
Reads a JSON document on stdin: {"cases": [script, ...], "sessions": [[script, ...], ...]}.
Each case runs in a fresh RunspacePool (as each table case gets a fresh runspace), followed by
`$LASTEXITCODE` in the same pool; each session runs its scripts in one pool. Prints one JSON
object per line (`{"case": i, ...}`, `{"session": i, ...}`, `{"extra": name, ...}`), then DONE;
an exception prints `ERROR <type>: <text>`. The Rust test holds every expectation.
"""

import json
import os
import sys
import traceback
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import pypsrp.serializer as serializer
from pypsrp.client import Client
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

# The CLIXML element of each top-level PIPELINE_OUTPUT object (I32, S, DT, Obj, ...), recorded
# as pypsrp deserializes it: pypsrp itself turns <DT> into a plain str, so the tag is the proof
# that a DateTime arrived as one.
TAGS = []
_deserialize = serializer.Serializer.deserialize


def _recording_deserialize(self, element, metadata=None, clear=True):
    if clear and metadata is None and isinstance(element, str):
        try:
            TAGS.append(ET.fromstring(element).tag.rsplit("}", 1)[-1])
        except ET.ParseError:
            TAGS.append("?")
    return _deserialize(self, element, metadata, clear)


serializer.Serializer.deserialize = _recording_deserialize


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def plain(v):
    """A value as JSON: scalars as they are, complex objects by their ToString."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return str(v)


def describe(v, tag=None):
    d = {"py": type(v).__name__, "value": plain(v)}
    if tag is not None:
        d["tag"] = tag
    if hasattr(v, "extended_properties"):
        d["types"] = list(getattr(v, "types", []) or [])
        props = {}
        for source in (v.adapted_properties or {}, v.extended_properties or {}):
            for k, x in source.items():
                props[k] = {"py": type(x).__name__, "value": plain(x)}
        d["props"] = props
    return d


def streams(ps):
    s = ps.streams
    info = []
    for i in s.information:
        tags = list(i.tags or [])
        info.append(("H:" if "PSHOST" in tags else "I:") + str(i.message_data))
    return {
        "errors": [
            {"reason": e.reason, "category": e.category, "fqid": e.fq_error, "message": str(e)} for e in s.error
        ],
        "records": ["W:" + w.message for w in s.warning]
        + ["V:" + v.message for v in s.verbose]
        + ["D:" + d.message for d in s.debug]
        + info
        + ["P:" + p.activity for p in s.progress],
    }


def invoke(pool, script, input=None):
    ps = PowerShell(pool)
    ps.add_script(script)
    del TAGS[:]
    output = ps.invoke(input=input)
    tags = list(TAGS)
    result = {
        "state": ps.state,
        "had_errors": ps.had_errors,
        "output": [describe(o, tags[i] if i < len(tags) else None) for i, o in enumerate(output)],
    }
    result.update(streams(ps))
    return result


def main():
    url, user = sys.argv[1:3]
    password = os.environ["PSRM_TEST_PASSWORD"]
    plan = json.load(sys.stdin)
    u = urlparse(url)
    conn = WSMan(u.hostname, port=u.port, username=user, password=password, ssl=False, cert_validation=False)
    for i, script in enumerate(plan["cases"]):
        with RunspacePool(conn) as pool:
            result = invoke(pool, script)
            after = invoke(pool, "$LASTEXITCODE")
            result["case"] = i
            result["lastexitcode"] = [o["value"] for o in after["output"]]
            emit(result)
    for i, scripts in enumerate(plan["sessions"]):
        with RunspacePool(conn) as pool:
            for script in scripts:
                result = invoke(pool, script)
            result["session"] = i
            emit(result)
    with RunspacePool(conn) as pool:
        # A script with named blocks gets PIPELINE_INPUT item by item in `process`.
        result = invoke(pool, "begin { 'b' } process { $_ * 2 } end { 'e' }", input=[1, 2, 3])
        result["extra"] = "process_input"
        emit(result)
        result = invoke(
            pool,
            "function Up { param([Parameter(ValueFromPipeline)][string]$s) process { $s.ToUpper() } }\n"
            "$input | Up",
            input=["a", "b"],
        )
        result["extra"] = "function_process_input"
        emit(result)
    # Client.execute_ps(environment=...) sends `New-Item -Path env: -Name K -Value V -Force |
    # Out-Null` statements before `Invoke-Expression -Command <script> | Out-String -Stream`.
    client = Client(u.hostname, port=u.port, username=user, password=password, ssl=False, cert_validation=False)
    output, s, had_errors = client.execute_ps(
        "\"$env:PSRM_ONE/$env:PSRM_TWO\"; Get-Date -Year 2001 -Month 2 -Day 3 -Format 'yyyy-MM-dd'",
        environment={"PSRM_ONE": "first", "PSRM_TWO": "second value"},
    )
    emit(
        {
            "extra": "execute_ps_environment",
            "output": output,
            "had_errors": had_errors,
            "errors": [str(e) for e in s.error],
        }
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - reported to the Rust test
        traceback.print_exc(file=sys.stderr)
        sys.stdout.write("ERROR %s: %s\n" % (type(e).__name__, str(e).replace("\n", " ")))
        sys.exit(1)
    sys.stdout.write("DONE\n")
