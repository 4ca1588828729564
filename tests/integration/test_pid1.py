"""armd as PID 1 (issue 15, the container case): in a PID namespace of its own, as a container
engine starts it, armd runs its boot services, answers armctl, and a SIGTERM from outside (what
`podman stop` sends) stops every service and ends it with exit 0."""

import os
import shutil
import signal
import subprocess
import unittest

from harness import ARMD, DEADLINE, ArmdTestCase, wait_for


def namespace_pids(pid):
    """The pid of `pid` in each PID namespace it is in, outermost first (NSpid)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(n) for n in line.split()[1:]]
    return []


class Pid1(ArmdTestCase):
    def test_armd_as_pid_1_runs_its_services_and_stops_them_on_sigterm(self):
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare(1) for a PID namespace")
        self.write_config(f"""
            [services.web]
            binary = "{self.sleeper()}"
            start = "boot"
            """)
        self._log = open(self.log_path, "w")
        # unshare forks armd into the new namespace and waits for it, exiting with its status.
        self.armd = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", ARMD, "--config",
             self.config, "--socket", self.socket],
            env=self.armd_environment(), stdout=self._log, stderr=subprocess.STDOUT)
        wait_for(self._answers_hello, "armd to accept connections")
        web = self.wait_state("web", "running")
        armd_pids = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                     if self._parent(pid) == self.armd.pid]
        self.assertEqual(len(armd_pids), 1, "unshare's one child, armd")
        armd = armd_pids[0]
        self.assertEqual(namespace_pids(armd)[-1], 1, "armd is PID 1 in its namespace")
        # web is armd's child, and the pid armd reports is the namespace's.
        children = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                    if self._parent(pid) == armd]
        self.assertIn(web["pid"], [namespace_pids(pid)[-1] for pid in children])
        os.kill(armd, signal.SIGTERM)  # from outside, as an engine's stop
        self.assertEqual(self.armd.wait(timeout=DEADLINE), 0, self.log())
        self.assertIn("every service is stopped; exiting", self.log())

    @staticmethod
    def _parent(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            return None


if __name__ == "__main__":
    unittest.main()
