"""What the benchmark reads from /proc and from the markers' log, and how it waits."""

import os
import select
import time


class LogTail:
    """The markers' log, read incrementally: (name, pid, ns) lines in the order written."""

    def __init__(self, path):
        self.path, self.offset, self.lines, self.partial = path, 0, [], ""

    def poll(self):
        try:
            with open(self.path) as f:
                f.seek(self.offset)
                chunk = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return self.lines
        text = self.partial + chunk
        *complete, self.partial = text.split("\n")
        for line in complete:
            name, pid, ns = line.split()
            self.lines.append((name, int(pid), int(ns)))
        return self.lines


def wait_until(predicate, timeout=300, step=0.002):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("benchmark step timed out")


def cpu_and_switches(pids):
    """CPU seconds (user + system) and context switches, summed over `pids` that still exist."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = 0.0
    switches = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if "ctxt_switches" in line:
                        switches += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return cpu, switches


def memory_kib(pids):
    """RSS and PSS in KiB, summed over `pids`."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return rss, pss


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def command_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


class ExitWatch:
    """pidfds for processes that are not ours: readable once each has exited."""

    def __init__(self, pids):
        self.fds = {}
        for pid in pids:
            try:
                self.fds[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                pass

    def wait_all(self, timeout=120):
        """Waits until every watched process has exited; returns the monotonic ns it happened."""
        poller = select.poll()
        for fd in self.fds:
            poller.register(fd, select.POLLIN)
        left = len(self.fds)
        end = time.monotonic() + timeout
        while left:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{left} service processes outlived the stop")
            for fd, _ in poller.poll(remaining * 1000):
                poller.unregister(fd)
                left -= 1
        done = time.monotonic_ns()
        for fd in self.fds:
            os.close(fd)
        return done
