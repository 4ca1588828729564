#!/usr/bin/env python3
"""Start-all with readiness (issue 13): N services with readiness = "notify" against the same N
with readiness = "exec", the same armd, the same run, repeats alternating which goes first.

    bench/start_all.py [--build build] [--services 1000] [--repeats 5] [--smoke]

One armd holds both sets, e0..eN-1 (exec) and n0..nN-1 (notify), all running bench/notify_ready
(which sends READY=1 on $NOTIFY_SOCKET with one sendto when it has one, and otherwise only
waits). A round writes one start request per service of a set, all at once (as `armctl start NAME...`
does, but on connections of 250 requests each: armd refuses more than 256 waiting on one), and is timed from the first byte written to the last reply read:
armd answers a notify service's start once its READY=1 arrived, an exec service's once it runs.
armd's CPU time (utime + stime) over the round is reported too, the figure a busy machine
disturbs least. Then the set is stopped (not timed) before the other set's round.
The target: notify / exec <= 1.3 (medians).
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procfs import cpu_and_switches, wait_until  # noqa: E402

SETS = {"exec": "e", "notify": "n"}


def config_text(program, services):
    sections = []
    for readiness, prefix in SETS.items():
        for i in range(services):
            sections.append(f'[services.{prefix}{i}]\nbinary = "{program}"\n'
                            f'readiness = "{readiness}"\nstdout = "null"\nstderr = "null"\n')
    return "".join(sections)


# armd answers `too_many_requests` past 256 requests waiting on one connection: the requests
# are spread over connections of at most this many.
PER_CONNECTION = 250


class Connection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wait_until(lambda: self.sock.connect_ex(path) == 0, timeout=30, step=0.01)
        self.buffer = b""
        self.read_line()  # hello

    def read_line(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("armd closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def expect(self, count, method, expected):
        for _ in range(count):
            reply = self.read_line()
            if reply.get("outcome") != expected:
                raise RuntimeError(f"{method} answered {reply}")


def all_at_once(connections, method, names, expected):
    """Writes one request per name (PER_CONNECTION on each connection), then reads every reply;
    each must answer `expected`."""
    chunks = [names[i:i + PER_CONNECTION] for i in range(0, len(names), PER_CONNECTION)]
    for connection, chunk in zip(connections, chunks):
        connection.sock.sendall(b"".join(
            json.dumps({"id": i, "method": method, "service": name}).encode() + b"\n"
            for i, name in enumerate(chunk)))
    for connection, chunk in zip(connections, chunks):
        connection.expect(len(chunk), method, expected)


def one_round(connections, armd_pid, names):
    cpu_before, _ = cpu_and_switches([armd_pid])
    began = time.monotonic_ns()
    all_at_once(connections, "start", names, "started")
    elapsed = time.monotonic_ns() - began
    cpu_after, _ = cpu_and_switches([armd_pid])
    all_at_once(connections, "stop", names, "stopped")
    return {"ms": elapsed / 1e6, "armd_cpu_ms": (cpu_after - cpu_before) * 1e3}


def spread(rounds, key):
    values = [r[key] for r in rounds]
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1)}


def measure(build, services, repeats):
    program = os.path.join(build, "bench", "notify_ready")
    rounds = {readiness: [] for readiness in SETS}
    with tempfile.TemporaryDirectory(prefix="bench-start-all-") as workdir:
        config = os.path.join(workdir, "armd.toml")
        with open(config, "w") as f:
            f.write(config_text(program, services))
        sock = os.path.join(workdir, "armd.sock")
        log = open(os.path.join(workdir, "armd.log"), "w")
        armd = subprocess.Popen([os.path.join(build, "armd", "armd"), "--config", config,
                                 "--socket", sock], stdout=log, stderr=subprocess.STDOUT)
        try:
            connections = [Connection(sock)
                           for _ in range((services + PER_CONNECTION - 1) // PER_CONNECTION)]
            for repeat in range(repeats):
                order = list(SETS) if repeat % 2 == 0 else list(reversed(SETS))
                for readiness in order:
                    names = [f"{SETS[readiness]}{i}" for i in range(services)]
                    rounds[readiness].append(one_round(connections, armd.pid, names))
            all_at_once(connections, "shutdown", [None], "shutdown_complete")
            armd.wait(timeout=120)
        finally:
            if armd.poll() is None:
                armd.kill()
                armd.wait()
            log.close()
    ratios = [n["ms"] / e["ms"] for e, n in zip(rounds["exec"], rounds["notify"])]
    return {
        "services": services, "repeats": repeats, "load_average": os.getloadavg(),
        "exec_ms": spread(rounds["exec"], "ms"), "notify_ms": spread(rounds["notify"], "ms"),
        "exec_armd_cpu_ms": spread(rounds["exec"], "armd_cpu_ms"),
        "notify_armd_cpu_ms": spread(rounds["notify"], "armd_cpu_ms"),
        "ratio_of_medians": round(statistics.median(r["ms"] for r in rounds["notify"]) /
                                  statistics.median(r["ms"] for r in rounds["exec"]), 2),
        "ratio_per_repeat": [round(r, 2) for r in ratios],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true",
                        help="20 services, 2 repeats: checks the benchmark works, not timings")
    args = parser.parse_args()
    if args.smoke:
        args.services, args.repeats = 20, 2
    print(json.dumps(measure(os.path.abspath(args.build), args.services, args.repeats), indent=2))


if __name__ == "__main__":
    main()
