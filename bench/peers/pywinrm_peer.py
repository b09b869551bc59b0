"""pywinrm peer of the psrm end-to-end benchmark (scripts/bench, tests/benches/e2e.rs).

Usage: pywinrm_peer.py <workload> <port> <user> <n>   (password in $PSRM_BENCH_PASSWORD)
Workloads:
  winrs        Session.run_cmd("echo", ["hello"]) n times (pywinrm opens and deletes a shell
               per run_cmd)
  winrs-shell  Protocol: one shell, n run_command + get_command_output + cleanup_command
Prints one JSON line: {"peer","workload","n","seconds","bytes"} or {"peer","workload","error"}.
"""

import json
import os
import sys
import time


def run(workload, port, user, password, n):
    url = "http://127.0.0.1:%d/wsman" % port
    if workload == "winrs":
        import winrm

        s = winrm.Session(url, auth=(user, password), transport="basic",
                          message_encryption="auto")
        t = time.perf_counter()
        for _ in range(n):
            r = s.run_cmd("echo", ["hello"])
            if b"hello" not in r.std_out or r.status_code != 0:
                raise RuntimeError("echo failed: rc %s" % r.status_code)
        return time.perf_counter() - t, 0
    if workload == "winrs-shell":
        from winrm.protocol import Protocol

        p = Protocol(endpoint=url, transport="basic", username=user, password=password,
                     message_encryption="auto")
        shell = p.open_shell()
        t = time.perf_counter()
        for _ in range(n):
            cid = p.run_command(shell, "echo", ["hello"])
            out, _err, rc = p.get_command_output(shell, cid)
            p.cleanup_command(shell, cid)
            if b"hello" not in out or rc != 0:
                raise RuntimeError("echo failed: rc %s" % rc)
        s = time.perf_counter() - t
        p.close_shell(shell)
        return s, 0
    raise RuntimeError("unknown workload " + workload)


def main():
    workload, port, user, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    password = os.environ.get("PSRM_BENCH_PASSWORD", "")
    try:
        seconds, nbytes = run(workload, port, user, password, n)
        print(json.dumps({"peer": "pywinrm", "workload": workload, "n": n,
                          "seconds": seconds, "bytes": nbytes}))
    except Exception as e:  # report any failure as data, the harness prints it
        print(json.dumps({"peer": "pywinrm", "workload": workload,
                          "error": "%s: %s" % (type(e).__name__, e)}))


if __name__ == "__main__":
    main()
