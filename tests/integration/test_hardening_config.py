"""Issue 10, config input and one armd per socket: hostile or mistaken files and sockets are
refused with an error that names them, and never crash, block or mislead armd."""

import os
import signal
import subprocess
import unittest

from harness import ARMD, ArmdTestCase, pid_alive, wait_for

PARTS = 50_000  # a few hundred KiB of text; each of these overflowed toml++'s stack


def dotted_key():
    return ".".join(["a"] * PARTS) + " = 1\n"


def table_header():
    return "[" + ".".join(["a"] * PARTS) + "]\n"


def deep_arrays():
    return "x = " + "[" * PARTS + "]" * PARTS + "\n"


def deep_inline_tables():
    return "x = " + "{a = " * PARTS + "1" + "}" * PARTS + "\n"


class CheckConfig(ArmdTestCase):
    """`armd --check-config`: exit 0 valid, 2 not — never a signal, never a wait."""

    def check(self, timeout=30):
        return subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                              text=True, timeout=timeout)

    def write_raw(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def test_keys_and_nesting_beyond_the_limits_exit_2_with_their_file_and_line(self):
        service = f'[services.web]\nbinary = "{self.sleeper()}"\n'
        for name, shape in (("dotted key", dotted_key), ("table header", table_header),
                            ("arrays", deep_arrays), ("inline tables", deep_inline_tables)):
            with self.subTest(name):
                self.write_raw(service + "# the line below is too deep\n" + shape())
                result = self.check()
                # Before: -11 (SIGSEGV) for the key and the header.
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(f"armd: {self.config}:4:", result.stderr)
                self.assertIn("armd accepts at most 64", result.stderr)

    def test_a_fifo_is_refused_at_once(self):
        os.mkfifo(self.config)
        result = self.check()  # before: blocked in open(2) until the timeout
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"{self.config}: a FIFO; armd reads its configuration only from a regular "
                      "file", result.stderr)

    def test_a_file_larger_than_8_MiB_is_refused(self):
        with open(self.config, "w") as f:
            f.write(f'[services.web]\nbinary = "{self.sleeper()}"\n')
            f.write("#" + "x" * (8 * 1024 * 1024) + "\n")
        result = self.check()
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"{self.config}: larger than 8 MiB", result.stderr)

    def test_programs_and_config_files_that_do_not_exist_are_each_reported_at_their_key(self):
        missing = os.path.join(self.dir, "missing")
        self.write_config(f"""
            [services.path]
            binary = "{missing}/server"
            [services.bare]
            binary = "no-such-program-anywhere"
            [services.conf]
            binary = "{self.sleeper()}"
            config = "{missing}/conf.ini"
            [services.fine]
            binary = "sleep"
            """)
        result = self.check()
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"armd: {self.config}:3:10: services.path.binary: cannot execute "
                      f"{missing}/server: No such file or directory", result.stderr)
        self.assertIn(f"armd: {self.config}:5:10: services.bare.binary: cannot execute "
                      "no-such-program-anywhere: no executable of that name in PATH",
                      result.stderr)
        self.assertIn(f"armd: {self.config}:8:10: services.conf.config: {missing}/conf.ini: "
                      "No such file or directory", result.stderr)
        self.assertNotIn("services.fine", result.stderr)
        self.assertIn("3 of the files it names are missing", result.stderr)

    def test_the_program_checked_is_the_one_the_prefix_rules_run(self):
        self.write_config(f"""
            [arm]
            global_prefix = "no-such-wrapper --quiet"
            [services.wrapped]
            binary = "{self.sleeper()}"
            [services.unwrapped]
            binary = "{self.sleeper()}"
            prefix = []
            """)
        result = self.check()
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"armd: {self.config}:3:17: arm.global_prefix: cannot execute "
                      "no-such-wrapper: no executable of that name in PATH", result.stderr)
        self.assertIn("(it starts wrapped)", result.stderr)

    def test_armd_itself_still_starts_with_a_missing_program_and_the_spawn_says_why(self):
        missing = os.path.join(self.dir, "not-installed-yet")
        self.write_config(f"""
            [services.later]
            binary = "{missing}"
            """)
        self.start_armd()
        result = self.armctl("start", "later", check=1)
        self.assertIn(missing, result.stdout + result.stderr)
        # Installed later, it starts.
        os.symlink(self.sleeper(), missing)
        self.armctl("start", "later", check=0)


class Reload(ArmdTestCase):
    """A reload (armctl or SIGHUP) of a hostile file is refused; armd and its services go on."""

    def setUp(self):
        super().setUp()
        self.good = f"""
            [arm]
            default_services = ["web"]
            [services.web]
            binary = "{self.sleeper()}"
            """
        self.write_config(self.good)
        self.start_armd()
        self.web = self.wait_state("web", "running")["pid"]

    def write_raw(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def assert_undisturbed(self):
        self.assertIsNone(self.armd.poll(), f"armd died:\n{self.log()}")
        web = self.status("web")
        self.assertEqual((web["state"], web["pid"]), ("running", self.web))
        self.assertTrue(pid_alive(self.web))

    def test_armctl_reload_of_a_key_of_50000_parts_is_refused_with_its_line(self):
        for shape in (dotted_key, table_header, deep_arrays):
            with self.subTest(shape.__name__):
                self.write_raw("[arm]\n" + shape())
                result = self.armctl("reload", check=2)  # before: armd died, and web with it
                self.assertIn(f"reload refused, the running configuration stays: "
                              f"{self.config}:2:", result.stderr)
                self.assert_undisturbed()

    def test_sighup_with_a_table_header_of_50000_parts_leaves_armd_running(self):
        self.write_raw(table_header())
        self.armd.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in self.log(), "armd to refuse the reload")
        self.assertIn(f"{self.config}:1:", self.log())
        self.assert_undisturbed()

    def test_a_fifo_at_the_config_path_is_refused_and_armd_keeps_answering(self):
        os.remove(self.config)
        os.mkfifo(self.config)
        self.armd.send_signal(signal.SIGHUP)  # before: armd blocked in open(2) for good
        wait_for(lambda: "a FIFO" in self.log(), "armd to refuse the FIFO")
        self.assert_undisturbed()
        result = self.armctl("reload", check=2)
        self.assertIn(f"{self.config}: a FIFO", result.stderr)
        self.assert_undisturbed()
        # A regular file again, and reloads work.
        os.remove(self.config)
        self.write_config(self.good)
        self.armctl("reload", check=0)
        self.assert_undisturbed()


if __name__ == "__main__":
    unittest.main()
