"""Start, stop, refcounts and status through the real armd and armctl."""

import os
import unittest

from harness import ArmdTestCase, pid_alive, wait_for


class Lifecycle(ArmdTestCase):
    def setUp(self):
        super().setUp()
        sleeper = self.sleeper()
        self.write_config(f"""
            [arm]
            default_services = ["boot"]
            [services.boot]
            binary = "{sleeper}"
            [services.web]
            binary = "{sleeper}"
            [services.broken]
            binary = "{self.dir}/no-such-binary"
            """)
        self.start_armd()

    def test_default_services_run_at_boot(self):
        boot = self.wait_state("boot", "running")
        self.assertTrue(pid_alive(boot["pid"]))
        self.assertEqual(boot["refcount"], 1)
        self.assertEqual(self.status("web")["state"], "stopped")

    def test_start_returns_once_running_and_stop_once_reaped(self):
        result = self.armctl("start", "web", check=0)
        self.assertIn("web", result.stdout)
        web = self.status("web")
        self.assertEqual(web["state"], "running")
        pid = web["pid"]
        self.assertTrue(pid_alive(pid))
        self.assertEqual(os.getpgid(pid), pid, "each service leads its own process group")

        self.armctl("stop", "web", check=0)
        self.assertFalse(pid_alive(pid), "stop returned before the process was reaped")
        self.assertEqual(self.status("web")["state"], "stopped")
        self.assertIsNone(self.status("web")["pid"])

    def test_refcounted_start_and_stop(self):
        self.armctl("start", "web", check=0)
        self.armctl("start", "web", check=0)
        self.assertEqual(self.status("web")["refcount"], 2)
        pid = self.status("web")["pid"]

        result = self.armctl("stop", "web", check=0)
        self.assertIn("still", result.stdout + result.stderr)
        self.assertTrue(pid_alive(pid))
        self.assertEqual(self.status("web")["refcount"], 1)

        self.armctl("stop", "web", check=0)
        self.assertFalse(pid_alive(pid))

    def test_stop_of_a_service_that_is_not_running_says_so(self):
        result = self.armctl("stop", "web", check=0)
        self.assertIn("not running", result.stdout + result.stderr)

    def test_unknown_names_exit_3(self):
        result = self.armctl("start", "nope", check=3)
        self.assertIn("nope", result.stdout + result.stderr)
        self.armctl("stop", "nope", check=3)
        self.armctl("status", "nope", check=3)

    def test_a_missing_binary_is_reported_with_its_path(self):
        result = self.armctl("start", "broken", check=1)
        self.assertIn(f"{self.dir}/no-such-binary", result.stdout + result.stderr)
        self.assertEqual(self.status("broken")["state"], "failed")

    def test_several_names_at_once(self):
        self.armctl("start", "web", "boot", check=0)
        self.assertEqual(self.status("web")["state"], "running")
        result = self.armctl("start", "web", "nope", "broken", check=3)
        self.assertIn("nope", result.stdout + result.stderr)

    def test_restart_keeps_the_refcount_and_replaces_the_process(self):
        self.armctl("start", "web", check=0)
        self.armctl("start", "web", check=0)
        old = self.status("web")["pid"]
        self.armctl("restart", "web", check=0)
        web = self.status("web")
        self.assertEqual(web["state"], "running")
        self.assertNotEqual(web["pid"], old)
        self.assertEqual(web["refcount"], 2)
        self.assertFalse(pid_alive(old))

    def test_status_json_has_the_documented_fields(self):
        services = self.status()
        self.assertEqual(set(services), {"boot", "web", "broken"})
        for entry in services.values():
            for field in ("name", "state", "pid", "restarts", "refcount", "last_exit",
                          "next_restart_in_ms"):
                self.assertIn(field, entry)
            self.assertIn(entry["state"],
                          {"stopped", "starting", "running", "stopping", "backoff", "failed"})

    def test_status_table_lists_every_service(self):
        result = self.armctl("status", check=0)
        for name in ("boot", "web", "broken"):
            self.assertIn(name, result.stdout)

    def test_socket_is_private_to_its_owner(self):
        self.assertEqual(os.stat(self.socket).st_mode & 0o777, 0o600)

    def test_shutdown_returns_when_armd_has_finished(self):
        boot = self.wait_state("boot", "running")["pid"]
        self.armctl("shutdown", check=0)
        self.assertEqual(self.armd.wait(timeout=30), 0)
        self.assertFalse(pid_alive(boot))


class Unreachable(ArmdTestCase):
    def test_armctl_exits_4_when_armd_is_not_there(self):
        result = self.armctl("status", check=4)
        self.assertIn(self.socket, result.stderr)

    def test_usage_errors_exit_2(self):
        self.armctl("frobnicate", check=2)
        self.armctl("start", check=2)


if __name__ == "__main__":
    unittest.main()
