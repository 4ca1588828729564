#!/usr/bin/env python3
"""The control plane's fast path (issue 13): pipelined `status NAME` against the echo floor, the
same run, repeats alternating; one or more armd binaries (e.g. before and after a change).

    bench/control_plane.py [--build build] [--armd PATH ...] [--services 1000] [--repeats 3]
                           [--seconds 3] [--depth 64] [--smoke]

Each armd holds --services `sleep` services (stdout/stderr "null"), all started. A repeat runs
bench/status_rtt (--depth requests in flight on one connection, `status s0`) for --seconds
against bench/echo_floor (a server that only echoes lines), then against each armd in turn.
For armd, its CPU time (utime + stime, /proc) over the same seconds divided by the requests
answered: the figure the machine's load disturbs least. The target: armd >= 0.5x the floor.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procfs import cpu_and_switches, wait_until  # noqa: E402


def requests_per_second(build, socket_path, seconds, depth):
    return float(subprocess.run(
        [os.path.join(build, "bench", "status_rtt"), socket_path, "s0", str(seconds), str(depth)],
        check=True, capture_output=True, text=True).stdout)


def floor(build, workdir, seconds, depth):
    socket_path = os.path.join(workdir, f"echo-{time.monotonic_ns()}.sock")
    server = subprocess.Popen([os.path.join(build, "bench", "echo_floor"), socket_path])
    try:
        wait_until(lambda: os.path.exists(socket_path), timeout=10)
        return requests_per_second(build, socket_path, seconds, depth)
    finally:
        server.kill()
        server.wait()


class Armd:
    def __init__(self, binary, build, workdir, label, services):
        self.armctl = os.path.join(build, "armd", "armctl")
        self.socket = os.path.join(workdir, f"{label}.sock")
        config = os.path.join(workdir, f"{label}.toml")
        with open(config, "w") as f:
            f.write("".join(f'[services.s{i}]\nbinary = "/bin/sleep"\noptions = ["100000"]\n'
                            'stdout = "null"\nstderr = "null"\n' for i in range(services)))
        self.log = open(os.path.join(workdir, f"{label}.log"), "w")
        self.process = subprocess.Popen([binary, "--config", config, "--socket", self.socket],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: os.path.exists(self.socket), timeout=30)
        subprocess.run([self.armctl, "--socket", self.socket, "start", "--all"], check=True,
                       capture_output=True)

    def measure(self, build, seconds, depth):
        cpu_before, _ = cpu_and_switches([self.process.pid])
        began = time.monotonic()
        rate = requests_per_second(build, self.socket, seconds, depth)
        elapsed = time.monotonic() - began
        cpu_after, _ = cpu_and_switches([self.process.pid])
        return rate, (cpu_after - cpu_before) * 1e6 / max(rate * elapsed, 1)

    def stop(self):
        subprocess.run([self.armctl, "--socket", self.socket, "shutdown"], capture_output=True)
        self.process.wait(timeout=120)
        self.log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--armd", action="append", help="armd binaries (default: the build's)")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--smoke", action="store_true", help="checks it works, not timings")
    args = parser.parse_args()
    if args.smoke:
        args.services, args.repeats, args.seconds = 10, 1, 0.3
    build = os.path.abspath(args.build)
    binaries = args.armd or [os.path.join(build, "armd", "armd")]
    result = {"load_average_before": os.getloadavg(), "floor_per_s": [], "armd": {}}
    with tempfile.TemporaryDirectory(prefix="bench-control-") as workdir:
        armds = {binary: Armd(binary, build, workdir, f"armd{i}", args.services)
                 for i, binary in enumerate(binaries)}
        runs = {binary: [] for binary in binaries}
        try:
            for _ in range(args.repeats):
                result["floor_per_s"].append(round(floor(build, workdir, args.seconds,
                                                         args.depth)))
                for binary, armd in armds.items():
                    runs[binary].append(armd.measure(build, args.seconds, args.depth))
        finally:
            for armd in armds.values():
                armd.stop()
    for binary, measured in runs.items():
        rates = [rate for rate, _ in measured]
        result["armd"][binary] = {
            "per_s": [round(rate) for rate in rates],
            "ratio_to_floor": [round(rate / f, 3) for rate, f in zip(rates, result["floor_per_s"])],
            "cpu_us_per_request": [round(cpu, 2) for _, cpu in measured],
            "cpu_us_per_request_median": round(statistics.median(cpu for _, cpu in measured), 2),
        }
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
