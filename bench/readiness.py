#!/usr/bin/env python3
"""Readiness latency (issue 13): from a notify service's READY=1 to its `start` request being
answered by armd, against a floor measured by the same harness in the same run.

    bench/readiness.py [--build build] [--rounds 50] [--armd PATH ...]

- armd: one service with readiness = "notify" waits on a FIFO; the benchmark sends `start` on a
  raw protocol connection, opens the FIFO, and the service stamps CLOCK_MONOTONIC just before
  it sends READY=1; the benchmark stamps the moment the answer arrives. The path is two hops:
  service -> armd (datagram), armd -> client (stream).
- floor: the same two hops without armd: a running "service" woken by the benchmark stamps and
  sends a datagram to a relay process, which writes it to the benchmark's stream socket
  (python on both ends, as above).
- floor_fresh_sender: the same relay, but the sender is armd's service itself (the same script,
  its own new process each round, started by the benchmark and killed after): everything of the
  armd round but armd. Starting a process between rounds leaves the caches and the scheduler
  as armd's rounds leave them, which the long-running sender of `floor` does not.
Each figure is a median over --rounds, with its range; the ratios are armd / each floor.
"""

import argparse
import ctypes
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

SERVICE = """
import os, socket, sys, time
fifo, path = sys.argv[1], os.environ["NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
# A fresh process: everything the measured send runs is run once before it (a STATUS= changes
# nothing), so the round does not time this process's first page faults, as the floor's
# long-running sender has none.
s.sendto(b"STATUS=" + str(time.monotonic_ns()).encode(), path)
with open(fifo) as trigger:
    trigger.read(1)
now = time.monotonic_ns()
# The stamp travels in STATUS= (read back with `status` after the round), so nothing but the
# datagram happens between the stamp and armd's answer: a file written here competed with armd
# and the client for the two cores.
s.sendto(b"READY=1\\nSTATUS=" + str(now).encode(), path)
time.sleep(1000)
"""

RELAY = """
import socket, sys
datagrams = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
datagrams.bind(sys.argv[1])
stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
stream.connect(sys.argv[2])
print("ready", flush=True)
while True:
    stream.sendall(datagrams.recv(4096) + b"\\n")
"""

SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for _ in sys.stdin:
    now = time.monotonic_ns()
    s.sendto(str(now).encode(), sys.argv[1])
"""


def die_with_the_benchmark():
    """preexec_fn of every process the benchmark starts: it gets SIGTERM when the benchmark dies
    (killed, or timed out by meson test), so nothing it started outlives it; armd then stops its
    services as on any SIGTERM."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spread(values):
    return {"median_us": statistics.median(values) / 1000, "min_us": min(values) / 1000,
            "max_us": max(values) / 1000, "runs": len(values)}


def read_line(sock, buffer):
    while b"\n" not in buffer[0]:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer[0] += chunk
    line, buffer[0] = buffer[0].split(b"\n", 1)
    return line


def wait_until(predicate, deadline=30.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    raise TimeoutError("waited too long")


def measure_armd(binary, rounds, scratch):
    service = os.path.join(scratch, "service.py")
    with open(service, "w") as f:
        f.write(textwrap.dedent(SERVICE))
    fifo = os.path.join(scratch, "trigger")
    os.mkfifo(fifo)
    config, sock_path = os.path.join(scratch, "armd.toml"), os.path.join(scratch, "armd.sock")
    with open(config, "w") as f:
        f.write(f'[services.svc]\nbinary = "{sys.executable}"\n'
                f'options = ["{service}", "{fifo}"]\n'
                'readiness = "notify"\nstart_timeout = "0"\nstop_timeout = "0"\n')
    armd = subprocess.Popen([binary, "--config", config, "--socket",
                             sock_path], stderr=subprocess.DEVNULL,
                            preexec_fn=die_with_the_benchmark)
    try:
        wait_until(lambda: os.path.exists(sock_path))
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wait_until(lambda: conn.connect_ex(sock_path) == 0)
        buffer = [b""]
        read_line(conn, buffer)  # hello
        latencies = []
        for n in range(rounds):
            conn.sendall(json.dumps({"id": n, "method": "start", "service": "svc"}).encode() +
                         b"\n")
            with open(fifo, "w") as trigger:  # waits for the service to open it
                trigger.write("x")
            line = read_line(conn, buffer)
            answered = time.monotonic_ns()
            reply = json.loads(line)
            if reply.get("outcome") != "started":
                raise RuntimeError(f"start answered {reply}")
            conn.sendall(json.dumps({"id": "q", "method": "status", "service": "svc"}).encode() +
                         b"\n")
            ready_at = int(json.loads(read_line(conn, buffer))["services"][0]["status_text"])
            if answered < ready_at:
                raise RuntimeError("armd answered start before READY=1: this armd's core does "
                                   "not wait for readiness")
            latencies.append(answered - ready_at)
            conn.sendall(json.dumps({"id": "s", "method": "stop", "service": "svc"}).encode() +
                         b"\n")
            read_line(conn, buffer)
        return latencies
    finally:
        armd.terminate()
        armd.wait()


def start_relay(scratch, label):
    """The floor's middle hop: a relay process reading datagrams at <label>.dgram and writing
    each, newline-ended, to the stream connection it returns. The caller kills the relay."""
    datagram_path = os.path.join(scratch, f"{label}.dgram")
    stream_path = os.path.join(scratch, f"{label}.stream")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(stream_path)
    listener.listen(1)
    relay = subprocess.Popen([sys.executable, "-c", textwrap.dedent(RELAY), datagram_path,
                              stream_path], stdout=subprocess.PIPE, text=True,
                             preexec_fn=die_with_the_benchmark)
    try:
        listener.settimeout(30)
        conn, _ = listener.accept()
        relay.stdout.readline()
    except BaseException:
        relay.kill()
        relay.wait()
        raise
    return relay, conn, datagram_path


def measure_floor(rounds, scratch):
    relay, conn, datagram_path = start_relay(scratch, "floor")
    try:
        buffer = [b""]
        # Like the service, a running process woken by the benchmark.
        sender = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SENDER),
                                   datagram_path], stdin=subprocess.PIPE, text=True,
                                  preexec_fn=die_with_the_benchmark)
        latencies = []
        for _ in range(rounds):
            sender.stdin.write("x\n")
            sender.stdin.flush()
            sent_at = int(read_line(conn, buffer))
            latencies.append(time.monotonic_ns() - sent_at)
        sender.stdin.close()
        sender.wait()
        return latencies
    finally:
        relay.kill()
        relay.wait()


def measure_floor_fresh_sender(rounds, scratch):
    service = os.path.join(scratch, "fresh-service.py")
    with open(service, "w") as f:
        f.write(textwrap.dedent(SERVICE))
    fifo = os.path.join(scratch, "fresh-trigger")
    os.mkfifo(fifo)
    relay, conn, datagram_path = start_relay(scratch, "fresh-floor")
    try:
        buffer = [b""]
        latencies = []
        for _ in range(rounds):
            sender = subprocess.Popen([sys.executable, service, fifo],
                                      env=dict(os.environ, NOTIFY_SOCKET=datagram_path),
                                      preexec_fn=die_with_the_benchmark)
            try:
                # The relay ends each datagram with a newline: its own lines come through as
                # lines ("STATUS=..." first; then "READY=1" and "STATUS=<stamp>").
                if not read_line(conn, buffer).startswith(b"STATUS="):
                    raise RuntimeError("the fresh sender's first datagram is not its STATUS=")
                with open(fifo, "w") as trigger:
                    trigger.write("x")
                if read_line(conn, buffer) != b"READY=1":
                    raise RuntimeError("the fresh sender's second datagram is not READY=1")
                answered = time.monotonic_ns()
                sent_at = int(read_line(conn, buffer).split(b"STATUS=", 1)[1])
                latencies.append(answered - sent_at)
            finally:
                sender.kill()
                sender.wait()
        return latencies
    finally:
        relay.kill()
        relay.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--armd", action="append",
                        help="armd binaries to compare in the same run (default: the build's); "
                             "with more than one, each is reported under \"others\" too")
    args = parser.parse_args()
    binaries = args.armd or [os.path.join(args.build, "armd", "armd")]
    with tempfile.TemporaryDirectory(prefix="bench-readiness-") as scratch:
        floor = spread(measure_floor(args.rounds, scratch))
        fresh = spread(measure_floor_fresh_sender(args.rounds, scratch))
        measured = []
        for i, binary in enumerate(binaries):
            run = os.path.join(scratch, str(i))
            os.mkdir(run)
            measured.append(spread(measure_armd(binary, args.rounds, run)))
    armd = measured[0]
    result = {"floor": floor, "floor_fresh_sender": fresh, "armd": armd,
              "ratio_to_floor": armd["median_us"] / floor["median_us"],
              "ratio_to_floor_fresh_sender": armd["median_us"] / fresh["median_us"]}
    if len(binaries) > 1:
        # Measured one after the other (not alternating), after the floors.
        result["others"] = [{"binary": binary, "armd": each,
                             "ratio_to_floor": each["median_us"] / floor["median_us"]}
                            for binary, each in zip(binaries, measured)]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
