"""armctl import (issue 17 item 3): the TOML it prints for real-world-shaped supervisord and
systemd files passes armd --check-config, and armd runs it with the argv the original would have
used. The fixtures are tests/config/import/ (their expected TOML is checked by the unit tests);
these use the ones whose programs every Debian machine has (/bin/sleep, /bin/sh, python3)."""

import os
import subprocess
import unittest

from harness import ARMCTL, ARMD, DEADLINE, ArmdTestCase, wait_for

FIXTURES = os.environ.get("IMPORT_FIXTURES", "tests/config/import")


def read_cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [word.decode() for word in f.read().split(b"\0")[:-1]]


class Import(ArmdTestCase):
    def import_file(self, name, *extra):
        return subprocess.run([ARMCTL, "import", os.path.join(FIXTURES, name), *extra],
                              capture_output=True, text=True, timeout=DEADLINE)

    def import_into_config(self, name):
        result = self.import_file(name)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(self.config, "w") as f:
            f.write(result.stdout)
        check = subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                               text=True, timeout=DEADLINE)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        return result

    def test_a_supervisord_file_runs_under_armd_with_its_programs_and_instances(self):
        result = self.import_into_config("sleepers.conf")
        self.assertIn("armd names the instances ticker@0", result.stderr)
        self.start_armd()
        sleeper = self.wait_state("sleeper", "running")
        self.assertEqual(read_cmdline(sleeper["pid"]), ["/bin/sleep", "1000"])
        for instance in ("ticker@0", "ticker@1"):
            ticker = self.wait_state(instance, "running")
            self.assertEqual(read_cmdline(ticker["pid"])[:2], ["/usr/bin/python3", "-c"])

    def test_a_systemd_unit_runs_with_the_argv_systemd_would_build(self):
        self.import_into_config("quoting.service")
        self.start_armd()
        self.armctl("start", "quoting", check=0)
        # The script prints its environment's GREETING, then each of its arguments in brackets.
        expected = ["hello world hello world AA", "[arg0-of-script]", "[two words]",
                    '[single "quoted"]', "[back\\slash]", "[hello world]", "[hello]", "[world]"]

        def printed():
            logs = self.armctl("logs", "quoting", "-n", "50", check=0).stdout
            return logs if all(line in logs for line in expected) else None

        wait_for(printed, "the script's output")

    def test_a_syntax_error_exits_2_naming_file_and_line_with_nothing_on_stdout(self):
        bad = os.path.join(self.dir, "bad.service")
        with open(bad, "w") as f:
            f.write("[Service]\nExecStart=/bin/sh -c 'unterminated\n")
        result = subprocess.run([ARMCTL, "import", bad], capture_output=True, text=True,
                                timeout=DEADLINE)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stdout, "")
        self.assertIn(f"{bad}:2:1: ExecStart: no closing", result.stderr)

    def test_a_failed_write_of_the_toml_is_an_error_not_a_success(self):
        # `armctl import X > armd.toml` on a full disk must not report success.
        with open("/dev/full", "w") as full:
            result = subprocess.run([ARMCTL, "import", os.path.join(FIXTURES, "nginx.service")],
                                    stdout=full, stderr=subprocess.PIPE, text=True,
                                    timeout=DEADLINE)
        self.assertEqual(result.returncode, 1)
        self.assertIn("writing the TOML to standard output: No space left on device",
                      result.stderr)

    def test_a_systemd_service_does_not_inherit_armds_environment(self):
        unit = os.path.join(self.dir, "envleak.service")
        with open(unit, "w") as f:
            f.write("[Service]\nExecStart=/bin/sh -c 'echo \"token=[$SECRET_TOKEN] path=$PATH\"; "
                    "exec sleep 100'\n")
        result = subprocess.run([ARMCTL, "import", unit], capture_output=True, text=True,
                                timeout=DEADLINE)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(self.config, "w") as f:
            f.write(result.stdout)
        self.start_armd(env={"SECRET_TOKEN": "hunter2"})
        self.armctl("start", "envleak")

        def printed():
            logs = self.armctl("logs", "envleak").stdout
            return logs if "token=" in logs else None

        logs = wait_for(printed, "the service's output")
        self.assertIn("token=[]", logs)
        self.assertIn("path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", logs)

    def test_a_file_of_no_known_format_is_refused_with_a_hint(self):
        other = os.path.join(self.dir, "other.ini")
        with open(other, "w") as f:
            f.write("[unix_http_server]\nfile=/run/s.sock\n")
        result = subprocess.run([ARMCTL, "import", other], capture_output=True, text=True,
                                timeout=DEADLINE)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stdout, "")
        self.assertIn("--from supervisord", result.stderr)
        forced = subprocess.run([ARMCTL, "import", other, "--from", "supervisord"],
                                capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(forced.returncode, 2)
        self.assertIn("no [program:NAME] section", forced.stderr)


if __name__ == "__main__":
    unittest.main()
