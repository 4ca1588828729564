#!/usr/bin/env python3
"""The event stream (issue 13): crash-restarts reaching a subscriber, and what a stalled one costs.

    bench/events.py [--build build] [--services 20] [--seconds 5] [--stalled-crashes 400]

- rate: --services services that exit 1 at once, restarted at once (backoff_initial = 0), for
  --seconds after a first second, with one subscriber reading every event from the start. Crash-restarts per second (from the exit
  events received), and the events received against those armd numbered: no gap means every
  crash reached the subscriber.
- stalled: one service that writes 20 lines of 2,900 bytes before each crash (exit events of
  about 60 KiB), a subscriber that never reads, --stalled-crashes crashes: armd's RSS after
  the first 40 crashes and at the end, against the bytes of events armd produced for it.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procfs import cpu_and_switches, memory_kib, wait_until  # noqa: E402


class Armd:
    def __init__(self, build, workdir, config):
        self.build, self.socket = build, os.path.join(workdir, "armd.sock")
        path = os.path.join(workdir, "armd.toml")
        with open(path, "w") as f:
            f.write(config)
        self.log = open(os.path.join(workdir, "armd.log"), "w")
        self.process = subprocess.Popen(
            [os.path.join(build, "armd", "armd"), "--config", path, "--socket", self.socket],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: os.path.exists(self.socket), timeout=30)

    def armctl(self, *args):
        return subprocess.run([os.path.join(self.build, "armd", "armctl"), "--socket",
                               self.socket, *args], capture_output=True, text=True, check=False)

    def armctl_in_background(self, *args):
        return subprocess.Popen([os.path.join(self.build, "armd", "armctl"), "--socket",
                                 self.socket, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def subscribe(self):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(self.socket)
        conn.sendall(b'{"id":1,"method":"subscribe"}\n')
        return conn

    def stop(self):
        self.armctl("shutdown")
        self.process.wait(timeout=60)
        self.log.close()


class Lines:
    def __init__(self, conn):
        self.conn, self.buffer = conn, b""

    def __iter__(self):
        while True:
            while b"\n" not in self.buffer:
                chunk = self.conn.recv(1 << 20)
                if not chunk:
                    return
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\n", 1)
            yield json.loads(line)


def rate(build, services, seconds):
    with tempfile.TemporaryDirectory(prefix="bench-events-") as workdir:
        config = "".join(
            f'[services.c{i}]\nbinary = "/bin/false"\nbackoff_initial = "0"\n'
            f'max_restarts = 1000000\nstdout = "null"\nstderr = "null"\n' for i in range(services))
        armd = Armd(build, workdir, config)
        conn = armd.subscribe()
        lines = iter(Lines(conn))
        next(lines)  # hello
        next(lines)  # the snapshot
        # Not waited for before reading: with hundreds of services the events of its first runs
        # alone would fill the subscriber's queue while it was not read (a gap of the
        # benchmark's making). The rate is counted from the end of the first second.
        starting = armd.armctl_in_background("start", "--all")
        exits = gaps = missed = received = 0
        last_seq = 0
        start = time.monotonic() + 1.0
        began = None
        conn.settimeout(10.0)  # armd may pause a moment on a machine this busy
        try:
            for event in lines:
                if event.get("event") == "gap":
                    gaps += 1
                    missed += event["missed"]
                    continue
                received += 1
                last_seq = event["seq"]
                if time.monotonic() < start:
                    continue
                if began is None:
                    began, cpu_before = time.monotonic(), cpu_and_switches([armd.process.pid])[0]
                exits += event.get("event") == "exit"
                if time.monotonic() - began >= seconds:
                    break
        except socket.timeout:
            pass
        if began is None:
            raise RuntimeError("no event came after the first second")
        elapsed = time.monotonic() - began
        # armd's own CPU over the run (spawning, reaping, encoding): per crash-restart it is
        # the figure a busy machine disturbs least.
        cpu_after, _ = cpu_and_switches([armd.process.pid])
        starting.wait(timeout=60)
        conn.close()
        armd.stop()
        return {"services": services, "seconds": round(elapsed, 2),
                "crash_restarts_per_second": round(exits / elapsed),
                "armd_cpu_share": round((cpu_after - cpu_before) / elapsed, 2),
                "armd_cpu_us_per_crash_restart": round(
                    (cpu_after - cpu_before) * 1e6 / max(exits, 1)),
                "events_received": received, "events_numbered": last_seq, "gaps": gaps,
                "missed": missed}


def stalled(build, crashes):
    with tempfile.TemporaryDirectory(prefix="bench-events-") as workdir:
        count = os.path.join(workdir, "runs")
        script = os.path.join(workdir, "fat.sh")
        with open(script, "w") as f:
            f.write(f"""#!/bin/sh
n=$(cat {count} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {count}
awk 'BEGIN {{ for (i = 0; i < 20; i++) {{ s = sprintf("%2900d", i); print s }} }}'
if [ $n -le {crashes} ]; then exit 1; fi
exec sleep 100000
""")
        os.chmod(script, 0o755)
        armd = Armd(build, workdir, f'[services.fat]\nbinary = "{script}"\nbackoff_initial = "0"\n'
                    'max_restarts = 1000000\ncrash_context_lines = 20\n')
        conn = armd.subscribe()  # never read
        armd.armctl("start", "fat")

        def runs():
            try:
                with open(count) as f:
                    return int(f.read() or 0)
            except (FileNotFoundError, ValueError):
                return 0
        wait_until(lambda: runs() >= 40, timeout=300, step=0.01)
        before = memory_kib([armd.process.pid])[0]
        wait_until(lambda: runs() > crashes, timeout=600, step=0.01)
        time.sleep(0.5)
        after = memory_kib([armd.process.pid])[0]
        conn.close()
        armd.stop()
        return {"crashes": crashes, "event_bytes_produced_about_kib": crashes * 60,
                "rss_after_40_crashes_kib": before, "rss_at_end_kib": after,
                "growth_kib": after - before}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--stalled-crashes", type=int, default=400,
                        help="0 skips the stalled subscriber")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    results = {"load_average": os.getloadavg(),
               "rate": rate(build, args.services, args.seconds)}
    if args.stalled_crashes:
        results["stalled"] = stalled(build, args.stalled_crashes)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
