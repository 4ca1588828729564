#!/usr/bin/env python3
"""What capturing output costs (issue 12): armd against the floor and against s6-log and
supervisord, in one run, every figure also as a ratio to the floor of the same round.

    bench/output.py [--build build] [--bytes 256MiB] [--repeats 3] [--ten-bytes 8MiB]
                    [--idle-services 1000] [--idle 10] [--out DIR] [--smoke]
                    [--systems armd-file,armd-ring] [--throughput-only]

- throughput: one service (bench/line_writer) writes --bytes of 100-byte lines as fast as it
  can. The floor is `line_writer | pipe_to_file FILE` (bench/pipe_to_file: read, append, no
  lines or stamps). armd with a rotating log_file, armd with the ring only, `line_writer |
  s6-log T ...` and supervisord's stdout_logfile get the same input. Each round runs every
  system once; --repeats rounds, median and range. CPU seconds of the supervisor's process
  (the log program's for s6-log), per GiB written.
- ten: ten services writing --ten-bytes each at once through armd to their log_file; lines per
  second in total, then every file read back: each service's sequence numbers must be 0, 1, 2, …
  with none missing or out of order.
- idle: --idle-services services that write nothing (then: one line each) and wait; armd's
  context switches over --idle seconds, and its RSS, against 8 MiB plus the rings' size.
"""

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procfs import children, cpu_and_switches, memory_kib, wait_until  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
LOG_MAX_SIZE = 64 * MiB  # rotation for armd, s6-log and supervisord alike
LOG_MAX_FILES = 3
RING = 64 * 1024  # armd's default log_buffer


def size(text):
    """'256MiB', '4KiB' or a plain number of bytes."""
    for suffix, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if text.endswith(suffix):
            return int(float(text[:-len(suffix)]) * factor)
    return int(text)


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values)}


def rusage_cpu(usage):
    return usage.ru_utime + usage.ru_stime


class Armd:
    """armd on a scratch configuration; `status` over one protocol connection."""

    def __init__(self, build, workdir, label, services, start_at_load=True):
        self.build, self.workdir = build, workdir
        self.socket_path = os.path.join(workdir, f"{label}.sock")
        config = os.path.join(workdir, f"{label}.toml")
        with open(config, "w") as f:
            names = ", ".join(f'"{name}"' for name in services) if start_at_load else ""
            f.write(f"[arm]\ndefault_services = [{names}]\n")
            for name, body in services.items():
                f.write(f"[services.{name}]\n{body}")
        self.process = subprocess.Popen(
            [os.path.join(build, "armd", "armd"), "--config", config, "--socket",
             self.socket_path], start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(workdir, f"{label}.stderr"), "a"))
        self.connection = wait_until(self._connect, timeout=60, step=0.005)
        self.buffer = b""
        self.read_line()  # hello
        self.next_id = 1

    def _connect(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"armd exited with {self.process.returncode}")
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(self.socket_path)
            return connection
        except OSError:
            connection.close()
            return None

    def read_line(self):
        while b"\n" not in self.buffer:
            chunk = self.connection.recv(1 << 20)
            if not chunk:
                raise ConnectionError("armd closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def send(self, method, **params):
        """Sends a request and returns its id; `reply(id)` reads its answer."""
        request_id = self.next_id
        self.next_id += 1
        self.connection.sendall(json.dumps({"id": request_id, "method": method, **params})
                                .encode() + b"\n")
        return request_id

    def reply(self, request_id):
        """The reply to `request_id`; replies to earlier requests nobody waited for are
        skipped."""
        while True:
            message = self.read_line()
            if message.get("id") == request_id:
                return message

    def status(self):
        return self.reply(self.send("status"))["services"]

    def all_exited(self):
        return all(s["last_exit"] is not None and s["pid"] is None for s in self.status())

    def all_running(self):
        return all(s["pid"] is not None for s in self.status())

    def stop(self):
        self.connection.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(120)
        finally:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


def writer_command(build, name, count):
    return [os.path.join(build, "bench", "line_writer"), name, str(count)]


def piped(writer, reader, reader_label):
    """`writer | reader`; both waited for. The reader's CPU from its rusage."""
    began = time.monotonic()
    source = subprocess.Popen(writer, stdout=subprocess.PIPE)
    sink = subprocess.Popen(reader, stdin=source.stdout, stdout=subprocess.DEVNULL)
    source.stdout.close()
    _, writer_status, _ = os.wait4(source.pid, 0)
    _, reader_status, usage = os.wait4(sink.pid, 0)
    seconds = time.monotonic() - began
    source.returncode, sink.returncode = writer_status, reader_status
    if writer_status or reader_status:
        raise RuntimeError(f"{reader_label}: writer {writer_status}, reader {reader_status}")
    return seconds, rusage_cpu(usage)


def run_floor(build, workdir, count):
    return piped(writer_command(build, "s0", count),
                 [os.path.join(build, "bench", "pipe_to_file"), os.path.join(workdir, "floor.log")],
                 "floor")


def run_s6_log(build, workdir, count):
    # T: an ISO 8601 stamp on each line (armd stamps too); s, n: rotation as armd's.
    directory = os.path.join(workdir, "s6-log")
    return piped(writer_command(build, "s0", count),
                 ["s6-log", "T", f"s{LOG_MAX_SIZE}", f"n{LOG_MAX_FILES}", directory], "s6-log")


def run_armd(build, workdir, count, to_file):
    body = (f'binary = "{build}/bench/line_writer"\noptions = ["s0", "{count}"]\n'
            'restart = "never"\n')
    if to_file:
        body += (f'log_file = "{workdir}/armd.log"\nlog_max_size = {LOG_MAX_SIZE}\n'
                 f"log_max_files = {LOG_MAX_FILES}\n")
    # The writer is started by a request and the clock starts there, spawn included: started
    # at load, a small (smoke) run could finish before the benchmark connected, and a clock
    # started when /proc shows the child starts late by however long the polling took.
    armd = Armd(build, workdir, "armd-file" if to_file else "armd-ring", {"s0": body},
                start_at_load=False)
    try:
        began = time.monotonic()
        armd.send("start", service="s0")
        wait_until(armd.all_exited, timeout=600, step=0.01)
        seconds = time.monotonic() - began
        cpu, _ = cpu_and_switches([armd.process.pid])
    finally:
        armd.stop()
    return seconds, cpu


def writer_started(supervisor):
    """When supervisord's child appears: its clock starts there (supervisord waits a second
    before its first spawn), as it starts at the pipe's creation for the floor and s6-log and
    at the start request for armd."""
    wait_until(lambda: children(supervisor), timeout=60, step=0.0005)
    return time.monotonic()


def bytes_in_files(pattern):
    """The sizes of the files matching pattern, added up; a file rotated away between the
    listing and its stat counts as empty (the next poll sees it under its new name)."""
    total = 0
    for path in glob.glob(pattern):
        try:
            total += os.path.getsize(path)
        except FileNotFoundError:
            pass
    return total


def run_supervisord(build, workdir, count):
    config = os.path.join(workdir, "supervisord.conf")
    logfile = os.path.join(workdir, "supervisord-s0.log")
    # Done is told by the bytes on disk, so none may be rotated away: as many backups as the
    # input fills (the same rotation every LOG_MAX_SIZE; only older files are kept longer).
    backups = max(LOG_MAX_FILES, count // LOG_MAX_SIZE + 2)
    with open(config, "w") as f:
        f.write(f"[supervisord]\nnodaemon = true\nlogfile = {workdir}/supervisord.log\n"
                f"pidfile = {workdir}/supervisord.pid\nchildlogdir = {workdir}\n"
                f"[program:s0]\ncommand = {' '.join(writer_command(build, 's0', count))}\n"
                "autorestart = false\nstartsecs = 0\n"
                f"stdout_logfile = {logfile}\nstdout_logfile_maxbytes = {LOG_MAX_SIZE}\n"
                f"stdout_logfile_backups = {backups}\n")
    process = subprocess.Popen(["supervisord", "-c", config], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        began = writer_started(process.pid)
        # supervisord writes the bytes as they came (no stamps): done when all are on disk.
        wait_until(lambda: bytes_in_files(logfile + "*") >= count, timeout=600, step=0.01)
        seconds = time.monotonic() - began
        cpu, _ = cpu_and_switches([process.pid])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
    return seconds, cpu


def throughput(build, workdir, count, repeats, only=None):
    count -= count % 100  # whole lines
    systems = {"floor": lambda d: run_floor(build, d, count),
               "armd-file": lambda d: run_armd(build, d, count, True),
               "armd-ring": lambda d: run_armd(build, d, count, False)}
    if shutil.which("s6-log"):
        systems["s6-log"] = lambda d: run_s6_log(build, d, count)
    if shutil.which("supervisord"):
        systems["supervisord"] = lambda d: run_supervisord(build, d, count)
    if only:
        systems = {name: run for name, run in systems.items() if name in only or name == "floor"}
    rounds = {name: [] for name in systems}
    for round_number in range(repeats):
        for name, run in systems.items():
            directory = tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)
            try:
                seconds, cpu = run(directory)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            rounds[name].append({"seconds": seconds, "cpu": cpu})
            print(f"round {round_number + 1} {name}: {count / seconds / MiB:.0f} MiB/s, "
                  f"cpu {cpu:.2f} s", file=sys.stderr)
    result = {"bytes": count, "missing": sorted(set(("s6-log", "supervisord")) - set(systems))}
    for name, runs in rounds.items():
        result[name] = {
            "mib_per_s": spread([count / r["seconds"] / MiB for r in runs]),
            "cpu_s_per_gib": spread([r["cpu"] / count * GiB for r in runs]),
            "ratio_to_floor": spread([rounds["floor"][i]["seconds"] / r["seconds"]
                                      for i, r in enumerate(runs)]),
        }
    return result


def rotated_in_order(path):
    """FILE.N … FILE.1, FILE: the oldest lines first."""
    older = sorted(glob.glob(path + ".*"), key=lambda p: -int(p.rsplit(".", 1)[1]))
    return older + [path]


def check_sequences(path, name, lines):
    """Every line of `name` in its log_file(s), in order: 0, 1, …, lines-1. Returns the
    problems found (empty when none)."""
    expected = 0
    for part in rotated_in_order(path):
        with open(part, "rb") as f:
            for row in f:
                # TIME STREAM TEXT; TEXT is "NAME SEQUENCE PADDING" (x characters up to 100 bytes)
                fields = row.split(b" ", 4)
                if fields[2].decode() != name or int(fields[3]) != expected:
                    return [f"{name}: expected line {expected}, read {row[:80]!r} in {part}"]
                expected += 1
    return [] if expected == lines else [f"{name}: {expected} lines of {lines}"]


def ten_services(build, workdir, each):
    directory = tempfile.mkdtemp(prefix="ten-", dir=workdir)
    names = [f"s{i}" for i in range(10)]
    services = {
        name: (f'binary = "{build}/bench/line_writer"\noptions = ["{name}", "{each}"]\n'
               f'restart = "never"\nlog_file = "{directory}/{name}.log"\n'
               f"log_max_size = {LOG_MAX_SIZE}\nlog_max_files = 100\n")
        for name in names}
    began = time.monotonic()
    armd = Armd(build, directory, "armd-ten", services)
    try:
        wait_until(armd.all_exited, timeout=600, step=0.01)
        seconds = time.monotonic() - began
        cpu, _ = cpu_and_switches([armd.process.pid])
    finally:
        armd.stop()
    lines = each // 100
    problems = [p for name in names
                for p in check_sequences(f"{directory}/{name}.log", name, lines)]
    shutil.rmtree(directory, ignore_errors=True)
    return {"services": 10, "lines_each": lines, "seconds": seconds,
            "lines_per_s": 10 * lines / seconds, "cpu_s": cpu, "problems": problems}


def idle(build, workdir, count, seconds, line_bytes):
    """armd with `count` waiting services that each wrote `line_bytes` (0 or one line)."""
    label = f"idle-{line_bytes}"
    services = {f"s{i}": (f'binary = "{build}/bench/line_writer"\n'
                          f'options = ["s{i}", "{line_bytes}", "--wait"]\n')
                for i in range(count)}
    armd = Armd(build, workdir, label, services)
    try:
        wait_until(armd.all_running, timeout=300, step=0.05)
        time.sleep(2)  # the services' lines read, start-up work done
        pid = armd.process.pid
        _, switches_before = cpu_and_switches([pid])
        time.sleep(seconds)
        _, switches_after = cpu_and_switches([pid])
        rss, _ = memory_kib([pid])
    finally:
        armd.stop()
    rings = count * RING if line_bytes else 0
    return {"services": count, "line_bytes": line_bytes, "seconds": seconds,
            "context_switches": switches_after - switches_before, "rss_kib": rss,
            "bound_kib": 8 * 1024 + rings // 1024}


def table(results):
    rows = ["| system | MiB/s (median, range) | × floor | CPU s per GiB |", "|---|---|---|---|"]
    t = results["throughput"]
    for name in ("floor", "armd-file", "armd-ring", "s6-log", "supervisord"):
        if name in t["missing"]:
            rows.append(f"| {name} | not installed | | |")
        if name not in t:
            continue
        r = t[name]
        m, c, q = r["mib_per_s"], r["cpu_s_per_gib"], r["ratio_to_floor"]
        rows.append(f"| {name} | {m['median']:.0f} ({m['min']:.0f}–{m['max']:.0f}) | "
                    f"{q['median']:.2f} ({q['min']:.2f}–{q['max']:.2f}) | {c['median']:.2f} |")
    if "ten" not in results:
        return "\n".join(rows) + "\n"
    ten = results["ten"]
    rows.append("")
    rows.append(f"ten services: {ten['lines_per_s']:,.0f} lines/s in total "
                f"({ten['lines_each']:,} lines each, {ten['seconds']:.2f} s, armd CPU "
                f"{ten['cpu_s']:.2f} s); lost or reordered: "
                f"{'; '.join(ten['problems']) or 'none'}")
    for run in results["idle"]:
        what = "silent" if run["line_bytes"] == 0 else "one line each"
        rows.append(f"idle, {run['services']} services ({what}): {run['context_switches']} "
                    f"context switches of armd in {run['seconds']} s, RSS {run['rss_kib']:,} KiB "
                    f"(bound {run['bound_kib']:,} KiB)")
    return "\n".join(rows) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--bytes", default="256MiB", help="one service's output (default 256MiB)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ten-bytes", default="8MiB", help="each of the ten services' output")
    parser.add_argument("--idle-services", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=10, help="seconds of idle measurement")
    parser.add_argument("--systems", default=None,
                        help="throughput of these only (comma-separated; the floor always)")
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--smoke", action="store_true",
                        help="seconds, not minutes: checks the script works, not timings")
    args = parser.parse_args()
    if args.smoke:
        args.bytes, args.repeats, args.ten_bytes = "4MiB", 1, "1MiB"
        args.idle_services, args.idle = 50, 1
    build = os.path.abspath(args.build)
    out = os.path.abspath(args.out or os.path.join(build, "bench-results"))
    os.makedirs(out, exist_ok=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="armd-output-bench-") as workdir:
        only = args.systems.split(",") if args.systems else None
        results["throughput"] = throughput(build, workdir, size(args.bytes), args.repeats, only)
        if not args.throughput_only:
            results["ten"] = ten_services(build, workdir, size(args.ten_bytes))
            results["idle"] = [idle(build, workdir, args.idle_services, args.idle, line_bytes)
                               for line_bytes in (0, 100)]
    with open(os.path.join(out, "output.json"), "w") as f:
        json.dump(results, f, indent=2)
    text = table(results)
    with open(os.path.join(out, "output.md"), "w") as f:
        f.write(text)
    print(text)
    if results.get("ten", {}).get("problems"):
        sys.exit("lines lost or reordered: " + "; ".join(results["ten"]["problems"]))


if __name__ == "__main__":
    main()
