"""Crashes, configuration-file changes, term_ignorer processes and grandchildren, for real."""

import os
import time
import unittest

from harness import ArmdTestCase, children_of, pid_alive, wait_for


class Restarts(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "svc.conf")
        with open(self.conf, "w") as f:
            f.write("version = 1\n")
        sleeper = self.sleeper()
        self.args_file = os.path.join(self.dir, "args")
        configured = self.script("configured.sh", f"""
            echo "$@" > {self.args_file}
            exec sleep 100000
            """)
        crasher = self.script("crasher.sh", "sleep 0.2; exit 7\n")
        exit78 = self.script("exit78.sh", "exit 78\n")
        term_ignorer = self.script("term_ignorer.sh", """
            trap '' TERM
            while :; do sleep 1; done
            """)
        self.grandchild_file = os.path.join(self.dir, "grandchild")
        forker = self.script("forker.sh", f"""
            sh -c 'trap "" TERM; exec sleep 100000' &
            echo $! > {self.grandchild_file}
            wait
            """)
        self.write_config(f"""
            [services.configured]
            binary = "{configured}"
            config = "{self.conf}"
            debug = true
            options = "--alpha beta"
            [services.crasher]
            binary = "{crasher}"
            backoff_initial = "50ms"
            backoff_max = "200ms"
            [services.limited]
            binary = "{crasher}"
            backoff_initial = "10ms"
            max_restarts = 2
            restart_window = "60s"
            [services.permanent]
            binary = "{exit78}"
            permanent_failure_exit_codes = [78]
            [services.term_ignorer]
            binary = "{term_ignorer}"
            stop_timeout = "300ms"
            [services.forker]
            binary = "{forker}"
            [services.sleeper]
            binary = "{sleeper}"
            """)
        self.start_armd()

    def test_argv_follows_the_original_order(self):
        self.armctl("start", "configured", check=0)
        wait_for(lambda: os.path.exists(self.args_file) and os.path.getsize(self.args_file),
                 "the service to record its arguments")
        with open(self.args_file) as f:
            self.assertEqual(f.read().split(), ["-c", self.conf, "-L", "DEBUG", "--alpha", "beta"])

    def test_a_crashed_service_comes_back_with_a_new_pid(self):
        self.armctl("start", "crasher", check=0)
        first = self.status("crasher")["pid"]
        crashed = wait_for(lambda: (lambda s: s if s["restarts"] >= 2 else None)(
            self.status("crasher")), "two automatic restarts")
        self.assertEqual(crashed["last_exit"]["code"], 7)
        self.assertFalse(pid_alive(first))

    def test_a_killed_service_is_restarted(self):
        self.armctl("start", "sleeper", check=0)
        pid = self.status("sleeper")["pid"]
        os.kill(pid, 9)
        again = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] != pid
                                  else None)(self.status("sleeper")), "a new sleeper")
        self.assertEqual(again["last_exit"]["signal"], 9)
        self.assertEqual(again["restarts"], 1)

    def test_a_changed_config_file_restarts_the_service(self):
        self.armctl("start", "configured", "sleeper", check=0)
        old = self.status("configured")["pid"]
        other = self.status("sleeper")["pid"]
        time.sleep(0.05)
        with open(self.conf, "w") as f:
            f.write("version = 2\n")
        wait_for(lambda: (lambda s: s["state"] == "running" and s["pid"] != old)(
            self.status("configured")), "the service to restart after its config changed")
        self.assertFalse(pid_alive(old))
        self.assertEqual(self.status("sleeper")["pid"], other)

    def test_a_service_that_ignores_sigterm_is_killed_after_its_stop_timeout(self):
        self.armctl("start", "term_ignorer", check=0)
        pid = self.status("term_ignorer")["pid"]
        self.armctl("stop", "term_ignorer", check=0)
        self.assertFalse(pid_alive(pid))
        self.assertIn("SIGKILL", self.log())

    def test_a_grandchild_is_gone_after_stop(self):
        self.armctl("start", "forker", check=0)
        grandchild = int(wait_for(lambda: os.path.exists(self.grandchild_file) and
                                  open(self.grandchild_file).read().strip(),
                                  "the grandchild's pid"))
        self.assertTrue(pid_alive(grandchild))
        self.armctl("stop", "forker", check=0)
        wait_for(lambda: not pid_alive(grandchild), "the grandchild to be gone")

    def test_a_crash_loop_past_max_restarts_fails_and_reset_clears_it(self):
        self.armctl("start", "limited", check=0)
        failed = self.wait_state("limited", "failed")
        self.assertEqual(failed["restarts"], 2)
        self.assertIn("restarted 2 times", failed["last_error"])
        self.assertIsNone(failed["next_restart_in_ms"])
        result = self.armctl("reset", "limited", check=0)
        self.assertIn("reset", result.stdout)
        self.assertEqual(self.status("limited")["state"], "stopped")
        self.armctl("reset", "nope", check=3)

    def test_a_permanent_failure_exit_code_is_not_restarted(self):
        self.armctl("start", "permanent")  # may already have exited when the reply is sent
        failed = self.wait_state("permanent", "failed")
        self.assertEqual(failed["last_exit"]["code"], 78)
        self.assertEqual(failed["restarts"], 0)
        self.assertIn("permanent failure", failed["last_error"])

    def test_no_zombies_are_left_behind(self):
        self.armctl("start", "crasher", "sleeper", check=0)
        wait_for(lambda: self.status("crasher")["restarts"] >= 2, "some crashes")
        self.armctl("stop", "crasher", "sleeper", check=0)
        zombies = [pid for pid, state in children_of(self.armd.pid) if state == "Z"]
        self.assertEqual(zombies, [])


if __name__ == "__main__":
    unittest.main()
