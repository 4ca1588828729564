#!/usr/bin/env python3
"""Socket activation (issue 14, "Measure"): what a client sees while a service is SIGKILLed and
restarted, with the listening socket held by armd (`listen`) and without it (the service binds
itself), and how long the first connection to an on-demand service waits.

    bench/socket_activation.py [--build build] [--kills 100] [--repeats 3] [--interval-ms 5]
                               [--window-ms 100] [--edits 10] [--no-lighttpd] [--smoke]
                               [--json FILE]

Each repeat measures, in this order:
- floor: the restart floor of bench/floor.cpp (posix_spawn + pidfd, respawn at once) for one
  marker: SIGKILL to the replacement's stamp, median over 20 kills.
- start-up: the service's own start-up time, no supervisor: posix_spawn of the service binding
  the port itself, until it answers a GET tried every 0.2 ms (median of 20).
- kills, for each variant: armd (backoff_initial = "0ms") runs the service under a client that
  opens a NEW connection every --interval-ms (each in a thread of its own: a connection waiting in
  the backlog never delays the next) and makes one HTTP/1.0 GET; --kills times, once the service
  serves (its stamp) and ~200 ms later, it is SIGKILLed. Counted: answered, refused
  (ECONNREFUSED), reset (the connection was dropped: the killed process had accepted it, or its
  backlog died with it), timed out (30 s). Latency: p50/p99 of the requests started within
  --window-ms after a SIGKILL ("around a restart"), and of all. Restart: SIGKILL until the new
  process serves (its stamp; for lighttpd, until armd has spawned it).
  Variants: `listen` (listen_fds_http with armd's socket), `bind` (listen_fds_http --bind, the
  service binds itself with SO_REUSEADDR: the contrast), and Debian's lighttpd with armd's socket
  (`server.systemd-socket-activation = "enable"`) and binding itself.
- on-demand: start = "on-demand": a client connects to the `listening` service; from the connect
  until the answer (the start-up of the service included), 10 rounds, `armctl stop` between them;
  and, for reference, the same first connection under systemd-socket-activate when installed.
- broken edits: the service runs with `listen`, a `config` file and a `config_check` (lighttpd:
  its own `lighttpd -tt -f {config}`; listen_fds_http: its `--check --config {config}`) under
  the same client. --edits times: the file is replaced
  (written beside it and renamed, as editors and deploy tools do) by a broken one; once armd's
  status shows the rejected change, the client runs on for 0.5 s; then the file is replaced by a
  good, different one, and armd restarts the service. Counted: requests started while the broken
  file was in place (each must be answered: the running service is untouched, same pid), and
  those started while the fix was being applied (a restart on armd's socket). For contrast, the
  same broken edit once without `config_check` and without `listen` (the service binds itself, as
  before issue 14): armd restarts into the broken file, and what the client sees until the file
  is fixed 1 s later.
Figures are printed per repeat and as ranges (min-max over the repeats).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procfs import LogTail, children, wait_until  # noqa: E402
from systems import Floor  # noqa: E402

REQUEST = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
LIGHTTPD = "/usr/sbin/lighttpd"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values, fraction):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))] if values else None


def http_get(port, timeout=30.0):
    """One GET on a new connection: (start ns, latency ns, outcome)."""
    began = time.monotonic_ns()
    client = socket.socket()
    client.settimeout(timeout)
    try:
        client.connect(("127.0.0.1", port))
        client.sendall(REQUEST)
        reply = b""
        while chunk := client.recv(4096):
            reply += chunk
        status = reply.split(b"\r\n", 1)[0].split()
        outcome = "ok" if len(status) > 1 and status[1] == b"200" else ("reset" if not reply
                                                                       else "bad")
    except ConnectionRefusedError:
        outcome = "refused"
    except (ConnectionResetError, BrokenPipeError):
        outcome = "reset"
    except socket.timeout:
        outcome = "timeout"
    except OSError as error:
        outcome = f"errno {error.errno}"
    finally:
        client.close()
    return began, time.monotonic_ns() - began, outcome


class Load:
    """A client that opens a new connection every `interval` seconds until stopped."""

    def __init__(self, port, interval):
        self.port, self.interval = port, interval
        self.results, self.running = [], True
        self.pool = ThreadPoolExecutor(max_workers=512)
        self.futures = []
        self.thread = threading.Thread(target=self._schedule, daemon=True)

    def _schedule(self):
        due = time.monotonic()
        while self.running:
            self.futures.append(self.pool.submit(http_get, self.port))
            due += self.interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            elif pause < -self.interval:
                due = time.monotonic()  # behind (a loaded machine): no burst to catch up

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.results = [future.result() for future in self.futures]
        self.pool.shutdown()


def startup_ms(command_for_port, rounds):
    """The service's own start-up, with no supervisor: posix_spawn (as bench/floor spawns) of the
    service binding the port itself, until it answers a GET (tried every 0.2 ms; a refused try
    costs microseconds). Median of `rounds`."""
    samples = []
    for _ in range(rounds):
        port = free_port()
        command = command_for_port(port)
        began = time.monotonic_ns()
        pid = os.posix_spawn(command[0], command, os.environ)
        try:
            while http_get(port, timeout=30)[2] != "ok":
                time.sleep(0.0002)
            samples.append((time.monotonic_ns() - began) / 1e6)
        finally:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    return statistics.median(samples)


def floor_restart_ms(build, workdir, kills=20):
    """bench/floor's restart latency for one marker: SIGKILL until the replacement's stamp."""
    log = os.path.join(workdir, f"floor-{time.monotonic_ns()}.log")
    floor = Floor(build, workdir, 1, log)
    tail = LogTail(log)
    floor.launch()
    samples = []
    try:
        pid = wait_until(lambda: tail.poll(), timeout=60)[-1][1]
        for _ in range(kills):
            count = len(tail.poll())
            time.sleep(0.02)
            killed = time.monotonic_ns()
            os.kill(pid, signal.SIGKILL)
            line = wait_until(lambda: (lambda lines: lines[count] if len(lines) > count
                                       else None)(tail.poll()), timeout=60, step=0.0002)
            samples.append((line[2] - killed) / 1e6)
            pid = line[1]
        floor.stop()
        floor.reap()
    finally:
        floor.kill()
    return statistics.median(samples)


class ArmdRun:
    """armd on a scratch config holding one service, `web`."""

    def __init__(self, build, workdir, label, service, boot=True):
        self.build, self.workdir, self.label = build, workdir, label
        self.socket = os.path.join(workdir, f"{label}.sock")
        self.config = os.path.join(workdir, f"{label}.toml")
        with open(self.config, "w") as f:
            f.write(('[arm]\ndefault_services = ["web"]\n' if boot else '') +
                    '[services.web]\nstdout = "null"\nstderr = "null"\nbackoff_initial = "0ms"\n'
                    'max_restarts = 1000000\n' + service)
        self.log = open(os.path.join(workdir, f"{label}.log"), "w")
        self.process = subprocess.Popen(
            [os.path.join(build, "armd", "armd"), "--config", self.config, "--socket",
             self.socket], stdout=self.log, stderr=subprocess.STDOUT)

    def armctl(self, *args):
        return subprocess.run([os.path.join(self.build, "armd", "armctl"), "--socket",
                               self.socket, *args], capture_output=True, text=True, timeout=60)

    def status(self):
        result = self.armctl("--json", "status", "web")
        return json.loads(result.stdout)[0] if result.returncode == 0 else {}

    def state(self):
        return self.status().get("state")

    def service_pid(self, other_than=None):
        """armd's one child that is not `other_than` (a killed one not reaped yet)."""
        found = [pid for pid in children(self.process.pid) if pid != other_than]
        return found[0] if found else None

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def kill_under_load(run, port, kills, interval, window_ns, stamps):
    """SIGKILLs the service `kills` times under a Load; the figures of that run."""
    restarts, kill_times = [], []

    def serving(pid):
        if stamps is None:
            return time.monotonic_ns()
        line = next((line for line in stamps.poll() if line[1] == pid), None)
        return line[2] if line else None

    pid = wait_until(run.service_pid, timeout=60)
    wait_until(lambda: serving(pid), timeout=60)
    if stamps is None:
        wait_until(lambda: run.state() == "running", timeout=60)
        time.sleep(0.5)  # lighttpd: no stamp; give it time to listen (bind) or take the socket
    with Load(port, interval) as load:
        time.sleep(0.2)
        for _ in range(kills):
            killed = time.monotonic_ns()
            os.kill(pid, signal.SIGKILL)
            kill_times.append(killed)
            pid = wait_until(lambda: run.service_pid(other_than=pid), timeout=60, step=0.0005)
            ready = wait_until(lambda: serving(pid), timeout=60, step=0.0005)
            restarts.append((ready - killed) / 1e6)
            time.sleep(0.2)
        time.sleep(0.5)  # the last connections of the window are answered
    results = load.results
    outcomes = {}
    for _, _, outcome in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    around = [latency for began, latency, outcome in results if outcome == "ok" and any(
        0 <= began - killed <= window_ns for killed in kill_times)]
    everything = [latency for _, latency, outcome in results if outcome == "ok"]
    return {"requests": len(results), "outcomes": outcomes,
            "refused": outcomes.get("refused", 0),
            "failed": len(results) - outcomes.get("ok", 0),
            "around_p50_ms": percentile(around, 0.5) / 1e6,
            "around_p99_ms": percentile(around, 0.99) / 1e6,
            "around_max_ms": max(around) / 1e6,
            "all_p99_ms": percentile(everything, 0.99) / 1e6,
            "restart_median_ms": statistics.median(restarts),
            "restart_p99_ms": percentile(restarts, 0.99)}


def lighttpd_config(workdir, port, activated):
    root = os.path.join(workdir, "www")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("hello\n")
    path = os.path.join(workdir, f"lighttpd-{port}-{int(activated)}.conf")
    with open(path, "w") as f:
        f.write(f'server.document-root = "{root}"\nserver.bind = "127.0.0.1"\n'
                f'server.port = {port}\nindex-file.names = ("index.html")\n'
                f'server.errorlog = "{workdir}/lighttpd-error.log"\n'
                f'server.systemd-socket-activation = "{"enable" if activated else "disable"}"\n')
    return path


def variants(build, workdir, lighttpd):
    """(label, service TOML given port and stamp file, whether it stamps) of each kill run."""
    service = os.path.join(build, "examples", "listen_fds_http")
    found = [
        ("listen", lambda port, stamp: (
            f'binary = "{service}"\noptions = ["--stamp", "{stamp}"]\n'
            f'listen = ["tcp:127.0.0.1:{port}"]\n'), True),
        ("bind", lambda port, stamp: (
            f'binary = "{service}"\n'
            f'options = ["--bind", "127.0.0.1:{port}", "--stamp", "{stamp}"]\n'), True)]
    if lighttpd:
        found += [
            ("lighttpd-listen", lambda port, stamp: (
                f'binary = "{LIGHTTPD}"\n'
                f'options = ["-D", "-f", "{lighttpd_config(workdir, port, True)}"]\n'
                f'listen = ["tcp:127.0.0.1:{port}"]\n'), False),
            ("lighttpd-bind", lambda port, stamp: (
                f'binary = "{LIGHTTPD}"\n'
                f'options = ["-D", "-f", "{lighttpd_config(workdir, port, False)}"]\n'),
             False)]
    return found


def on_demand(build, workdir, label, service_toml, rounds):
    """First-connection latency of an on-demand service: connect until answered."""
    port = free_port()
    run = ArmdRun(build, workdir, f"{label}-{time.monotonic_ns()}",
                  service_toml(port) + 'start = "on-demand"\n', boot=False)
    samples = []
    try:
        for _ in range(rounds):
            wait_until(lambda: run.state() == "listening", timeout=60, step=0.01)
            _, latency, outcome = http_get(port)
            if outcome != "ok":
                raise RuntimeError(f"on-demand {label}: the first request got {outcome}")
            samples.append(latency / 1e6)
            run.armctl("stop", "web")
    finally:
        run.close()
    return {"median_ms": statistics.median(samples), "max_ms": max(samples)}


def systemd_socket_activate(command, rounds):
    """The same with systemd's own tool for it (systemd-socket-activate, no --accept): it binds,
    and on the first connection spawns the command with the socket. A reference, not a floor."""
    samples = []
    for _ in range(rounds):
        port = free_port()
        tool = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}", *command],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            tool.stderr.readline()  # "Listening on 127.0.0.1:PORT as 3."
            _, latency, outcome = http_get(port)
            if outcome != "ok":
                raise RuntimeError(f"systemd-socket-activate: the first request got {outcome}")
            samples.append(latency / 1e6)
        finally:
            tool.terminate()
            tool.wait(timeout=30)
    return {"median_ms": statistics.median(samples), "max_ms": max(samples)}


def replace_file(path, content):
    """Writes `content` beside `path` and renames it over: one change, never a half-written file."""
    with open(path + ".new", "w") as f:
        f.write(content)
    os.rename(path + ".new", path)


def edit_service(build, workdir, lighttpd, port, stamp, checked):
    """The service of the broken-edit runs: (its TOML, its config file, a good config, a broken
    one, a second good one), lighttpd when installed, else listen_fds_http. Checked: with
    config_check and armd's socket; unchecked (the contrast): neither, as before issue 14."""
    config = os.path.join(workdir, f"edit-{port}.conf")
    if lighttpd:
        good = open(lighttpd_config(workdir, port, checked)).read()
        broken = good + "this is not a lighttpd directive\n"
        fixed = good + "# fixed\n"
        toml = (f'binary = "{LIGHTTPD}"\noptions = ["-D"]\nconfig = "{config}"\n'
                'config_arg = ["-f", "{config}"]\n' +
                (f'config_check = ["{LIGHTTPD}", "-tt", "-f", "{{config}}"]\n' if checked else ""))
    else:
        service = os.path.join(build, "examples", "listen_fds_http")
        good, broken, fixed = "greeting hi\n", "greting hi\n", "greeting hello again\n"
        bind = [] if checked else ["--bind", f"127.0.0.1:{port}"]
        toml = (f'binary = "{service}"\noptions = {json.dumps(["--stamp", stamp, *bind])}\n'
                f'config = "{config}"\nconfig_arg = ["--config", "{{config}}"]\n' +
                (f'config_check = ["{service}", "--check", "--config", "{{config}}"]\n'
                 if checked else ""))
    with open(config, "w") as f:
        f.write(good)
    if checked:
        toml += f'listen = ["tcp:127.0.0.1:{port}"]\n'
    return toml, config, good, broken, fixed


def broken_edits(build, workdir, lighttpd, edits, interval):
    """Broken config edits under load, with config_check (every request of the broken phase must
    be answered) and, once, without it (the contrast)."""
    result = {}
    for checked in (True, False):
        port = free_port()
        stamp = os.path.join(workdir, f"edit-{port}.stamps")
        toml, config, good, broken, fixed = edit_service(build, workdir, lighttpd, port, stamp,
                                                         checked)
        run = ArmdRun(build, workdir, f"edit-{port}-{int(checked)}", toml)
        phases = []  # (start ns, end ns, "broken" | "fix")
        untouched = True
        try:
            wait_until(lambda: run.state() == "running", timeout=60)
            wait_until(lambda: http_get(port, timeout=30)[2] == "ok", timeout=60, step=0.01)
            with Load(port, interval) as load:
                time.sleep(0.2)
                for edit in range(edits if checked else 1):
                    pid = wait_until(run.service_pid, timeout=60)
                    began = time.monotonic_ns()
                    replace_file(config, broken)
                    if checked:
                        wait_until(lambda: "rejected_change" in run.status(), timeout=60,
                                   step=0.005)
                        time.sleep(0.5)
                        status = run.status()
                        untouched &= status["state"] == "running" and status["pid"] == pid
                    else:
                        time.sleep(1.0)
                    fixing = time.monotonic_ns()
                    phases.append((began, fixing, "broken"))
                    replace_file(config, fixed if edit % 2 == 0 else good)
                    wait_until(lambda: (lambda s: s["state"] == "running" and s["pid"] != pid
                                        and "rejected_change" not in s)(run.status()),
                               timeout=60, step=0.005)
                    wait_until(lambda: http_get(port, timeout=30)[2] == "ok", timeout=60,
                               step=0.005)
                    phases.append((fixing, time.monotonic_ns(), "fix"))
                    time.sleep(0.2)
                time.sleep(0.5)
        finally:
            run.close()
        counts = {phase: {"requests": 0, "failed": 0, "latencies": []} for phase in ("broken", "fix")}
        for began, latency, outcome in load.results:
            phase = next((name for start, end, name in phases if start <= began < end), None)
            if phase:
                counts[phase]["requests"] += 1
                counts[phase]["failed"] += outcome != "ok"
                if outcome == "ok":
                    counts[phase]["latencies"].append(latency)
        for figures in counts.values():
            latencies = figures.pop("latencies")
            figures["p99_ms"] = percentile(latencies, 0.99) / 1e6 if latencies else None
            figures["max_ms"] = max(latencies) / 1e6 if latencies else None
        label = "checked" if checked else "unchecked"
        result[label] = {"edits": edits if checked else 1, **counts}
        if checked:
            result[label]["service_untouched"] = untouched
    return result


def install_lighttpd():
    """Debian's lighttpd, installed when missing (as root); False when it cannot be."""
    if os.path.exists(LIGHTTPD):
        return True
    if os.geteuid() != 0:
        return False
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], env=environment, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "lighttpd"], env=environment,
                   capture_output=True)
    return os.path.exists(LIGHTTPD)


def one_repeat(args, workdir, lighttpd):
    service = os.path.join(args.build, "examples", "listen_fds_http")
    result = {"floor_restart_ms": floor_restart_ms(args.build, workdir),
              "startup_ms": {"listen_fds_http": startup_ms(
                  lambda port: [service, "--bind", f"127.0.0.1:{port}"], 20)}}
    if lighttpd:
        result["startup_ms"]["lighttpd"] = startup_ms(
            lambda port: [LIGHTTPD, "-D", "-f", lighttpd_config(workdir, port, False)], 20)
    result["kills"] = {}
    for label, toml, stamped in variants(args.build, workdir, lighttpd):
        port = free_port()
        stamp = os.path.join(workdir, f"{label}-{port}.stamps")
        run = ArmdRun(args.build, workdir, f"{label}-{port}", toml(port, stamp))
        try:
            print(f"  {label}: {args.kills} SIGKILLs", file=sys.stderr, flush=True)
            result["kills"][label] = kill_under_load(
                run, port, args.kills, args.interval_ms / 1000, args.window_ms * 1000000,
                LogTail(stamp) if stamped else None)
        finally:
            run.close()
    rounds = 3 if args.smoke else 10
    result["on_demand"] = {"listen_fds_http": on_demand(
        args.build, workdir, "on-demand", lambda port: (
            f'binary = "{service}"\nlisten = ["tcp:127.0.0.1:{port}"]\n'), rounds)}
    if shutil.which("systemd-socket-activate"):
        result["on_demand_systemd_socket_activate"] = systemd_socket_activate([service], rounds)
    if lighttpd:
        result["on_demand"]["lighttpd"] = on_demand(
            args.build, workdir, "on-demand-lighttpd", lambda port: (
                f'binary = "{LIGHTTPD}"\n'
                f'options = ["-D", "-f", "{lighttpd_config(workdir, port, True)}"]\n'
                f'listen = ["tcp:127.0.0.1:{port}"]\n'), rounds)
    result["broken_edits"] = broken_edits(args.build, workdir, lighttpd, args.edits,
                                          args.interval_ms / 1000)
    return result


def summary(repeats):
    """Ranges over the repeats, as text."""
    def span(values, unit="", digits=1):
        low, high = min(values), max(values)
        return (f"{low:.{digits}f}{unit}" if f"{low:.{digits}f}" == f"{high:.{digits}f}"
                else f"{low:.{digits}f}-{high:.{digits}f}{unit}")
    lines = [f"restart floor (bench/floor, median): {span([r['floor_restart_ms'] for r in repeats], ' ms', 2)}"]
    for name in repeats[0]["startup_ms"]:
        lines.append(f"start-up of {name} (spawn to first answer, median): "
                     f"{span([r['startup_ms'][name] for r in repeats], ' ms', 2)}")
    for label in repeats[0]["kills"]:
        runs = [r["kills"][label] for r in repeats]
        lines.append(
            f"{label}: refused {span([x['refused'] for x in runs], '', 0)}, failed in all "
            f"{span([x['failed'] for x in runs], '', 0)} of "
            f"{span([x['requests'] for x in runs], '', 0)}; around a restart p50 "
            f"{span([x['around_p50_ms'] for x in runs], ' ms')}, p99 "
            f"{span([x['around_p99_ms'] for x in runs], ' ms')}, max "
            f"{span([x['around_max_ms'] for x in runs], ' ms')}; all p99 "
            f"{span([x['all_p99_ms'] for x in runs], ' ms')}; restart median "
            f"{span([x['restart_median_ms'] for x in runs], ' ms', 2)}, p99 "
            f"{span([x['restart_p99_ms'] for x in runs], ' ms', 2)}")
    for name in repeats[0]["on_demand"]:
        lines.append(f"on-demand {name}: first connection answered in (median) "
                     f"{span([r['on_demand'][name]['median_ms'] for r in repeats], ' ms', 2)}, "
                     f"max {span([r['on_demand'][name]['max_ms'] for r in repeats], ' ms', 2)}; "
                     f"bound (start-up + 2 x floor): "
                     f"{span([r['startup_ms'][name] + 2 * r['floor_restart_ms'] for r in repeats], ' ms', 2)}")
    if "on_demand_systemd_socket_activate" in repeats[0]:
        lines.append("on-demand listen_fds_http under systemd-socket-activate (reference): "
                     f"""{span([r['on_demand_systemd_socket_activate']['median_ms']
                               for r in repeats], ' ms', 2)}""")
    service = "lighttpd" if "lighttpd" in repeats[0]["startup_ms"] else "listen_fds_http"
    checked = [r["broken_edits"]["checked"] for r in repeats]
    unchecked = [r["broken_edits"]["unchecked"] for r in repeats]
    lines.append(
        f"broken edits of {service}'s config with config_check ({checked[0]['edits']} per "
        f"repeat): failed {span([x['broken']['failed'] for x in checked], '', 0)} of "
        f"{span([x['broken']['requests'] for x in checked], '', 0)} requests while the broken "
        f"file was in place (p99 {span([x['broken']['p99_ms'] for x in checked], ' ms')}); "
        f"service untouched (same pid, running): "
        f"{all(x['service_untouched'] for x in checked)}; while the fix was applied (a restart "
        f"on armd's socket): failed {span([x['fix']['failed'] for x in checked], '', 0)} of "
        f"{span([x['fix']['requests'] for x in checked], '', 0)}")
    lines.append(
        f"the same broken edit without config_check and listen (1 s until fixed): failed "
        f"{span([x['broken']['failed'] for x in unchecked], '', 0)} of "
        f"{span([x['broken']['requests'] for x in unchecked], '', 0)}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval-ms", type=float, default=5)
    parser.add_argument("--window-ms", type=float, default=100)
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--no-lighttpd", action="store_true")
    parser.add_argument("--json", help="write every repeat's figures to this file")
    parser.add_argument("--smoke", action="store_true",
                        help="5 kills, one repeat, no lighttpd: checks the benchmark works")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    if args.smoke:
        args.kills, args.repeats, args.edits, args.no_lighttpd = 5, 1, 3, True
    lighttpd = not args.no_lighttpd and install_lighttpd()
    if not args.no_lighttpd and not lighttpd:
        print("lighttpd: not installed and could not be (not root, or apt-get failed): skipped",
              file=sys.stderr)
    repeats = []
    with tempfile.TemporaryDirectory(prefix="armd-bench-sockets-") as workdir:
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats}", file=sys.stderr, flush=True)
            repeats.append(one_repeat(args, workdir, lighttpd))
            print(json.dumps(repeats[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(repeats, f, indent=2)
    print(summary(repeats))
    if args.smoke:
        refused = repeats[0]["kills"]["listen"]["refused"]
        if refused:
            sys.exit(f"smoke: {refused} connections refused while armd held the socket")
        edits = repeats[0]["broken_edits"]["checked"]
        if edits["broken"]["failed"] or not edits["service_untouched"]:
            sys.exit(f"smoke: a broken config edit that config_check rejected disturbed the "
                     f"service: {edits}")


if __name__ == "__main__":
    main()
