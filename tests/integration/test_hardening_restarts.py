"""Issue 10, item 6: restart accounting and config-file watching, with the real armd and real
files: spawn failures and config changes count towards max_restarts, a change is a change of
content, and the watch survives symlink swaps, deleted directories and slow writers."""

import os
import signal
import subprocess
import time
import unittest

from harness import ArmdTestCase, pid_alive, wait_for

# Longer than the watcher's quiet period (1 s): a change it was going to report is reported.
SETTLE = 2.5


class RestartAccounting(ArmdTestCase):
    def test_a_restart_whose_binary_is_gone_ends_failed_with_the_spawn_error(self):
        binary = self.script("vanishing.sh", "exec sleep 100000\n")
        self.write_config(f"""
            [services.vanishing]
            binary = "{binary}"
            backoff_initial = "10ms"
            max_restarts = 3
            restart_window = "60s"
            """)
        self.start_armd()
        self.armctl("start", "vanishing", check=0)
        pid = self.status("vanishing")["pid"]
        os.remove(binary)
        os.kill(pid, signal.SIGKILL)  # it crashes; every restart now fails to spawn
        status = self.wait_state("vanishing", "failed")
        self.assertIn(f"cannot execute {binary}", status["last_error"])
        self.assertIn("restarted 3 times within 60s", status["last_error"])
        time.sleep(0.5)  # and it stays so: no more attempts
        self.assertEqual(self.status("vanishing")["state"], "failed")

    def test_a_service_that_rewrites_its_own_config_is_paced_counted_and_then_failed(self):
        conf = os.path.join(self.dir, "self.conf")
        with open(conf, "w") as f:
            f.write("start = 0\n")
        binary = self.script("rewriter.sh", f"""
            echo "start = $$" > {conf}
            exec sleep 100000
            """)
        self.write_config(f"""
            [services.rewriter]
            binary = "{binary}"
            config = "{conf}"
            backoff_initial = "50ms"
            max_restarts = 4
            restart_window = "5m"
            """)
        self.start_armd()
        self.armctl("start", "rewriter", check=0)
        status = self.wait_state("rewriter", "failed")
        self.assertEqual(
            status["last_error"],
            f"configuration file {conf} changed; restarted 4 times within 5m, "
            "not restarting")
        self.assertEqual(status["restarts"], 4)
        self.assertIn("restarting in 100ms", self.log())  # the backoff doubled: 50, 100, ...
        self.assertIn("restarting in 400ms", self.log())


class ContentNotEvents(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "app.conf")
        with open(self.conf, "w") as f:
            f.write("port = 80\n")
        self.seen = os.path.join(self.dir, "seen")
        self.reader = self.script("reader.sh", f"""
            while [ $# -gt 0 ]; do [ "$1" = -c ] && conf=$2; shift; done
            {{ cat "$conf"; echo ---; }} >> {self.seen}
            exec sleep 100000
            """)

    def start_service(self, conf=None):
        self.write_config(f"""
            [services.app]
            binary = "{self.reader}"
            config = "{conf or self.conf}"
            backoff_reset_after = "0ms"
            """)
        self.start_armd()
        self.armctl("start", "app", check=0)
        self.starts(1)  # it has read its file: a change now does not race its start
        return self.status("app")["pid"]

    def starts(self, at_least=0):
        """The config content each start of the service read, in order; waits until there are
        `at_least` (a started process records what it read a moment after it runs)."""
        def read():
            try:
                with open(self.seen) as f:
                    found = f.read().split("---\n")[:-1]
            except FileNotFoundError:
                found = []
            return found if len(found) >= at_least else None
        return wait_for(read, f"{at_least} starts recorded") if at_least else read()

    def wait_restart(self, old_pid):
        return wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] != old_pid
                                 else None)(self.status("app")), "app to restart")

    def test_touch_does_not_restart_and_truncate_does(self):
        pid = self.start_service()
        subprocess.run(["touch", self.conf], check=True)
        # touch closes the file after opening it for writing: armd looks at the content at once.
        # Let it look before the rewrite below empties the file for a moment (open "w"), or it
        # may see that moment (a loaded ASan run did).
        time.sleep(SETTLE)
        self.assertEqual(self.status("app")["pid"], pid)
        with open(self.conf, "w") as f:
            f.write("port = 80\n")  # the same bytes again
        time.sleep(SETTLE)
        self.assertEqual(self.status("app")["pid"], pid)
        self.assertEqual(self.status("app")["restarts"], 0)
        os.truncate(self.conf, 4)  # truncate(2): IN_MODIFY alone
        self.wait_restart(pid)
        self.assertEqual(self.starts(2), ["port = 80\n", "port"])

    def test_a_recreated_file_restarts_once_when_it_is_complete(self):
        pid = self.start_service()
        os.remove(self.conf)
        time.sleep(0.5)
        self.assertEqual(self.status("app")["pid"], pid)  # deleting is no change
        with open(self.conf, "w") as f:
            f.write("port = ")
            f.flush()
            time.sleep(0.2)  # a slow writer: created, half written (well inside 1 s)
            f.write("8080\n")
        new = self.wait_restart(pid)
        time.sleep(SETTLE)
        self.assertEqual(self.status("app")["pid"], new["pid"])  # once
        self.assertEqual(self.starts(2), ["port = 80\n", "port = 8080\n"])
        # Deleted and written back as it was: no change.
        os.remove(self.conf)
        with open(self.conf, "w") as f:
            f.write("port = 8080\n")
        time.sleep(SETTLE)
        self.assertEqual(self.status("app")["pid"], new["pid"])

    def test_a_configmap_update_swapping_the_data_symlink_restarts(self):
        mount = os.path.join(self.dir, "configmap")
        os.makedirs(os.path.join(mount, "..2026_12_01_a"))
        with open(os.path.join(mount, "..2026_12_01_a", "app.conf"), "w") as f:
            f.write("port = 80\n")
        os.symlink("..2026_12_01_a", os.path.join(mount, "..data"))
        os.symlink("..data/app.conf", os.path.join(mount, "app.conf"))
        pid = self.start_service(conf=os.path.join(mount, "app.conf"))

        def publish(stamp, text):  # as Kubernetes' AtomicWriter does
            os.makedirs(os.path.join(mount, stamp))
            with open(os.path.join(mount, stamp, "app.conf"), "w") as f:
                f.write(text)
            os.symlink(stamp, os.path.join(mount, "..data_tmp"))
            os.replace(os.path.join(mount, "..data_tmp"), os.path.join(mount, "..data"))

        publish("..2026_12_01_b", "port = 8080\n")
        new = self.wait_restart(pid)
        self.assertEqual(self.starts(2), ["port = 80\n", "port = 8080\n"])
        publish("..2026_12_01_c", "port = 8080\n")  # the same content
        time.sleep(SETTLE)
        self.assertEqual(self.status("app")["pid"], new["pid"])

    def test_the_watch_survives_its_directory_being_deleted_and_recreated(self):
        directory = os.path.join(self.dir, "etc", "app")
        conf = os.path.join(directory, "app.conf")
        # Absent when armd starts: it watches the nearest existing ancestor.
        self.write_config(f"""
            [services.app]
            binary = "{self.reader}"
            config = "{conf}"
            backoff_reset_after = "0ms"
            """)
        self.start_armd()
        os.makedirs(directory)
        with open(conf, "w") as f:
            f.write("port = 80\n")
        self.armctl("start", "app", check=0)
        pid = self.status("app")["pid"]
        self.starts(1)
        with open(conf, "w") as f:
            f.write("port = 81\n")
        pid = self.wait_restart(pid)["pid"]
        self.starts(2)
        subprocess.run(["rm", "-rf", os.path.join(self.dir, "etc")], check=True)
        time.sleep(0.5)
        os.makedirs(directory)
        with open(conf, "w") as f:
            f.write("port = 82\n")
        self.wait_restart(pid)
        self.assertEqual(self.starts(3), ["port = 80\n", "port = 81\n", "port = 82\n"])

    def test_config_section_restarts_only_the_service_whose_section_changed(self):
        shared = os.path.join(self.dir, "shared.conf")
        with open(shared, "w") as f:
            f.write("[PATHS]\nHOME = /tmp\n[web]\nPORT = 80\n[db]\nPORT = 5432\n")
        sleeper = self.sleeper()
        self.write_config(f"""
            [services.web]
            binary = "{sleeper}"
            config = "{shared}"
            config_section = "web"
            [services.db]
            binary = "{sleeper}"
            config = "{shared}"
            config_section = "db"
            """)
        self.start_armd()
        self.armctl("start", "web", "db", check=0)
        web, db = self.status("web")["pid"], self.status("db")["pid"]
        with open(shared, "w") as f:
            f.write("[PATHS]\nHOME = /tmp\n[web]\nPORT = 80\n[db]\nPORT = 5433\n")
        wait_for(lambda: (lambda s: s["state"] == "running" and s["pid"] != db)(
            self.status("db")), "db to restart")
        self.assertEqual(self.status("web")["pid"], web)
        self.assertTrue(pid_alive(web))
        self.assertIn(f"section [db] of configuration file {shared} changed", self.log())


if __name__ == "__main__":
    unittest.main()
