#!/usr/bin/env python3
"""Health probes (issue 13, "Measure"): what 1,000 services each probed by TCP every second cost
armd, and that with no probes an idle armd does not wake up.

    bench/health.py [--build build] [--services 1000] [--seconds 10] [--repeats 3]

- probes: --services sleepers, each with `health = { tcp = "127.0.0.1:PORT", interval = "1s" }`
  against one listener of this script's (a thread accepts and closes). Once every service is
  healthy, armd's CPU seconds per second and context switches (voluntary + involuntary, from
  /proc: each is a wake-up or a preemption) per second over --seconds.
- idle: the same services without health checks, running, over --seconds: armd's context
  switches (expected: 0).
Each phase is repeated --repeats times (a fresh armd each); the range is printed.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procfs import cpu_and_switches, wait_until  # noqa: E402


ACCEPTED = [0]  # connections the listener accepted: the probes that reached it


def listener():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4096)

    def accept_forever():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            ACCEPTED[0] += 1
            conn.close()

    threading.Thread(target=accept_forever, daemon=True).start()
    return server


def config(services, port):
    lines = ['[arm]', f'default_services = [{", ".join(f"{chr(34)}s{i}{chr(34)}" for i in range(services))}]']
    for i in range(services):
        lines += [f"[services.s{i}]", 'binary = "/bin/sleep"', 'options = ["100000"]']
        if port:
            lines.append(f'health = {{ tcp = "127.0.0.1:{port}", interval = "1s", timeout = "1s" }}')
    return "\n".join(lines) + "\n"


def run_once(build, services, seconds, port):
    with tempfile.TemporaryDirectory(prefix="armd-bench-health-") as workdir:
        path = os.path.join(workdir, "armd.toml")
        with open(path, "w") as f:
            f.write(config(services, port))
        sock = os.path.join(workdir, "armd.sock")
        log = open(os.path.join(workdir, "armd.log"), "w")
        armd = subprocess.Popen([os.path.join(build, "armd", "armd"), "--config", path,
                                 "--socket", sock], stdout=log, stderr=subprocess.STDOUT)

        def status():
            result = subprocess.run([os.path.join(build, "armd", "armctl"), "--socket", sock,
                                     "--json", "status"], capture_output=True, text=True)
            return json.loads(result.stdout) if result.returncode == 0 else []

        try:
            wanted = "healthy" if port else None
            wait_until(lambda: (lambda s: len(s) == services and all(
                x["state"] == "running" and x["health"] == wanted for x in s))(status()),
                timeout=300, step=0.5)
            time.sleep(1)  # the last status request's own wake-ups are over
            cpu0, switches0 = cpu_and_switches([armd.pid])
            accepted0 = ACCEPTED[0]
            start = time.monotonic()
            time.sleep(seconds)
            cpu1, switches1 = cpu_and_switches([armd.pid])
            elapsed = time.monotonic() - start
            return ((cpu1 - cpu0) / elapsed, (switches1 - switches0) / elapsed,
                    (ACCEPTED[0] - accepted0) / elapsed)
        finally:
            armd.terminate()
            armd.wait(timeout=120)
            log.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    server = listener()
    port = server.getsockname()[1]
    for name, probe_port in (("probes", port), ("idle", None)):
        runs = [run_once(args.build, args.services, args.seconds, probe_port)
                for _ in range(args.repeats)]
        cpu = [r[0] for r in runs]
        wakeups = [r[1] for r in runs]
        probes = [r[2] for r in runs]
        print(f"{name}: {args.services} services, {args.seconds:.0f} s x {args.repeats}: "
              f"armd CPU {min(cpu) * 100:.1f}-{max(cpu) * 100:.1f}% of a core, "
              f"context switches {min(wakeups):.0f}-{max(wakeups):.0f}/s, "
              f"probes {min(probes):.0f}-{max(probes):.0f}/s", flush=True)


if __name__ == "__main__":
    main()
