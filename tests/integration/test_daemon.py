"""armd as a process: config checking, reload, signals, the socket file."""

import os
import signal
import subprocess
import unittest

from harness import ARMCTL, ARMD, ArmdTestCase, environment_with, pid_alive, wait_for


class ConfigErrors(ArmdTestCase):
    def test_check_config_exits_0_for_a_valid_file_and_2_for_an_invalid_one(self):
        self.write_config(f'[services.web]\nbinary = "{self.sleeper()}"\n')
        self.assertEqual(subprocess.run([ARMD, "--check-config", self.config]).returncode, 0)
        self.write_config('[services.web]\nbinary = "/bin/true"\nrestart = "sometimes"\n')
        result = subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                                text=True)
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"{self.config}:3", result.stderr)
        self.assertIn("restart", result.stderr)

    def test_an_invalid_config_at_start_exits_2_before_anything_starts(self):
        marker = os.path.join(self.dir, "started")
        touch = self.script("touch.sh", f"touch {marker}; exec sleep 100000\n")
        self.write_config(f"""
            [arm]
            default_services = ["web"]
            [services.web]
            binary = "{touch}"
            stop_timeout = "soon"
            """)
        armd = self.start_armd(wait=False)
        self.assertEqual(armd.wait(timeout=30), 2)
        self.assertIn(f"{self.config}:6", self.log())
        self.assertFalse(os.path.exists(marker))
        self.assertFalse(os.path.exists(self.socket))


class Daemon(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.sleeper_path = self.sleeper()
        self.write_a_and_b()

    def write_a_and_b(self, b_program=None, more=""):
        """a and b, both default services running the sleeper (b another program if given),
        and `more` after them."""
        self.write_config(f"""
            [arm]
            default_services = ["a", "b"]
            [services.a]
            binary = "{self.sleeper_path}"
            [services.b]
            binary = "{b_program or self.sleeper_path}"
            """ + more)

    def running_pids(self):
        return {name: s["pid"] for name, s in self.status().items() if s["state"] == "running"}

    def test_sigterm_stops_every_service_and_exits_0(self):
        self.start_armd()
        self.wait_state("b", "running")
        pids = self.running_pids()
        self.armd.send_signal(signal.SIGTERM)
        self.assertEqual(self.armd.wait(timeout=30), 0)
        for pid in pids.values():
            self.assertFalse(pid_alive(pid))
        self.assertFalse(os.path.exists(self.socket))

    def test_reload_applies_a_valid_file_and_keeps_the_running_config_on_an_invalid_one(self):
        self.start_armd()
        self.wait_state("b", "running")
        before = self.running_pids()
        self.write_config(f"""
            [arm]
            default_services = ["a", "b"]
            [services.a]
            binary = "{self.sleeper_path}"
            [services.b]
            binary = "{self.sleeper_path}"
            options = ["--changed"]
            [services.c]
            binary = "{self.sleeper_path}"
            """)
        result = self.armctl("reload", check=0)
        self.assertIn("c", result.stdout)
        self.wait_state("b", "running")
        after = self.running_pids()
        self.assertEqual(after["a"], before["a"], "an unchanged service was restarted")
        self.assertNotEqual(after["b"], before["b"], "a changed service was not restarted")
        self.assertEqual(self.status("c")["state"], "stopped")

        self.write_config("[services.a]\nbinary = 12\n")
        result = self.armctl("reload", check=2)
        self.assertIn(self.config, result.stdout + result.stderr)
        self.assertEqual(set(self.status()), {"a", "b", "c"})
        self.assertEqual(self.running_pids(), after)

    def test_a_reload_that_would_restart_a_running_service_into_a_missing_program_is_refused(self):
        # The edit --check-config refuses must not take a working service down into a crash
        # loop: the reload is refused and the service keeps its process.
        self.start_armd()
        self.wait_state("b", "running")
        before = self.running_pids()
        missing = os.path.join(self.dir, "not-installed")
        c_not_installed = f'[services.c]\nbinary = "{missing}"\n'
        self.write_a_and_b(missing, c_not_installed)
        result = self.armctl("reload", check=2)
        self.assertIn(f"services.b.binary: cannot execute {missing}",
                      result.stdout + result.stderr)
        self.assertEqual(self.running_pids(), before)
        self.assertEqual(set(self.status()), {"a", "b"})
        self.assertEqual(self.status("b")["state"], "running")
        # A stopped service (c, added) may name a program not installed yet, as at start.
        self.write_a_and_b(more=c_not_installed)
        self.armctl("reload", check=0)
        self.assertEqual(self.running_pids(), before)
        self.assertIn("c", self.status())

    def test_sighup_reloads(self):
        self.start_armd()
        self.write_config(f"""
            [services.a]
            binary = "{self.sleeper_path}"
            [services.b]
            binary = "{self.sleeper_path}"
            [services.d]
            binary = "{self.sleeper_path}"
            """)
        self.armd.send_signal(signal.SIGHUP)
        wait_for(lambda: "d" in self.status(), "the reloaded service list")

    def test_services_die_with_a_killed_armd_and_its_stale_socket_is_replaced(self):
        self.start_armd()
        self.wait_state("a", "running")
        pids = self.running_pids()
        second = subprocess.run([ARMD, "--config", self.config, "--socket", self.socket],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(second.returncode, 1)
        self.assertIn("already", second.stderr)
        self.assertEqual(self.running_pids(), pids)

        self.armd.send_signal(signal.SIGKILL)
        self.armd.wait()
        self._log.close()
        for pid in pids.values():  # PR_SET_PDEATHSIG: no service outlives a killed armd
            wait_for(lambda: not pid_alive(pid), f"service {pid} to die with armd")
        self.assertTrue(os.path.exists(self.socket), "the killed armd's socket file stays")
        self.start_armd()
        self.wait_state("a", "running")


@unittest.skipUnless(os.environ.get("ARM_PROJECT_VERSION"),
                     "meson test sets ARM_PROJECT_VERSION to the project's version")
class Version(ArmdTestCase):
    """The version is written once, in meson.build; armd, armctl and the hello line all say it."""

    def test_armd_and_armctl_print_the_project_version(self):
        version = os.environ["ARM_PROJECT_VERSION"]
        for program, name in ((ARMD, "armd"), (ARMCTL, "armctl")):
            result = subprocess.run([program, "--version"], capture_output=True, text=True,
                                    timeout=30)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout.strip(), f"{name} {version}")

    def test_the_hello_line_carries_the_project_version(self):
        self.write_config(f'[services.a]\nbinary = "{self.sleeper()}"\n')
        self.start_armd()
        with self.connect() as conn:
            self.assertEqual(conn.read_line()["version"], os.environ["ARM_PROJECT_VERSION"])
        self.armctl("shutdown", check=0)
        self.assertEqual(self.armd.wait(timeout=30), 0)


class SocketPath(ArmdTestCase):
    """armd and armctl find the socket the same way: --socket, $ARMD_SOCKET, then (armd only)
    [arm].socket, then $XDG_RUNTIME_DIR/armd.sock. $XDG_RUNTIME_DIR points into the scratch
    directory, so a test that goes wrong never touches /run."""

    def setUp(self):
        super().setUp()
        self.from_environment = os.path.join(self.dir, "environment.sock")
        self.from_config = os.path.join(self.dir, "config.sock")
        self.from_runtime_dir = os.path.join(self.dir, "armd.sock")
        self.write_config(f"""
            [arm]
            socket = "{self.from_config}"
            default_services = ["a"]
            [services.a]
            binary = "{self.sleeper()}"
            """)

    def armctl_from_environment(self, *args):
        """armctl without --socket, with $ARMD_SOCKET pointing where armd should be."""
        return subprocess.run([ARMCTL, *args], capture_output=True, text=True, timeout=30,
                              env=environment_with({"ARMD_SOCKET": self.from_environment,
                                                    "XDG_RUNTIME_DIR": self.dir}))

    def test_armd_listens_on_armd_socket_before_the_configured_socket(self):
        self.socket = self.from_environment
        self.start_armd(socket_flag=False, env={"ARMD_SOCKET": self.from_environment,
                                                "XDG_RUNTIME_DIR": self.dir})
        self.wait_state("a", "running")
        self.assertFalse(os.path.exists(self.from_config))
        self.assertFalse(os.path.exists(self.from_runtime_dir))
        self.assertIn(f"listening on {self.from_environment}", self.log())

        status = self.armctl_from_environment("status", "a")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("running", status.stdout)
        shutdown = self.armctl_from_environment("shutdown")
        self.assertEqual(shutdown.returncode, 0, shutdown.stderr)
        self.assertEqual(self.armd.wait(timeout=30), 0)
        self.assertFalse(os.path.exists(self.from_environment))

    def test_socket_flag_wins_over_armd_socket(self):
        self.start_armd(env={"ARMD_SOCKET": self.from_environment, "XDG_RUNTIME_DIR": self.dir})
        self.wait_state("a", "running")
        self.assertFalse(os.path.exists(self.from_environment))
        self.assertFalse(os.path.exists(self.from_config))
        self.armctl("shutdown", check=0)
        self.assertEqual(self.armd.wait(timeout=30), 0)

    def test_an_empty_armd_socket_counts_as_unset(self):
        self.socket = self.from_config
        self.start_armd(socket_flag=False, env={"ARMD_SOCKET": "", "XDG_RUNTIME_DIR": self.dir})
        self.wait_state("a", "running")
        self.assertFalse(os.path.exists(self.from_runtime_dir))
        self.armctl("shutdown", check=0)
        self.assertEqual(self.armd.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main()
