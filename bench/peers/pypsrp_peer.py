"""pypsrp peer of the psrm end-to-end benchmark (scripts/bench, tests/benches/e2e.rs).

Usage: pypsrp_peer.py <workload> <port> <user> <n>   (password in $PSRM_BENCH_PASSWORD)
Workloads:
  tiny      RunspacePool + PowerShell, `Write-Output 1` n times in one pool
  bulk      one pipeline producing n strings of 1 KiB
  churn     open + close n RunspacePools
  winrs     Client.execute_cmd("echo hello") n times (a WinRS shell per command, as pypsrp does)
  reconnect a pipeline producing n KiB, disconnect, reconnect from a new connection, receive
Prints one JSON line: {"peer","workload","n","seconds","bytes"} or {"peer","workload","error"}.
Only the workload itself is timed (not imports, not the first pool's open unless it is the
workload).
"""

import json
import os
import sys
import time


def wsman(port, user, password):
    from pypsrp.wsman import WSMan

    return WSMan(
        "127.0.0.1",
        port=port,
        username=user,
        password=password,
        ssl=False,
        auth="basic",
        encryption="never",
        cert_validation=False,
    )


def bulk_script(n):
    return "$s = 'x' * 1024; 1..%d | ForEach-Object { $s }" % n


def run(workload, port, user, password, n):
    from pypsrp.powershell import PowerShell, RunspacePool

    if workload == "tiny":
        with wsman(port, user, password) as w, RunspacePool(w) as pool:
            t = time.perf_counter()
            for _ in range(n):
                ps = PowerShell(pool)
                ps.add_script("Write-Output 1")
                out = ps.invoke()
                if len(out) != 1:
                    raise RuntimeError("expected one object, got %d" % len(out))
            return time.perf_counter() - t, 0
    if workload == "bulk":
        with wsman(port, user, password) as w, RunspacePool(w) as pool:
            ps = PowerShell(pool)
            ps.add_script(bulk_script(n))
            t = time.perf_counter()
            out = ps.invoke()
            s = time.perf_counter() - t
            return s, sum(len(o) for o in out if isinstance(o, str))
    if workload == "churn":
        with wsman(port, user, password) as w:
            t = time.perf_counter()
            for _ in range(n):
                pool = RunspacePool(w)
                pool.open()
                pool.close()
            return time.perf_counter() - t, 0
    if workload == "winrs":
        from pypsrp.client import Client

        c = Client(
            "127.0.0.1",
            port=port,
            username=user,
            password=password,
            ssl=False,
            auth="basic",
            encryption="never",
            cert_validation=False,
        )
        t = time.perf_counter()
        for _ in range(n):
            stdout, _stderr, rc = c.execute_cmd("echo hello")
            if "hello" not in stdout or rc != 0:
                raise RuntimeError("echo failed: rc %s" % rc)
        return time.perf_counter() - t, 0
    if workload == "reconnect":
        w = wsman(port, user, password)
        pool = RunspacePool(w)
        pool.open()
        ps = PowerShell(pool)
        ps.add_script(bulk_script(n))
        ps.begin_invoke()
        t = time.perf_counter()
        pool.disconnect()
        t_disc = time.perf_counter() - t
        time.sleep(float(os.environ.get("PSRM_BENCH_SETTLE", "1")))
        w2 = wsman(port, user, password)
        t = time.perf_counter()
        pools = RunspacePool.get_runspace_pools(w2)
        mine = [p for p in pools if p.id == pool.id]
        if not mine:
            raise RuntimeError("disconnected pool not listed")
        p2 = mine[0]
        p2.connect()
        pss = p2.create_disconnected_power_shells()
        total = 0
        for d in pss:
            out = d.connect()
            total += sum(len(o) for o in out if isinstance(o, str))
        s = time.perf_counter() - t + t_disc
        p2.close()
        return s, total
    raise RuntimeError("unknown workload " + workload)


def main():
    workload, port, user, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    password = os.environ.get("PSRM_BENCH_PASSWORD", "")
    try:
        seconds, nbytes = run(workload, port, user, password, n)
        print(json.dumps({"peer": "pypsrp", "workload": workload, "n": n,
                          "seconds": seconds, "bytes": nbytes}))
    except Exception as e:  # report any failure as data, the harness prints it
        print(json.dumps({"peer": "pypsrp", "workload": workload,
                          "error": "%s: %s" % (type(e).__name__, e)}))


if __name__ == "__main__":
    main()
