"""An embedding example (examples/embed_*.cpp, issue 16) does what it shows: run with
examples/embed.toml, it reports the crashing service's crash and its restart, and on SIGTERM it
stops both services and exits 0, leaving no process of theirs behind.

Environment: EXAMPLE (the example's binary), CONFIG (examples/embed.toml)."""

import os
import queue
import re
import signal
import subprocess
import threading
import time
import unittest

EXAMPLE = os.environ["EXAMPLE"]
CONFIG = os.environ["CONFIG"]
# Generous: the machine is shared and often loaded (3x what the slowest run took, and more).
EVENT_TIMEOUT = 30
EXIT_TIMEOUT = 30


def process_stat(pid):
    """(ppid, process group, start time) of `pid`, or None when there is no such process or it
    has exited (a zombie: a grandchild whose parent died with it waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, ...
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[2]), int(fields[19])


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


class Output:
    """The example's output, line by line, read by a thread so that waits have deadlines."""

    def __init__(self, stream):
        self.lines = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern, timeout=EVENT_TIMEOUT):
        """The first line from now on that matches `pattern`; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s; "
                                     "output so far:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    def rest(self):
        """Every line until the stream closes (the example has exited)."""
        self._thread.join(timeout=10)  # EOF, unless a survivor holds the pipe open
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return self.lines
            if line is not None:
                self.lines.append(line)


class EmbeddingExample(unittest.TestCase):
    def setUp(self):
        self.example = subprocess.Popen([EXAMPLE, CONFIG], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.children = {}  # pid -> (process group, start time), of every process seen

    def tearDown(self):
        # Whatever happened, nothing stays: the example, then what is left of its children's
        # process groups (each child leads its own), each only while it is the process we saw.
        if self.example.poll() is None:
            self.example.kill()
            self.example.wait()
        for pid, (group, started) in self.children.items():
            stat = process_stat(pid)
            if stat is not None and stat[2] == started:
                try:
                    os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.example.stdout.close()

    def note_children(self):
        """Records the example's children and the processes in their process groups."""
        stats = {pid: process_stat(pid) for pid in all_pids()}
        leaders = {pid for pid, stat in stats.items()
                   if stat is not None and stat[0] == self.example.pid}
        for pid, stat in stats.items():
            if stat is not None and (pid in leaders or stat[1] in leaders):
                self.children[pid] = (stat[1], stat[2])

    def survivors(self):
        return [f"{pid} ({command_line(pid)})" for pid, (_, started) in self.children.items()
                if (stat := process_stat(pid)) is not None and stat[2] == started]

    def test_a_crash_is_restarted_and_sigterm_stops_everything_then_exits_0(self):
        output = Output(self.example.stdout)
        output.wait_for(r"^sleeper: \w+ -> running\b")
        output.wait_for(r"^crasher: running -> backoff\b")  # the crash
        output.wait_for(r"^crasher: backoff -> (starting|running)\b")  # the restart
        self.note_children()
        sleepers = [pid for pid in self.children if command_line(pid) == "sleep 1000"]
        self.assertEqual(len(sleepers), 1, f"the long-running service, among {self.children}")

        self.example.send_signal(signal.SIGTERM)
        try:
            code = self.example.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"still running {EXIT_TIMEOUT} s after SIGTERM:\n" +
                      "\n".join(output.rest()))
        lines = output.rest()
        self.assertEqual(code, 0, "\n".join(lines))
        self.assertIn("every service stopped", lines)
        self.assertTrue(any(re.match(r"^sleeper: stopping -> stopped\b", line)
                            for line in lines), "\n".join(lines))
        # A process of a service's group (the crasher's `sleep`) killed with it may still be on
        # its way out when the example has exited (not running, its memory gone, not yet a
        # zombie): give it a moment, then nothing may be left.
        deadline = time.monotonic() + EXIT_TIMEOUT
        while self.survivors() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.survivors(), [])


if __name__ == "__main__":
    unittest.main()
