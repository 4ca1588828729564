"""Readiness under the real armd (issue 13): the sd_notify socket, notify / fd:N / after:
services, start_timeout, the watchdog, STATUS=, and hard dependents that wait for readiness.

Services are python scripts that speak sd_notify with a plain AF_UNIX datagram, as any program
may. A service writes a marker file just before it says READY=1: `armctl start` returning after
that file exists is what "start answers when the service is ready" means here (no timing is
asserted).
"""

import os
import signal
import socket
import stat
import sys
import textwrap
import time

import unittest

from harness import DEADLINE, ArmdTestCase, wait_for

SD_NOTIFY_EXAMPLE = os.environ.get("SD_NOTIFY_EXAMPLE", "")

# A notify service: sleeps, writes its marker, says READY=1 (and what else it is told).
NOTIFY_SERVICE = """
import os, socket, sys, time
marker, delay = sys.argv[1], float(sys.argv[2])
extra = sys.argv[3].replace("\\\\n", "\\n") if len(sys.argv) > 3 else ""
def notify(text):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(text.encode(), os.environ["NOTIFY_SOCKET"])
    s.close()
time.sleep(delay)
open(marker + ".tmp", "w").close()
os.rename(marker + ".tmp", marker)
notify("READY=1" + ("\\n" + extra if extra else ""))
while True:
    time.sleep(1000)
"""


class Readiness(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.notify_service = os.path.join(self.dir, "notify_service.py")
        with open(self.notify_service, "w") as f:
            f.write(textwrap.dedent(NOTIFY_SERVICE))
        self.marker = os.path.join(self.dir, "ready.marker")

    def python_service(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(body))
        return path

    def start_with_readiness(self, services):
        """Writes `services` (TOML) and starts armd on it."""
        self.write_config(services)
        self.start_armd()

    def notify_path(self):
        return self.socket + ".notify"

    # --- the socket itself (armd's part alone) ------------------------------------------------

    def test_the_notify_socket_lives_next_to_the_control_socket_and_goes_with_armd(self):
        self.write_config("[arm]\n")
        self.start_armd()
        info = os.stat(self.notify_path())
        self.assertTrue(stat.S_ISSOCK(info.st_mode))
        # Anyone may send (a service may run as another user): the kernel says who did.
        self.assertEqual(info.st_mode & 0o777, 0o666)
        self.armd.send_signal(signal.SIGTERM)
        self.assertEqual(self.armd.wait(timeout=DEADLINE), 0)
        self.assertFalse(os.path.exists(self.notify_path()))

    def test_a_control_socket_path_too_long_for_the_notify_socket_still_runs_armd(self):
        # 101 to 107 bytes: the control socket fits a sockaddr_un, "<it>.notify" does not.
        # armd ran with such a path before readiness existed: it still does, without a
        # notify socket, and only a service that needs one fails its start, saying so.
        deep = os.path.join(self.dir, "d" * (104 - len(self.dir) - len("/armd-test.sock") - 1))
        os.mkdir(deep)
        self.socket = os.path.join(deep, "armd-test.sock")
        self.assertEqual(len(self.socket), 104)
        self.start_with_readiness(f"""
            [services.plain]
            binary = "{self.sleeper()}"
            [services.shy]
            binary = "{sys.executable}"
            options = ["{self.notify_service}", "{self.marker}", "0"]
            readiness = "notify"
            """)
        self.assertIn("no notify socket", self.log())
        self.armctl("start", "plain", check=0)
        result = self.armctl("start", "shy")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("needs a notify socket", result.stdout + result.stderr)
        self.armctl("status", check=0)

    def test_a_flood_from_a_stranger_is_dropped_and_logged_once(self):
        self.write_config("[arm]\n")
        self.start_armd()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        for _ in range(50):
            s.sendto(b"READY=1\nSTATUS=forged", self.notify_path())
        s.close()
        wait_for(lambda: "not a service's" in self.log(), "the dropped notification logged")
        # armd still answers, and said it once (the rest are counted in a later line, if any).
        self.armctl("status", check=0)
        self.assertEqual(self.log().count(f"from pid {os.getpid()}, not a service's"), 1,
                         self.log())

    def test_a_child_of_the_service_speaks_for_it_and_a_stranger_does_not(self):
        service = self.python_service("parent.py", f"""
            import os, subprocess, sys, time
            subprocess.Popen([sys.executable, "{self.notify_service}", "{self.marker}", "0"])
            time.sleep(1000)
            """)
        self.start_with_readiness(f"""
            [services.family]
            binary = "{sys.executable}"
            options = ["{service}"]
            readiness = "notify"
            """)
        self.armctl("start", "family", check=0)
        wait_for(lambda: os.path.exists(self.marker), "the child to say READY=1")
        # The child's datagram was queued before this one: once this one is logged as a
        # stranger's, the child's has been taken, and it was not logged.
        forger = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        forger.sendto(b"READY=1", self.notify_path())
        forger.close()
        wait_for(lambda: "not a service's" in self.log(), "the stranger's datagram logged")
        self.assertEqual(self.log().count("not a service's"), 1, self.log())
        self.assertIn(f"from pid {os.getpid()},", self.log())

    @unittest.skipUnless(SD_NOTIFY_EXAMPLE, "built without libsystemd-dev")
    def test_libsystemd_sd_notify_and_sd_watchdog_enabled_work_under_armd(self):
        report = os.path.join(self.dir, "report")
        self.start_with_readiness(f"""
            [services.api]
            binary = "{SD_NOTIFY_EXAMPLE}"
            options = ["{report}"]
            readiness = "notify"
            watchdog = "2s"
            """)
        self.armctl("start", "api", check=0)
        wait_for(lambda: os.path.exists(report) and os.path.getsize(report), "api's report")
        with open(report) as f:
            fields = dict(field.split("=") for field in f.read().split())
        self.assertGreater(int(fields["notify"]), 0, "sd_notify() found no NOTIFY_SOCKET")
        self.assertGreater(int(fields["watchdog"]), 0, "sd_watchdog_enabled() saw no watchdog")
        self.assertEqual(fields["usec"], "2000000")
        self.assertNotIn("not a service's", self.log())

    @unittest.skipUnless(SD_NOTIFY_EXAMPLE, "built without libsystemd-dev")
    def test_libsystemd_status_is_shown_once_ready(self):
        self.start_with_readiness(f"""
            [services.api]
            binary = "{SD_NOTIFY_EXAMPLE}"
            readiness = "notify"
            """)
        self.armctl("start", "api", check=0)
        self.assertEqual(self.status("api")["state"], "running")
        self.assertEqual(self.status("api")["status_text"], "warmed up, serving")
        self.assertIn("warmed up, serving", self.armctl("status", "api", check=0).stdout)

    # --- readiness kinds (need the core) ------------------------------------------------------

    def test_start_answers_only_once_a_notify_service_said_ready(self):
        self.start_with_readiness(f"""
            [services.web]
            binary = "{sys.executable}"
            options = ["{self.notify_service}", "{self.marker}", "1", "STATUS=listening"]
            readiness = "notify"
            """)
        result = self.armctl("start", "web", check=0)
        self.assertTrue(os.path.exists(self.marker), f"start returned before READY=1: {result}")
        status = self.status("web")
        self.assertEqual(status["state"], "running")
        self.assertEqual(status["status_text"], "listening")
        table = self.armctl("status", check=0).stdout
        self.assertIn("listening", table)

    def test_a_service_that_never_becomes_ready_fails_its_start_and_its_policy_applies(self):
        self.start_with_readiness(f"""
            [services.mute]
            binary = "{sys.executable}"
            options = ["-c", "import time; time.sleep(1000)"]
            readiness = "notify"
            start_timeout = "2s"
            restart = "always"
            backoff_initial = "30s"
            """)
        result = self.armctl("start", "mute")
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertIn("ready", result.stdout + result.stderr)
        wait_for(lambda: self.status("mute")["state"] == "backoff", "mute to back off")
        self.assertIn("ready", self.status("mute")["last_error"])

    def test_ready_from_a_child_of_the_service_is_accepted(self):
        service = self.python_service("parent.py", f"""
            import os, subprocess, sys, time
            subprocess.Popen([sys.executable, "{self.notify_service}", "{self.marker}", "0.5"])
            time.sleep(1000)
            """)
        self.start_with_readiness(f"""
            [services.family]
            binary = "{sys.executable}"
            options = ["{service}"]
            readiness = "notify"
            """)
        self.armctl("start", "family", check=0)
        self.assertTrue(os.path.exists(self.marker))
        self.assertEqual(self.status("family")["state"], "running")

    def test_a_forged_ready_from_another_process_is_ignored(self):
        self.start_with_readiness(f"""
            [services.shy]
            binary = "{sys.executable}"
            options = ["-c", "import time; time.sleep(1000)"]
            readiness = "notify"
            start_timeout = "0"
            """)
        with self.connect() as conn:
            conn.read_line()  # hello
            conn.request(id=1, method="start", service="shy")
            wait_for(lambda: self.status("shy")["state"] == "starting", "shy to be starting")
            forger = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            forger.sendto(b"READY=1", self.notify_path())
            forger.close()
            wait_for(lambda: "not a service's" in self.log(), "the forgery logged")
            self.assertEqual(self.status("shy")["state"], "starting")

    def test_another_service_cannot_join_a_service_group_to_speak_for_it(self):
        # In process-group mode a process counts for the service whose process group it is in.
        # A process of another service moves a child into the victim's group and sends READY=1:
        # it must not be let in (the service has a session of its own), so it stays a stranger.
        victim = self.python_service("victim.py", """
            import time
            time.sleep(100000)
            """)
        attacker = self.python_service("attacker.py", f"""
            import os, socket, sys, time
            victim = int(sys.argv[1])
            child = os.fork()
            if child == 0:
                try:
                    os.setpgid(0, victim)
                    outcome = "joined"
                except OSError as error:
                    outcome = error.strerror
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.sendto(b"READY=1\\nSTATUS=forged", "{self.notify_path()}")
                s.close()
                with open("{self.marker}.tmp", "w") as f:
                    f.write(outcome)
                os.rename("{self.marker}.tmp", "{self.marker}")
                time.sleep(100000)
            time.sleep(100000)
            """)
        self.start_with_readiness(f"""
            [arm]
            cgroup = "off"
            [services.victim]
            binary = "{sys.executable}"
            options = ["{victim}"]
            readiness = "notify"
            start_timeout = "0"
            """)
        with self.connect() as conn:
            conn.read_line()  # hello
            conn.request(id=1, method="start", service="victim")
            victim_pid = self.wait_state("victim", "starting")["pid"]
            with open(self.config, "a") as f:
                f.write(textwrap.dedent(f"""
                    [services.attacker]
                    binary = "{sys.executable}"
                    options = ["{attacker}", "{victim_pid}"]
                    """))
            self.armctl("reload", check=0)
            self.armctl("start", "attacker", check=0)
            wait_for(lambda: os.path.exists(self.marker), "the attacker's child to send READY=1")
            # Ours comes after the attacker's: once one of them is logged, both were taken.
            forger = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            forger.sendto(b"READY=1", self.notify_path())
            forger.close()
            wait_for(lambda: "not a service's" in self.log(), "a forgery logged")
            with open(self.marker) as f:
                self.assertNotEqual(f.read(), "joined")
            victim = self.status("victim")
            self.assertEqual(victim["state"], "starting")
            self.assertNotIn("forged", str(victim))

    def test_fd_readiness_is_the_first_newline_on_that_descriptor(self):
        service = self.script("fd_service.sh", f"""
            sleep 1
            touch {self.marker}
            echo >&4
            exec sleep 1000
            """)
        self.start_with_readiness(f"""
            [services.s6style]
            binary = "{service}"
            readiness = "fd:4"
            """)
        self.armctl("start", "s6style", check=0)
        self.assertTrue(os.path.exists(self.marker))
        self.assertEqual(self.status("s6style")["state"], "running")

    def test_after_readiness_waits_that_long(self):
        self.start_with_readiness(f"""
            [services.patient]
            binary = "{self.sleeper()}"
            readiness = "after:1s"
            """)
        before = time.monotonic()
        self.armctl("start", "patient", check=0)
        # Not a timing assertion on armd's speed: only that it did not answer before the second.
        self.assertGreaterEqual(time.monotonic() - before, 1.0)
        self.assertEqual(self.status("patient")["state"], "running")

    def test_a_service_that_stops_feeding_its_watchdog_is_aborted_and_restarted(self):
        service = self.python_service("dog.py", """
            import os, socket, time
            def notify(text):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.sendto(text.encode(), os.environ["NOTIFY_SOCKET"])
                s.close()
            notify("READY=1")
            for _ in range(3):
                time.sleep(0.2)
                notify("WATCHDOG=1")
            time.sleep(1000)  # hangs: no more keep-alives
            """)
        self.start_with_readiness(f"""
            [services.dog]
            binary = "{sys.executable}"
            options = ["{service}"]
            readiness = "notify"
            watchdog = "1s"
            backoff_initial = "30s"
            """)
        self.armctl("start", "dog", check=0)
        status = wait_for(lambda: (lambda s: s if s["last_exit"] else None)(self.status("dog")),
                          "the watchdog to end dog")
        self.assertEqual(status["last_exit"]["signal"], signal.SIGABRT)
        self.assertIn("watchdog", status["last_error"])
        self.assertEqual(status["state"], "backoff")

    def test_a_hard_dependent_starts_only_once_its_dependency_is_ready(self):
        seen = os.path.join(self.dir, "dependent-saw")
        dependent = self.script("dependent.sh", f"""
            if [ -e {self.marker} ]; then echo ready > {seen}; else echo early > {seen}; fi
            exec sleep 1000
            """)
        self.start_with_readiness(f"""
            [services.db]
            binary = "{sys.executable}"
            options = ["{self.notify_service}", "{self.marker}", "1"]
            readiness = "notify"
            [services.app]
            binary = "{dependent}"
            depends_on = ["db"]
            """)
        self.armctl("start", "app", check=0)
        # The shell creates the file before it writes the word: wait for the word.
        def saw():
            with open(seen) as f:
                return f.read()
        wait_for(lambda: os.path.exists(seen) and saw(), "app to run")
        self.assertEqual(saw(), "ready\n")


if __name__ == "__main__":
    unittest.main()
