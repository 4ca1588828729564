"""File descriptors at scale (issue 12): armd raises its own RLIMIT_NOFILE, its services keep the
one armd was started with, and a start that runs out of descriptors says so."""

import os
import re
import unittest

from harness import ArmdTestCase, pid_alive, wait_for


def nofile_of(pid):
    """(soft, hard) 'Max open files' of a process, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError(f"no 'Max open files' in /proc/{pid}/limits")


class DescriptorLimits(ArmdTestCase):
    def test_armd_raises_its_own_limit_and_its_services_get_the_one_it_was_started_with(self):
        seen = os.path.join(self.dir, "limits.txt")
        script = self.script("limits.sh", f"""
            echo "$(ulimit -Sn) $(ulimit -Hn)" > {seen}.tmp && mv {seen}.tmp {seen}
            exec sleep 100000
            """)
        self.write_config(f"""
            [services.counter]
            binary = "{script}"
            restart = "never"
            """)
        self.start_armd(nofile=(512, 4096))
        self.armctl("start", "counter", check=0)
        wait_for(lambda: os.path.exists(seen), "the service to write its limits")
        with open(seen) as f:
            self.assertEqual(f.read().split(), ["512", "4096"])
        soft, hard = nofile_of(self.armd.pid)
        # The hard limit is raised too where armd may (CAP_SYS_RESOURCE); the soft one always.
        self.assertGreaterEqual(hard, 4096)
        self.assertEqual(soft, hard)
        self.assertRegex(self.log(), r"descriptor limit raised from 512/4096 to \d+/\d+ "
                                     r"\(soft/hard\); services get 512/4096")

    def test_a_start_that_runs_out_of_descriptors_names_the_cause_and_armd_serves_on(self):
        sleeper = self.sleeper()
        count = 40  # three descriptors each (pidfd, stdout and stderr pipes): more than 64 holds
        self.write_config("".join(f"""
            [services.s{i:02}]
            binary = "{sleeper}"
            restart = "never"
            """ for i in range(count)))
        self.start_armd(nofile=(64, 64))
        started = {}
        refused = None
        for i in range(count):
            name = f"s{i:02}"
            result = self.armctl("start", name)
            if result.returncode != 0:
                refused = (name, result)
                break
            started[name] = self.status(name)["pid"]
        self.assertIsNotNone(refused, "every start succeeded: the limit was never reached")
        self.assertGreater(len(started), 5)
        name, result = refused
        cause = re.compile(rf"cannot start {name}: out of file descriptors \(armd holds \d+ of "
                           r"its limit of 64; each running service holds a pidfd and one pipe "
                           r"per captured output stream: see docs/config.md\)")
        self.assertRegex(result.stdout + result.stderr, cause)
        status = self.status(name)
        self.assertEqual(status["state"], "failed")
        self.assertRegex(status["last_error"], cause)
        # armd serves on, and what it started before is untouched.
        for earlier, pid in started.items():
            self.assertEqual(self.status(earlier)["state"], "running")
            self.assertEqual(self.status(earlier)["pid"], pid)
            self.assertTrue(pid_alive(pid))
        # Descriptors given back by a stop are enough for the refused service.
        first = next(iter(started))
        self.armctl("stop", first, check=0)
        self.armctl("start", name, check=0)
        self.assertEqual(self.status(name)["state"], "running")


if __name__ == "__main__":
    unittest.main()
