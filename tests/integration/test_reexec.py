"""Live re-exec (issue 15) under the real armd: `armctl reexec` execs armd's program anew in the
same process, and the new armd takes over every service without stopping or restarting any
(pids unchanged), supervises them (a killed one is restarted), keeps their sockets (a client of an
on-demand service connecting after the re-exec starts it), their output pipes and their readiness
notifications; the services still die with armd afterwards (the parent-death signal follows the
thread that spawned them, which an exec does not end). A re-exec that cannot be safe is refused,
and nothing is touched: a configuration changed since it was loaded, a new program that cannot
read the state."""

import os
import shutil
import signal
import socket
import subprocess
import time
import unittest

from harness import ARMD, DEADLINE, ArmdTestCase, pid_alive, wait_for

NOTIFY_SERVICE = """\
import os, socket, sys, time
# Ready only once told so (the marker file appears), so the re-exec happens while it starts.
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\\nSTATUS=serving", os.environ["NOTIFY_SOCKET"])
while True:
    time.sleep(1000)
"""

ON_DEMAND_SERVICE = """\
import socket, sys
# Socket activation: descriptor 3 is armd's listening socket (LISTEN_FDS=1).
listener = socket.socket(fileno=3)
while True:
    connection, _ = listener.accept()
    connection.sendall(b"hello from the service\\n")
    connection.close()
"""


class Reexec(ArmdTestCase):
    WORKERS = 40
    ARM_SECTION = ""  # armd's containment: what the machine allows (cgroups here, as root)

    def setUp(self):
        super().setUp()
        self.port = self.free_port()
        self.ready_marker = os.path.join(self.dir, "go-ready")
        notify = os.path.join(self.dir, "notify_service.py")
        with open(notify, "w") as f:
            f.write(NOTIFY_SERVICE)
        on_demand = os.path.join(self.dir, "on_demand.py")
        with open(on_demand, "w") as f:
            f.write(ON_DEMAND_SERVICE)
        talker = self.script("talker.sh", """\
            n=0
            while true; do n=$((n+1)); echo "line $n"; sleep 0.1; done
            """)
        crasher = self.script("crasher.sh", "sleep 0.2; exit 1\n")
        self.write_config(self.ARM_SECTION + f"""
            [services."worker@"]
            binary = "{self.sleeper()}"
            instances = {self.WORKERS}
            stdout = "null"
            stderr = "null"

            [services.talker]
            binary = "{talker}"

            [services.crasher]
            binary = "{crasher}"
            restart = "always"
            max_restarts = 1000
            backoff_initial = "100ms"
            backoff_max = "200ms"

            [services.notified]
            binary = "python3"
            options = ["{notify}", "{self.ready_marker}"]
            readiness = "notify"

            [services.ondemand]
            binary = "python3"
            options = ["{on_demand}"]
            listen = ["tcp:127.0.0.1:{self.port}"]
            start = "on-demand"
            """)

    def free_port(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def running_pids(self):
        return {name: s["pid"] for name, s in self.status().items() if s["state"] == "running"}

    def ask_on_demand(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE) as client:
            return client.makefile().readline().strip()

    def start_everything(self):
        self.armctl("start", "worker@*", "talker", "crasher", check=0)
        # The notify service is started without waiting: it is still starting at the re-exec.
        self.notify_start = subprocess.Popen(
            [os.environ.get("ARMCTL", "build/armd/armctl"), "--socket", self.socket, "start",
             "notified"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.wait_state("notified", "starting")
        wait_for(lambda: "line 3" in self.armctl("logs", "talker", "-n", "50", check=0).stdout,
                 "the talker's output")

    def test_reexec_takes_over_every_service_without_touching_any(self):
        self.start_armd()
        self.start_everything()
        before = self.running_pids()
        self.assertEqual(len([n for n in before if n.startswith("worker@")]), self.WORKERS)
        crasher_restarts = self.status("crasher")["restarts"]
        talker_line = self.last_line("talker")

        result = self.armctl("reexec", check=0)
        self.assertIn("armd re-executed", result.stdout)
        self.assertIn("taken over", result.stdout)
        # The same process, a new program image: armd's own pid does not change either.
        self.assertIsNone(self.armd.poll())
        wait_for(lambda: "re-executed" in self.log(), "the new armd's log line")

        after = self.status()
        for name, pid in before.items():
            if name == "crasher":
                continue  # it crash-loops by design: its pid changes on its own
            self.assertEqual(after[name]["state"], "running", name)
            self.assertEqual(after[name]["pid"], pid, f"{name} was restarted by the re-exec")
        self.assertEqual(after["notified"]["state"], "starting")
        # Clients do not survive the re-exec: the one waiting for that start sees its connection
        # close (armctl's exit code 4); the start itself goes on.
        self.notify_start.communicate(timeout=DEADLINE)
        self.assertEqual(self.notify_start.returncode, 4)
        self.assertEqual(after["ondemand"]["state"], "listening")

        # The new armd supervises: a killed worker is restarted...
        os.kill(before["worker@1"], signal.SIGKILL)
        wait_for(lambda: (lambda s: s["state"] == "running" and s["pid"] != before["worker@1"])(
            self.status("worker@1")), "worker@1 to be restarted by the new armd")
        # ...the crash loop goes on, counted from where it was...
        wait_for(lambda: self.status("crasher")["restarts"] > crasher_restarts + 1,
                 "the crasher's restarts to go on")
        # ...the readiness notification of a service that was starting is read...
        open(self.ready_marker, "w").close()
        self.wait_state("notified", "running")
        self.assertEqual(self.status("notified")["status_text"], "serving")
        # ...the talker's pipe is still read...
        wait_for(lambda: self.last_line("talker") > talker_line + 3,
                 "new lines of the talker after the re-exec")
        # ...and a client of the on-demand socket starts its service.
        self.assertEqual(self.ask_on_demand(), "hello from the service")
        self.wait_state("ondemand", "running")

        # The services still die with armd: the parent-death signal survived the exec.
        worker = self.status("worker@2")["pid"]
        self.armd.send_signal(signal.SIGKILL)
        self.armd.wait(timeout=DEADLINE)
        wait_for(lambda: not pid_alive(worker), "worker@2 to die with the SIGKILLed armd")

    def last_line(self, name):
        lines = self.armctl("logs", name, "-n", "1", check=0).stdout.strip().splitlines()
        if not lines:
            return 0
        return int(lines[-1].rsplit(" ", 1)[-1])

    def test_two_reexecs_in_a_row(self):
        self.start_armd()
        self.armctl("start", "worker@1", "worker@2", check=0)
        before = self.running_pids()
        self.armctl("reexec", check=0)
        self.armctl("reexec", check=0)
        self.assertEqual(self.running_pids(), before)
        self.armctl("stop", "worker@1", check=0)
        self.wait_state("worker@1", "stopped")
        self.assertFalse(pid_alive(before["worker@1"]))

    def test_a_changed_configuration_refuses_the_reexec(self):
        self.start_armd()
        self.armctl("start", "worker@1", check=0)
        before = self.running_pids()
        with open(self.config, "a") as f:
            f.write('\n[services.added]\nbinary = "true"\n')
        result = self.armctl("reexec", check=1)
        self.assertIn("changed since armd loaded it; reload first", result.stderr)
        self.assertEqual(self.running_pids(), before)
        # After the reload, the re-exec goes ahead.
        self.armctl("reload", check=0)
        self.armctl("reexec", check=0)
        self.assertEqual(self.running_pids(), before)

    def test_a_new_program_that_cannot_take_over_is_not_executed(self):
        # armd runs from a copy, which an "upgrade" then replaces.
        program = os.path.join(self.dir, "armd-copy")
        shutil.copy(ARMD, program)
        self.start_armd(program=program)
        self.armctl("start", "worker@1", "worker@2", check=0)
        before = self.running_pids()

        os.unlink(program)
        with open(program, "w") as f:
            f.write("#!/bin/sh\necho 'this is not armd' >&2\nexit 1\n")
        os.chmod(program, 0o755)
        result = self.armctl("reexec", check=1)
        self.assertIn("cannot take over: this is not armd", result.stderr)
        self.assertEqual(self.running_pids(), before)
        self.assertIsNone(self.armd.poll())

        # The real program put back in place (an upgrade's new file): taken over by it.
        os.unlink(program)
        shutil.copy(ARMD, program)
        result = self.armctl("reexec", check=0)
        self.assertIn(program, result.stdout)
        self.assertEqual(self.running_pids(), before)


class ReexecProcessGroups(Reexec):
    """The same with process groups: the new armd takes the pidfds and process groups over, not
    cgroups."""

    ARM_SECTION = '[arm]\ncgroup = "off"\n'

    def test_the_log_says_process_groups(self):
        self.start_armd()
        self.armctl("reexec", check=0)
        wait_for(lambda: "re-executed" in self.log(), "the new armd's log line")
        self.assertEqual(self.log().count("containment: process groups"), 2)


if __name__ == "__main__":
    unittest.main()
