#!/usr/bin/env python3
"""Live re-exec (issue 15, "Measure"): how long armd does not answer while it execs itself anew
with --services running services (and one crash-looping), and that it restarts none of them.

    bench/reexec.py [--build build] [--services 1000] [--repeats 5] [--smoke] [--json FILE]

armd runs --services sleepers (output captured, the default: two pipes each) and a service that
exits every 200 ms and is restarted after a 100 ms backoff. Once all run, each repeat:
- a client thread asks `status` of one service over a NEW connection again and again, and
  records when each answer arrived;
- `armctl reexec --json` is run; its reply's unavailable_us is armd's own figure: from the end
  of the new program's check (during which armd answers) until the new armd's reply (took_us is
  the whole request, the check included);
- the client's view: the longest gap between two consecutive answers around the re-exec (it
  includes the client's own round trip);
- every sleeper's pid after the re-exec is compared with before: any difference is a failure.
Figures are printed per repeat and as median and range. Exit status 1 if a re-exec failed or
restarted anything (the smoke run in `meson test --suite bench` checks that alone).
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procfs import wait_until  # noqa: E402


def request(path, line):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(path)
        reader = s.makefile("rb")
        reader.readline()  # hello banner
        s.sendall(line.encode() + b"\n")
        return json.loads(reader.readline())


def status(path):
    return {s["name"]: s for s in request(path, '{"id":1,"method":"status"}')["services"]}


class Asker(threading.Thread):
    """Asks `status` of one service over a new connection each time, as fast as it is answered."""

    def __init__(self, path, name):
        super().__init__(daemon=True)
        self.path, self.name = path, name
        self.answered = []
        self.stop = threading.Event()

    def run(self):
        line = json.dumps({"id": 1, "method": "status", "services": [self.name]})
        while not self.stop.is_set():
            try:
                request(self.path, line)
                self.answered.append(time.monotonic())
            except OSError:
                time.sleep(0.001)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.smoke:
        args.services, args.repeats = 50, 2
    armd_path = os.path.join(args.build, "armd", "armd")
    armctl = os.path.join(args.build, "armd", "armctl")

    with tempfile.TemporaryDirectory(prefix="armd-bench-reexec-") as scratch:
        socket_path = os.path.join(scratch, "armd.sock")
        config = os.path.join(scratch, "armd.toml")
        sleeper = os.path.join(scratch, "sleeper.sh")
        with open(sleeper, "w") as f:
            f.write("#!/bin/sh\nexec sleep 100000\n")
        os.chmod(sleeper, 0o755)
        with open(config, "w") as f:
            f.write(f'[services."s@"]\nbinary = "{sleeper}"\ninstances = {args.services}\n'
                    f'start = "boot"\n\n'
                    '[services.crasher]\nbinary = "sh"\noptions = ["-c", "sleep 0.2; exit 1"]\n'
                    'start = "boot"\nrestart = "always"\nmax_restarts = 100000\n'
                    'backoff_initial = "100ms"\nbackoff_max = "100ms"\n')
        log = open(os.path.join(scratch, "armd.log"), "w")
        armd = subprocess.Popen([armd_path, "--config", config, "--socket", socket_path],
                                stdout=log, stderr=subprocess.STDOUT)
        failures = []
        results = []
        seen = set()
        try:
            wait_until(lambda: os.path.exists(socket_path), timeout=60)
            names = [f"s@{i}" for i in range(1, args.services + 1)]
            wait_until(lambda: all(status(socket_path)[n]["state"] == "running" for n in names),
                       timeout=300, step=0.2)
            for repeat in range(args.repeats):
                before = {n: s["pid"] for n, s in status(socket_path).items() if n in names}
                asker = Asker(socket_path, names[0])
                asker.start()
                time.sleep(0.5)
                started = time.monotonic()
                done = subprocess.run([armctl, "--socket", socket_path, "--json", "reexec"],
                                      capture_output=True, text=True, timeout=120)
                time.sleep(0.5)
                asker.stop.set()
                asker.join()
                if done.returncode != 0:
                    failures.append(f"repeat {repeat + 1}: armctl reexec exited "
                                    f"{done.returncode}: {done.stderr.strip()}")
                    continue
                reply = json.loads(done.stdout)[0]
                after = {n: s["pid"] for n, s in status(socket_path).items() if n in names}
                changed = [n for n in names if after.get(n) != before[n]]
                if changed:
                    failures.append(f"repeat {repeat + 1}: {len(changed)} services have another "
                                    f"pid after the re-exec ({changed[:5]})")
                around = [t for t in asker.answered if t >= started - 0.2]
                gap = max((b - a for a, b in zip(around, around[1:])), default=float("nan"))
                results.append({"unavailable_ms": reply["unavailable_us"] / 1000,
                                "took_ms": reply["took_us"] / 1000, "client_gap_ms": gap * 1000,
                                "answers": len(asker.answered), "pids_changed": len(changed)})
                print(f"repeat {repeat + 1}: armd unavailable {reply['unavailable_us'] / 1000:.1f} "
                      f"ms (its own figure; the whole request {reply['took_us'] / 1000:.1f} ms), "
                      f"longest gap a client saw {gap * 1000:.1f} ms, {reply['processes']} "
                      f"processes taken over, {len(changed)} pids changed", flush=True)
                # armd's own account of the steps (the old armd's line, then the new one's).
                with open(os.path.join(scratch, "armd.log")) as f:
                    for line in f.read().splitlines()[-200:]:
                        if "re-execut" in line and line not in seen:
                            seen.add(line)
                            print("  armd:", line.split(" ", 3)[-1], flush=True)
        finally:
            armd.send_signal(signal.SIGTERM)
            try:
                armd.wait(timeout=120)
            except subprocess.TimeoutExpired:
                armd.kill()
                armd.wait()
            log.close()

    if results:
        took = [r["unavailable_ms"] for r in results]
        gaps = [r["client_gap_ms"] for r in results]
        print(f"{args.services} services: armd unavailable median {statistics.median(took):.1f} "
              f"ms (range {min(took):.1f}-{max(took):.1f}); client's longest gap median "
              f"{statistics.median(gaps):.1f} ms (range {min(gaps):.1f}-{max(gaps):.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"services": args.services, "repeats": results, "failures": failures}, f,
                      indent=2)
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if failures or not results else 0


if __name__ == "__main__":
    sys.exit(main())
