"""armd as a Type=notify service (issue 15): what it tells the service manager on $NOTIFY_SOCKET.

The test is the service manager: it binds a datagram socket (a path, or an abstract name), starts
the real armd with NOTIFY_SOCKET naming it, and reads what armd sends, as systemd would.
"""

import os
import signal
import socket
import time
import unittest

from harness import DEADLINE, ArmdTestCase, Connection, wait_for


class ServiceManager(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.addCleanup(self.manager.close)
        self.manager_path = os.path.join(self.dir, "manager.notify")
        self.manager.bind(self.manager_path)
        self.manager.settimeout(DEADLINE)
        self.env_file = os.path.join(self.dir, "service.env")
        # An exec service and a notify service, both started at boot; each writes its
        # environment, which must not carry the manager's NOTIFY_SOCKET.
        dumper = self.script("dump_env.sh", f"""
            env > "{self.env_file}.$1.tmp" && mv "{self.env_file}.$1.tmp" "{self.env_file}.$1"
            exec sleep 100000
            """)
        notifier = self.script("notifier.py", f"""\
            exec python3 - "$@" <<'PY'
            import os, socket, time
            with open("{self.env_file}.notify.tmp", "w") as f:
                f.write("\\n".join(f"{{k}}={{v}}" for k, v in os.environ.items()) + "\\n")
            os.rename("{self.env_file}.notify.tmp", "{self.env_file}.notify")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
            time.sleep(100000)
            PY
            """)
        # `slow` is ready only after 10 minutes: armd's READY=1 must not wait for it.
        self.write_config(f"""
            [services.plain]
            binary = "{dumper}"
            options = ["exec"]
            start = "boot"

            [services.notifying]
            binary = "{notifier}"
            readiness = "notify"
            start = "boot"

            [services.slow]
            binary = "{self.sleeper()}"
            readiness = "after:10m"
            start_timeout = "0"
            start = "boot"
            """)

    def receive(self):
        data = self.manager.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def start_under_manager(self, address):
        return self.start_armd(wait=False, env={"NOTIFY_SOCKET": address})

    def test_ready_comes_once_the_control_socket_answers_and_stopping_on_sigterm(self):
        self.start_under_manager(self.manager_path)
        ready = self.receive()
        self.assertEqual(ready.get("READY"), "1", ready)
        self.assertIn("listening on", ready.get("STATUS", ""))
        # At READY=1 the control socket takes connections at once: no retry here.
        with Connection(self.socket) as conn:
            self.assertEqual(conn.read_line().get("hello"), "armd")
        # Ready once the boot services' starts are issued, not once they run: `slow` is still
        # starting (it becomes ready after 10 minutes).
        self.assertEqual(self.status("slow")["state"], "starting")
        self.armd.send_signal(signal.SIGTERM)
        stopping = self.receive()
        self.assertEqual(stopping.get("STOPPING"), "1", stopping)
        self.assertEqual(self.armd.wait(timeout=DEADLINE), 0)

    def test_an_abstract_socket_name_is_reached(self):
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.addCleanup(abstract.close)
        name = f"armd-test-manager-{os.getpid()}-{time.monotonic_ns()}"
        abstract.bind("\0" + name)
        abstract.settimeout(DEADLINE)
        self.start_under_manager("@" + name)
        self.assertIn(b"READY=1", abstract.recv(4096))

    def test_a_reload_is_bracketed_by_reloading_and_ready(self):
        self.start_under_manager(self.manager_path)
        self.assertEqual(self.receive().get("READY"), "1")
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.armd.send_signal(signal.SIGHUP)
        reloading = self.receive()
        self.assertEqual(reloading.get("RELOADING"), "1", reloading)
        # MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds, taken when the reload began.
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.assertLessEqual(before, int(reloading["MONOTONIC_USEC"]))
        self.assertLessEqual(int(reloading["MONOTONIC_USEC"]), after)
        self.assertEqual(self.receive().get("READY"), "1")
        # A refused reload (an invalid file) is bracketed too: armd still runs, ready.
        with open(self.config, "a") as f:
            f.write("\n[services.broken]\n")
        self.armctl("reload", check=2)
        self.assertEqual(self.receive().get("RELOADING"), "1")
        self.assertEqual(self.receive().get("READY"), "1")
        # `armctl shutdown` says STOPPING=1 too.
        self.armctl("shutdown", check=0)
        self.assertEqual(self.receive().get("STOPPING"), "1")

    def test_the_services_never_see_the_managers_notify_socket(self):
        self.start_under_manager(self.manager_path)
        self.assertEqual(self.receive().get("READY"), "1")
        wait_for(lambda: os.path.exists(self.env_file + ".exec"), "the exec service's environment")
        wait_for(lambda: os.path.exists(self.env_file + ".notify"),
                 "the notify service's environment")
        with open(self.env_file + ".exec") as f:
            plain = f.read()
        self.assertNotIn("NOTIFY_SOCKET=", plain)
        with open(self.env_file + ".notify") as f:
            notifying = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
        # The notify service gets armd's own readiness socket, not the manager's.
        self.assertEqual(notifying["NOTIFY_SOCKET"], self.socket + ".notify")
        self.assertEqual(self.wait_state("notifying", "running")["state"], "running")

    def test_a_relative_notify_socket_is_named_in_the_log_and_armd_runs_on(self):
        self.start_armd(env={"NOTIFY_SOCKET": "relative.notify"})
        self.assertIn("NOTIFY_SOCKET=relative.notify is neither an absolute path", self.log())
        self.assertEqual(self.status("plain")["name"], "plain")

if __name__ == "__main__":
    unittest.main()
