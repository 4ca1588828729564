"""Runs the real armd and armctl against real processes, for the integration tests.

Each test gets a scratch directory holding its config, its service scripts and the control
socket. Waits use generous deadlines and poll the observable state; no test asserts a timing.
"""

import json
import os
import resource
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
import unittest

ARMD = os.environ.get("ARMD", "build/armd/armd")
ARMCTL = os.environ.get("ARMCTL", "build/armd/armctl")
DEADLINE = 30.0  # seconds; far beyond what any step needs on a loaded machine


def wait_for(predicate, what, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


def pid_alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def environment_with(changes):
    """This process's environment with `changes` applied; a value of None removes a variable."""
    environment = dict(os.environ)
    for name, value in (changes or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


# Every process a test starts carries this variable (armd passes its environment on to its
# services, and they to theirs), with the test's scratch directory as its value: tearDown finds
# whatever is left by it, whether a service's background child or a process that escaped armd.
TAG = "ARMD_TEST_TAG"


def tagged_processes(tag):
    """Pids of the processes whose environment carries TAG=tag."""
    wanted = f"{TAG}={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if wanted in f.read().split(b"\0"):
                    found.append(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def rss_kib(pid):
    """The resident set of `pid`, in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append((int(entry), fields[0]))
    return found


def own_cgroup_directory():
    """This process's cgroup v2 directory (the cgroup2 mount may not be /sys/fs/cgroup), or None."""
    mount_root = mount_point = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            before, _, after = line.partition(" - ")
            if after.split()[0] == "cgroup2":
                fields = before.split()
                mount_root, mount_point = fields[3], fields[4]
                break
    if mount_point is None:
        return None
    with open("/proc/self/cgroup") as f:
        path = next((line[3:].strip() for line in f if line.startswith("0::")), None)
    if path is None:
        return None
    if mount_root != "/" and path.startswith(mount_root):
        path = path[len(mount_root):]
    return mount_point + (path if path != "/" else "")


def instance_cgroup(socket_path, parent=None):
    """The cgroup directory armd makes for its services, for the socket it serves (as armd names
    it: the socket's file name and a FNV-1a hash of its path)."""
    parent = parent or own_cgroup_directory()
    if parent is None:
        return None
    socket_path = os.path.realpath(socket_path)  # as armd canonicalizes it
    value = 14695981039346656037
    for byte in socket_path.encode():
        value ^= byte
        value = (value * 1099511628211) % (1 << 64)
    base = "".join(c if c.isalnum() or c in "._-" else "_" for c in os.path.basename(socket_path))
    return os.path.join(parent, f"armd.{base}.{value & 0xffffffff:08x}")


def remove_cgroup_tree(directory):
    """Kills what is in `directory`'s cgroups and removes them, deepest first."""
    if not directory or not os.path.isdir(directory):
        return
    for root, dirs, _ in os.walk(directory, topdown=False):
        for name in dirs:
            child = os.path.join(root, name)
            try:
                with open(os.path.join(child, "cgroup.kill"), "w") as f:
                    f.write("1")
            except OSError:
                pass
            wait_for(lambda: _rmdir(child), f"cgroup {child} to empty")
    wait_for(lambda: _rmdir(directory), f"cgroup {directory} to empty")


def _rmdir(path):
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


class ArmdTestCase(unittest.TestCase):
    """A scratch directory, scripts in it, and an armd that is stopped after the test."""

    def setUp(self):
        self._scratch = tempfile.TemporaryDirectory(prefix="armd-test-")
        self.dir = self._scratch.name
        # A name of its own, so that scripts/check-leftovers.sh knows the tests' cgroups
        # (armd names its cgroup directory after its socket).
        self.socket = os.path.join(self.dir, "armd-test.sock")
        self.config = os.path.join(self.dir, "armd.toml")
        self.armd = None
        self.log_path = os.path.join(self.dir, "armd.log")

    def tearDown(self):
        if self.armd and self.armd.poll() is None:
            # An orderly shutdown first: armd stops every service's process group.
            self.armd.send_signal(signal.SIGTERM)
            try:
                self.armd.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.armd.send_signal(signal.SIGKILL)
                self.armd.wait()
        if self.armd:
            self._log.close()
        self.sweep()
        # A test that SIGKILLed armd leaves its services' cgroups behind.
        remove_cgroup_tree(instance_cgroup(self.socket))
        self._scratch.cleanup()

    def sweep(self):
        """Kills whatever this test started that is still running (a test that SIGKILLed armd
        leaves its services' children behind: only the services themselves die with armd)."""
        for _ in range(100):
            left = [pid for pid in tagged_processes(self.dir) if pid_alive(pid)]
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"processes of this test survive SIGKILL: {left}")

    def armd_environment(self, changes=None):
        """The environment armd runs with: `changes` applied, and this test's tag."""
        return environment_with({**(changes or {}), TAG: self.dir})

    # --- building a world ---------------------------------------------------------------------

    def script(self, name, body):
        """Writes an executable /bin/sh script and returns its path."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + textwrap.dedent(body))
        os.chmod(path, 0o755)
        return path

    def sleeper(self, name="sleeper.sh"):
        return self.script(name, "exec sleep 100000\n")

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(textwrap.dedent(text))

    def start_armd(self, *extra, wait=True, socket_flag=True, env=None, nofile=None, program=None):
        """Starts armd on this test's config, told its socket (self.socket) with --socket unless
        `socket_flag` is false; `env` changes its environment (see environment_with); `nofile`,
        a (soft, hard) pair, is the RLIMIT_NOFILE armd is started with; `program`, another copy
        of armd to run."""
        self._log = open(self.log_path, "w")
        command = [program or ARMD, "--config", self.config]
        if socket_flag:
            command += ["--socket", self.socket]
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile)) if nofile else None
        self.armd = subprocess.Popen(command + list(extra), env=self.armd_environment(env),
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=limit)
        if wait:
            wait_for(self._answers_hello, "armd to accept connections")
        return self.armd

    def _answers_hello(self):
        if self.armd.poll() is not None:
            raise AssertionError(f"armd exited with {self.armd.returncode}:\n{self.log()}")
        try:
            with self.connect() as conn:
                return conn.read_line().get("hello") == "armd"
        except OSError:
            return False

    def log(self):
        try:
            # armd's log holds the bytes of a path that is not UTF-8 as they are.
            with open(self.log_path, errors="backslashreplace") as f:
                return f.read()
        except FileNotFoundError:
            return "(armd was not started)"

    # --- talking to it ------------------------------------------------------------------------

    def armctl(self, *args, json_output=False, check=None, timeout=DEADLINE):
        command = [ARMCTL, "--socket", self.socket]
        if json_output:
            command.append("--json")
        result = subprocess.run(command + list(args), capture_output=True, text=True,
                                timeout=timeout)
        if check is not None:
            self.assertEqual(result.returncode, check,
                             f"armctl {' '.join(args)}: stdout={result.stdout!r} "
                             f"stderr={result.stderr!r}\narmd log:\n{self.log()}")
        return result

    def status(self, name=None):
        args = ["status"] + ([name] if name else [])
        result = self.armctl(*args, json_output=True, check=0)
        services = json.loads(result.stdout)
        if name:
            return services[0]
        return {s["name"]: s for s in services}

    def wait_state(self, name, state):
        return wait_for(lambda: (lambda s: s if s["state"] == state else None)(self.status(name)),
                        f"{name} to be {state}")

    def connect(self):
        return Connection(self.socket)


class Connection:
    """A raw protocol connection, for speaking JSON lines (or garbage) directly."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(DEADLINE)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()  # while armd is not listening yet, wait_for retries many times
            raise
        self.buffer = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, **fields):
        self.send_raw(json.dumps(fields).encode() + b"\n")

    def read_line(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by armd")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def closed_by_peer(self):
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
