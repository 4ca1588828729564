#!/usr/bin/env python3
"""Benchmarks armd against the floor (posix_spawn + pidfd, bench/floor.cpp), in one run.

    bench/run.py [--build build] [--sizes 100,1000] [--kills 30] [--idle 30] [--out DIR]
                 [--smoke]

Every figure is also given as a ratio to the floor measured in the same run. Writes
results.json, a Markdown table (table.md) and a plot (performance.png) to --out.
Peers (supervisord, s6, runit) are not measured yet: see docs/performance.md.
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

HERE = os.path.dirname(os.path.abspath(__file__))


def read_log(path):
    lines = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    lines.append((parts[0], int(parts[1]), int(parts[2])))
    except FileNotFoundError:
        pass
    return lines


def wait_until(predicate, timeout=300, step=0.002):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("benchmark step timed out")


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    switches = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if "ctxt_switches" in line:
                switches += int(line.split()[1])
    return cpu, switches


def memory_kib(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def summary(values_ns):
    values = sorted(v / 1e6 for v in values_ns)  # milliseconds
    p99 = values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]
    spread = statistics.pstdev(values) if len(values) > 1 else 0.0
    return {"median_ms": statistics.median(values), "p99_ms": p99, "stdev_ms": spread,
            "n": len(values)}


def run_floor(build, workdir, n, kills):
    output = subprocess.run([f"{build}/bench/floor", f"{build}/bench/marker", workdir, str(n),
                             str(kills)], check=True, capture_output=True, text=True).stdout
    raw = json.loads(output)
    return {"start_all_ms": raw["start_all_ns"] / 1e6, "stop_all_ms": raw["stop_all_ns"] / 1e6,
            "restart": summary(raw["restart_ns"])}


def run_armd(build, workdir, n, kills, idle_seconds, backoff):
    log = os.path.join(workdir, f"armd-{n}-{backoff}.log")
    config = os.path.join(workdir, f"armd-{n}-{backoff}.toml")
    socket_path = os.path.join(workdir, f"armd-{n}-{backoff}.sock")
    marker = f"{build}/bench/marker"
    with open(config, "w") as f:
        names = ", ".join(f'"s{i}"' for i in range(n))
        f.write(f"[arm]\ndefault_services = [{names}]\n")
        for i in range(n):
            f.write(f'[services.s{i}]\nbinary = "{marker}"\noptions = ["s{i}", "{log}"]\n'
                    f'backoff_initial = "{backoff}"\n')
    armctl = f"{build}/armd/armctl"
    began = time.monotonic_ns()
    armd = subprocess.Popen([f"{build}/armd/armd", "--config", config, "--socket", socket_path],
                            stderr=open(os.path.join(workdir, "armd.stderr"), "a"))
    try:
        lines = wait_until(lambda: (lambda l: l if len(l) >= n else None)(read_log(log)))
        start_all = (max(ns for _, _, ns in lines) - began) / 1e6

        time.sleep(2.2)  # every service up for more than 2 s
        latest = {name: pid for name, pid, _ in read_log(log)}
        restarts = []
        for k in range(kills):
            name = f"s{(k * 7) % n}"
            count = len(read_log(log))
            killed_at = time.monotonic_ns()
            os.kill(latest[name], signal.SIGKILL)
            new = wait_until(lambda: (lambda l: l[count:] if len(l) > count else None)(
                read_log(log)), step=0.0002)
            restarts.append(new[0][2] - killed_at)
            latest[new[0][0]] = new[0][1]

        time.sleep(0.5)
        cpu_before, switches_before = proc_stat(armd.pid)
        time.sleep(idle_seconds)
        cpu_after, switches_after = proc_stat(armd.pid)
        rss, pss = memory_kib(armd.pid)

        rtt = float(subprocess.run([f"{build}/bench/status_rtt", socket_path, "s0", "3"],
                                   check=True, capture_output=True, text=True).stdout)
        t = time.monotonic()
        subprocess.run([armctl, "--socket", socket_path, "--json", "status"], check=True,
                       capture_output=True)
        status_json_ms = (time.monotonic() - t) * 1000

        pids = list(latest.values())
        # `armctl shutdown` returns once armd has reaped every service and closed the socket:
        # that moment is stop-all (armctl's own start-up included). Polling /proc from here
        # would cost more than what is measured.
        stop_began = time.monotonic_ns()
        subprocess.run([armctl, "--socket", socket_path, "shutdown"], check=True,
                       capture_output=True)
        stop_all = (time.monotonic_ns() - stop_began) / 1e6
        if any(alive(pid) for pid in pids):
            raise RuntimeError("a service outlived armd's shutdown")
        armd.wait(30)
    finally:
        if armd.poll() is None:
            armd.kill()
            armd.wait()
    return {"start_all_ms": start_all, "stop_all_ms": stop_all, "restart": summary(restarts),
            "idle_cpu_s": cpu_after - cpu_before,
            "idle_context_switches": switches_after - switches_before,
            "idle_seconds": idle_seconds, "rss_kib": rss, "pss_kib": pss,
            "status_round_trips_per_s": rtt, "status_json_ms": status_json_ms}


def table(results):
    rows = ["| N | measure | floor | armd (backoff 0) | ratio | armd (default 100 ms backoff) |",
            "|---|---|---|---|---|---|"]
    for n, r in results["sizes"].items():
        floor, fast, default = r["floor"], r["armd_fast"], r["armd_default"]
        rows.append(f"| {n} | start-all (ms) | {floor['start_all_ms']:.1f} | "
                    f"{fast['start_all_ms']:.1f} | {fast['start_all_ms'] / floor['start_all_ms']:.2f}× | "
                    f"{default['start_all_ms']:.1f} |")
        rows.append(f"| {n} | restart after SIGKILL, median (ms) | {floor['restart']['median_ms']:.2f} | "
                    f"{fast['restart']['median_ms']:.2f} | "
                    f"{fast['restart']['median_ms'] / floor['restart']['median_ms']:.2f}× | "
                    f"{default['restart']['median_ms']:.2f} |")
        rows.append(f"| {n} | restart p99 (ms) | {floor['restart']['p99_ms']:.2f} | "
                    f"{fast['restart']['p99_ms']:.2f} | "
                    f"{fast['restart']['p99_ms'] / floor['restart']['p99_ms']:.2f}× | "
                    f"{default['restart']['p99_ms']:.2f} |")
        rows.append(f"| {n} | stop-all (ms) | {floor['stop_all_ms']:.1f} | {fast['stop_all_ms']:.1f} | "
                    f"{fast['stop_all_ms'] / floor['stop_all_ms']:.2f}× | {default['stop_all_ms']:.1f} |")
        rows.append(f"| {n} | idle {fast['idle_seconds']} s: CPU-s / context switches | – | "
                    f"{fast['idle_cpu_s']:.2f} / {fast['idle_context_switches']} | – | "
                    f"{default['idle_cpu_s']:.2f} / {default['idle_context_switches']} |")
        rows.append(f"| {n} | armd RSS / PSS (KiB) | – | {fast['rss_kib']} / {fast['pss_kib']} | – | "
                    f"{default['rss_kib']} / {default['pss_kib']} |")
        rows.append(f"| {n} | status round trips/s, one connection | – | "
                    f"{fast['status_round_trips_per_s']:.0f} | – | "
                    f"{default['status_round_trips_per_s']:.0f} |")
        rows.append(f"| {n} | `armctl status --json` (ms) | – | {fast['status_json_ms']:.1f} | – | "
                    f"{default['status_json_ms']:.1f} |")
    sizes = list(results["sizes"])
    if len(sizes) >= 2:
        small, large = results["sizes"][sizes[0]], results["sizes"][sizes[-1]]
        per_service = ((large["armd_fast"]["rss_kib"] - small["armd_fast"]["rss_kib"]) * 1024 /
                       (int(sizes[-1]) - int(sizes[0])))
        rows.append("")
        rows.append(f"armd bytes per additional service (RSS, N={sizes[0]} → {sizes[-1]}): "
                    f"{per_service:.0f}")
    return "\n".join(rows) + "\n"


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
        return
    measures = [("start-all", "start_all_ms"), ("stop-all", "stop_all_ms")]
    sizes = list(results["sizes"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for axis, (title, key) in zip(axes[:2], measures):
        for offset, (label, who) in enumerate([("floor", "floor"), ("armd", "armd_fast")]):
            values = [results["sizes"][n][who][key] for n in sizes]
            axis.bar([i + offset * 0.38 for i in range(len(sizes))], values, 0.38, label=label)
        axis.set_xticks([i + 0.19 for i in range(len(sizes))], [f"N={n}" for n in sizes])
        axis.set_title(f"{title} (ms, lower is better)")
        axis.legend()
    axis = axes[2]
    for offset, (label, who) in enumerate([("floor", "floor"), ("armd", "armd_fast")]):
        values = [results["sizes"][n][who]["restart"]["median_ms"] for n in sizes]
        axis.bar([i + offset * 0.38 for i in range(len(sizes))], values, 0.38, label=label)
    axis.set_xticks([i + 0.19 for i in range(len(sizes))], [f"N={n}" for n in sizes])
    axis.set_title("restart after SIGKILL, median (ms)")
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--idle", type=float, default=30)
    parser.add_argument("--out", default="build/bench-results")
    parser.add_argument("--smoke", action="store_true",
                        help="N=100, few kills, 1 s idle: checks the suite works, not timings")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)  # armd resolves relative paths against its config
    if args.smoke:
        args.sizes, args.kills, args.idle = "100", 5, 1
    os.makedirs(args.out, exist_ok=True)
    results = {"machine": os.uname().nodename, "cpus": os.cpu_count(), "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="armd-bench-") as workdir:
        for n in [int(s) for s in args.sizes.split(",")]:
            print(f"N={n}: floor", file=sys.stderr)
            floor = run_floor(args.build, workdir, n, args.kills)
            print(f"N={n}: armd, backoff 0", file=sys.stderr)
            fast = run_armd(args.build, workdir, n, args.kills, args.idle, "0ms")
            print(f"N={n}: armd, default backoff", file=sys.stderr)
            default = run_armd(args.build, workdir, n, args.kills, args.idle, "100ms")
            results["sizes"][str(n)] = {"floor": floor, "armd_fast": fast, "armd_default": default}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    text = table(results)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(text)
    plot(results, os.path.join(args.out, "performance.png"))
    print(text)


if __name__ == "__main__":
    main()
