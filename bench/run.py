#!/usr/bin/env python3
"""The benchmark suite: armd against the floor (posix_spawn + pidfd, bench/floor.cpp) and
against supervisord, s6 and runit, in one run, plus the embedding spawn cost and the pure
core's events per second.

    bench/run.py [--build build] [--sizes 100,1000,10000] [--peer-max 1000] [--repeats 3]
                 [--kills 30] [--idle 30] [--idle-size 1000] [--out DIR] [--smoke]

start-all and stop-all are repeated (--repeats) and reported as median, min and max; restart
latency is sampled over --kills kills in the first repeat; idle cost over --idle seconds at
--idle-size services; memory in the first repeat. Every figure also as a ratio to the floor
of the same run. Writes results.json, table.md and performance.png to --out. Peers run up to
--peer-max services; a peer that is not installed is skipped, with a note.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procfs import ExitWatch, LogTail, cpu_and_switches, memory_kib, wait_until  # noqa: E402
from report import plot, table  # noqa: E402
from systems import PEERS, Armd, Floor  # noqa: E402


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values)}


def latency(values_ns):
    values = sorted(v / 1e6 for v in values_ns)
    p99 = values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]
    return {"median_ms": statistics.median(values), "p99_ms": p99, "min_ms": values[0],
            "max_ms": values[-1], "n": len(values)}


def kill_and_time(tail, latest, n, kills):
    """SIGKILLs services up for more than 2 s, one at a time; the time until each replacement
    stamps its line."""
    samples = []
    for k in range(kills):
        name = f"s{(k * 7) % n}"
        count = len(tail.poll())
        killed_at = time.monotonic_ns()
        os.kill(latest[name], signal.SIGKILL)
        line = wait_until(lambda: (lambda lines: lines[count] if len(lines) > count else None)(
            tail.poll()), timeout=60, step=0.0002)
        samples.append(line[2] - killed_at)
        latest[line[0]] = line[1]
        time.sleep(0.01)
    return samples


def requests_per_second(build, socket_path, depth):
    return float(subprocess.run([f"{build}/bench/status_rtt", socket_path, "s0", "3", str(depth)],
                                check=True, capture_output=True, text=True).stdout)


def control_plane(build, system):
    result = {"status_round_trips_per_s": requests_per_second(build, system.socket, 1),
              "status_pipelined_per_s": requests_per_second(build, system.socket, 64)}
    began = time.monotonic()
    subprocess.run([f"{build}/armd/armctl", "--socket", system.socket, "--json", "status"],
                   check=True, capture_output=True)
    result["status_json_ms"] = (time.monotonic() - began) * 1000
    return result


def control_plane_floor(build, workdir):
    """The same clients against a server that only echoes lines back: the kernel's part."""
    result = {}
    for key, depth in (("status_round_trips_per_s", 1), ("status_pipelined_per_s", 64)):
        socket_path = os.path.join(workdir, f"echo-{depth}.sock")
        server = subprocess.Popen([f"{build}/bench/echo_floor", socket_path])
        try:
            wait_until(lambda: os.path.exists(socket_path), timeout=10)
            result[key] = requests_per_second(build, socket_path, depth)
        finally:
            server.kill()
            server.wait()
    return result


def run_supervisor(make, workdir, n, repeats, kills, idle, extra=None):
    """One supervisor at N services: start-all and stop-all `repeats` times; in the first run
    also restart latency, idle cost, memory and `extra` (the control plane, for armd)."""
    starts, stops, result = [], [], {}
    for repeat in range(repeats):
        log = os.path.join(workdir, f"markers-{n}-{repeat}-{time.monotonic_ns()}.log")
        system = make(log)
        tail = LogTail(log)
        began = time.monotonic_ns()
        system.launch()
        try:
            lines = wait_until(lambda: (lambda l: l if len(l) >= n else None)(tail.poll()),
                               timeout=600, step=0.001)
            starts.append((max(ns for _, _, ns in lines) - began) / 1e6)
            latest = {name: pid for name, pid, _ in lines}
            if repeat == 0:
                if kills:
                    time.sleep(2.2)  # every service up for more than 2 s
                    result["restart"] = latency(kill_and_time(tail, latest, n, kills))
                if idle:
                    time.sleep(0.5)
                    pids = system.supervisor_pids()
                    cpu_before, switches_before = cpu_and_switches(pids)
                    time.sleep(idle)
                    cpu_after, switches_after = cpu_and_switches(pids)
                    result["idle"] = {"seconds": idle, "cpu_s": cpu_after - cpu_before,
                                      "context_switches": switches_after - switches_before}
                rss, pss = memory_kib(system.supervisor_pids())
                result["memory_kib"] = {"rss": rss, "pss": pss,
                                        "processes": len(system.supervisor_pids())}
                if extra:
                    result.update(extra(system))
            watch = ExitWatch(latest.values())
            stop_began = time.monotonic_ns()
            system.stop()
            stops.append((watch.wait_all() - stop_began) / 1e6)
            system.reap()
        finally:
            system.kill()
    result["start_all_ms"] = spread(starts)
    result["stop_all_ms"] = spread(stops)
    return result


def run_embedding(build, count=40):
    result = {}
    for mib in (10, 4096):
        raw = json.loads(subprocess.run([f"{build}/bench/embed_spawn", str(mib), str(count)],
                                        check=True, capture_output=True, text=True).stdout)
        result[str(mib)] = {kind: latency(raw[f"{kind}_ns"])
                            for kind in ("libarm", "posix_spawn", "fork")}
    return result


def run_core(build, smoke):
    program = f"{build}/bench/core_events"
    if not os.path.exists(program):
        return {"note": "not built: Debian's libbenchmark-dev is missing"}
    args = [program, "--benchmark_format=json"]
    if smoke:
        args += ["--benchmark_min_time=0.01"]
    else:
        args += ["--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
    raw = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    result = {}
    for bench in raw["benchmarks"]:
        if bench.get("aggregate_name", "median") != "median":
            continue
        name = bench.get("run_name", bench["name"])
        result[name] = {"items_per_second": bench.get("items_per_second"),
                        "real_time": bench["real_time"], "time_unit": bench["time_unit"]}
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--peer-max", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--idle", type=float, default=30)
    parser.add_argument("--idle-size", type=int, default=1000)
    parser.add_argument("--out", default="build/bench-results")
    parser.add_argument("--smoke", action="store_true",
                        help="N=100, one repeat, few kills, 1 s idle: checks the suite works")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)  # armd resolves relative paths against its config
    if args.smoke:
        args.sizes, args.repeats, args.kills, args.idle, args.idle_size = "100", 1, 3, 1, 100
    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(args.out, exist_ok=True)
    began = time.monotonic()
    peers = [peer for peer in PEERS if peer.available()]
    results = {"machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
               "command": " ".join(sys.argv), "repeats": args.repeats, "kills": args.kills,
               "notes": [f"{peer.label}: not installed, skipped" for peer in PEERS
                         if peer not in peers],
               "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="armd-bench-") as workdir:
        echo = control_plane_floor(args.build, workdir)
        for n in sizes:
            idle = args.idle if n == args.idle_size else 0
            row = {}
            print(f"N={n}: floor", file=sys.stderr)
            row["floor"] = run_supervisor(
                lambda log: Floor(args.build, workdir, n, log), workdir, n, args.repeats,
                args.kills, 0)
            row["floor"].update(echo)
            print(f"N={n}: armd", file=sys.stderr)
            row["armd"] = run_supervisor(
                lambda log: Armd(args.build, workdir, n, log), workdir, n, args.repeats,
                args.kills, idle, extra=lambda system: control_plane(args.build, system))
            # The same with process groups: what cgroup containment costs, in the same run.
            print(f"N={n}: armd, process groups", file=sys.stderr)
            row["armd_process_group"] = run_supervisor(
                lambda log: Armd(args.build, workdir, n, log, cgroup="off"), workdir, n,
                args.repeats, args.kills, 0)
            print(f"N={n}: armd, default 100 ms backoff (restart latency only)", file=sys.stderr)
            row["armd_default"] = run_supervisor(
                lambda log: Armd(args.build, workdir, n, log, backoff="100ms"), workdir, n, 1,
                args.kills, 0)
            if n <= args.peer_max:
                for peer in peers:
                    print(f"N={n}: {peer.label}", file=sys.stderr)
                    row[peer.label] = run_supervisor(
                        lambda log, peer=peer: peer(args.build, workdir, n, log), workdir, n,
                        args.repeats, args.kills, idle)
            results["sizes"][str(n)] = row
        print("embedding", file=sys.stderr)
        results["embedding"] = run_embedding(args.build, 10 if args.smoke else 40)
        print("core", file=sys.stderr)
        results["core"] = run_core(args.build, args.smoke)
    results["seconds"] = time.monotonic() - began
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    text = table(results)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(text)
    plot(results, os.path.join(args.out, "performance.png"))
    print(text)


if __name__ == "__main__":
    main()
