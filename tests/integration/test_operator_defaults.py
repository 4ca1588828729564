"""Issue 11, part A: what an operator meets first. armd's log lines carry milliseconds; a
crash-looping service stops by default; asking for unlimited restarts is paced and
`--check-config` says so; the README's configuration block is a valid configuration; the demo
edits a scratch copy of examples/, never the clone."""

import os
import re
import signal
import subprocess
import time
import unittest

from harness import ARMD, ArmdTestCase, pid_alive, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class LogTimestamps(ArmdTestCase):
    def test_every_log_line_starts_with_a_timestamp_in_milliseconds(self):
        self.write_config(f"""
            [services.idle]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        self.armctl("start", "idle", check=0)
        lines = wait_for(lambda: [l for l in self.log().splitlines() if "idle" in l],
                         "a log line about idle")
        stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (info|warning|error) ")
        for line in self.log().splitlines():
            self.assertRegex(line, stamp)
        self.assertTrue(lines)


class DefaultsThatProtect(ArmdTestCase):
    def test_a_crash_looping_service_with_the_defaults_ends_failed_saying_why(self):
        crasher = self.script("crasher.sh", "exit 1\n")
        self.write_config(f"""
            [services.crasher]
            binary = "{crasher}"
            """)
        self.start_armd()
        self.armctl("start", "crasher")  # it may crash before armctl hears it ran
        status = self.wait_state("crasher", "failed")
        self.assertIn("restarted 5 times within 60s", status["last_error"])
        self.assertEqual(status["restarts"], 5)

    def test_unlimited_restarts_with_no_backoff_are_paced_by_the_minimum_delay(self):
        crasher = self.script("crasher.sh", "exit 1\n")
        self.write_config(f"""
            [services.crasher]
            binary = "{crasher}"
            backoff_initial = "0"
            max_restarts = "unlimited"
            """)
        self.start_armd()
        self.armctl("start", "crasher")
        first = wait_for(lambda: self.status("crasher")["restarts"] >= 3 and
                         self.status("crasher")["restarts"], "a few restarts")
        start = time.monotonic()
        time.sleep(2)
        later = self.status("crasher")["restarts"]
        elapsed = time.monotonic() - start
        # At least 100 ms apart: no more than 10 a second (plus one at each edge). Without the
        # minimum delay this was hundreds a second.
        self.assertLessEqual(later - first, elapsed * 10 + 2)
        wait_for(lambda: self.status("crasher")["restarts"] > later, "it to go on restarting")
        self.assertNotEqual(self.status("crasher")["state"], "failed")


class CheckConfigWarnings(ArmdTestCase):
    def check(self):
        return subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                              text=True, timeout=30)

    def test_a_service_that_can_crash_loop_without_bound_is_named_with_its_line(self):
        self.write_config(f"""
            [services.bounded]
            binary = "/bin/true"
            [services.endless]
            binary = "/bin/true"
            max_restarts = "unlimited"
            [services.once]
            binary = "/bin/true"
            restart = "never"
            max_restarts = "unlimited"
            """)
        result = self.check()
        self.assertEqual(result.returncode, 0, result.stderr)
        warnings = [l for l in result.stderr.splitlines() if "warning" in l]
        self.assertEqual(warnings, [
            f"armd: warning: {self.config}:6:16: services.endless.max_restarts: endless can "
            "crash-loop without bound: its restarts are unlimited, paced only by the backoff "
            "(100ms, doubling up to 30m)"])
        self.assertIn("valid (3 services)", result.stdout)

    def test_the_defaults_draw_no_warning(self):
        self.write_config("""
            [services.plain]
            binary = "/bin/true"
            """)
        result = self.check()
        self.assertEqual((result.returncode, result.stderr), (0, ""))


def readme_configuration_block():
    """The ```toml block under README.md's "## Configuration" heading, as written."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index("\n## Configuration\n"):]
    start = section.index("```toml\n") + len("```toml\n")
    return section[start:section.index("```\n", start)]


class ReadmeConfiguration(ArmdTestCase):
    def test_the_readme_configuration_block_passes_check_config_as_written(self):
        with open(self.config, "w") as f:
            f.write(readme_configuration_block())
        # The two files it names by relative path, beside it.
        os.mkdir(os.path.join(self.dir, "bin"))
        self.script("bin/web", "exec sleep 100000\n")
        with open(os.path.join(self.dir, "web.conf"), "w") as f:
            f.write("port = 8080\n")
        result = subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual((result.returncode, result.stderr), (0, ""), result.stdout)
        self.assertIn("valid (3 services)", result.stdout)


class Demo(ArmdTestCase):
    """scripts/demo.sh with the armd under test (ARMD_DEMO_BIN skips its build), its scratch
    copy in a TMPDIR whose path holds a space."""

    def start_demo(self):
        self.clock_conf = os.path.join(ROOT, "examples", "services", "clock.conf")
        with open(self.clock_conf, "rb") as f:
            self.clock_conf_before = f.read()
        tmpdir = os.path.join(self.dir, "with space")
        os.mkdir(tmpdir)
        self.output_path = os.path.join(self.dir, "demo.out")
        with open(self.output_path, "w") as output:
            self.demo = subprocess.Popen(
                ["sh", os.path.join(ROOT, "scripts", "demo.sh")],
                env=self.armd_environment({"ARMD_DEMO_BIN": os.path.dirname(os.path.abspath(ARMD)),
                                           "TMPDIR": tmpdir}),
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)

        def suggested_edit():
            with open(self.output_path) as f:
                return re.search(r"echo \"interval = 1\" > '([^']+)'", f.read())
        self.edit_path = wait_for(suggested_edit, "the demo's suggestions").group(1)
        self.scratch = os.path.dirname(os.path.dirname(self.edit_path))
        self.assertTrue(self.scratch.startswith(tmpdir + "/armd-demo."), self.scratch)
        self.socket = os.path.join(self.scratch, "armd.sock")
        with open(self.output_path) as f:
            self.assertIn(f"--socket '{self.socket}' status", f.read())
        wait_for(lambda: os.path.exists(self.socket) and
                 self.status("clock")["state"] == "running", "the demo's clock to run")

    def stop_demo_if_left(self):
        if self.demo.poll() is None:
            os.killpg(self.demo.pid, signal.SIGKILL)
            self.demo.wait()

    def check_scratch_removed_and_clone_untouched(self):
        wait_for(lambda: not os.path.exists(self.scratch), "the scratch copy to be removed")
        with open(self.clock_conf, "rb") as f:
            self.assertEqual(f.read(), self.clock_conf_before)

    def test_the_demo_runs_on_a_scratch_copy_it_removes_and_leaves_the_clone_alone(self):
        try:
            self.start_demo()
            first_pid = self.status("clock")["pid"]
            with open(self.edit_path, "w") as f:  # the edit the demo suggests
                f.write("interval = 1\n")
            wait_for(lambda: self.status("clock")["pid"] not in (None, first_pid),
                     "clock to restart on its copied config")
            # Ctrl-C: the terminal signals the whole foreground group.
            os.killpg(self.demo.pid, signal.SIGINT)
            self.assertEqual(self.demo.wait(timeout=30), 0)
        finally:
            self.stop_demo_if_left()
        self.check_scratch_removed_and_clone_untouched()

    def test_sigterm_to_the_demos_pid_stops_armd_and_its_services_and_removes_the_copy(self):
        try:
            self.start_demo()
            clock = self.status("clock")["pid"]
            self.demo.send_signal(signal.SIGTERM)  # `kill PID`, not the whole group
            self.assertEqual(self.demo.wait(timeout=30), 0)
            wait_for(lambda: not pid_alive(clock), "the demo's clock to be stopped with armd")
        finally:
            self.stop_demo_if_left()
        self.check_scratch_removed_and_clone_untouched()


if __name__ == "__main__":
    unittest.main()
