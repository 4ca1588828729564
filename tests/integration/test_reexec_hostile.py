"""Live re-exec (issue 15) under hostile timing, from the review (rev3): each test makes
something happen while armd checks the new program or execs it, and checks that no service is
lost, restarted or killed: a SIGHUP during the check; a configuration edited after the check; a
health probe in flight when the re-exec is refused or the exec fails; a request pipelined after
`reexec` on the same connection; an orphan that exits during the re-exec (it is reaped); a client
of an on-demand socket during the check.

Some tests run armd from a copy that is then replaced by a wrapper: the wrapper runs the real
armd, but makes its check run (--handover-check) take a few seconds, as a check of ten thousand
services or a slow disk would (armd allows it 10 s). That makes "something happens while armd is
in the check or the exec" deterministic."""

import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from harness import ARMCTL, ARMD, DEADLINE, ArmdTestCase, children_of, pid_alive, wait_for

# Runs the real armd; a check run first says it began (the marker file) and takes `delay` s
# more, spent before the real check runs, or after it (`after`: the check has read the
# configuration by then, as it has in the moments between its exit and the exec).
SLOW_CHECK_WRAPPER = """\
#!/usr/bin/env python3
import os, sys, time
real = {real!r}
if "--handover-check" in sys.argv:
    open({marker!r}, "w").close()
    if {after!r}:
        pid = os.fork()
        if pid == 0:
            os.execv(real, [real] + sys.argv[1:])
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        open({marker!r} + ".checked", "w").close()
        time.sleep({delay})
        sys.exit(status)
    time.sleep({delay})
os.execv(real, [real] + sys.argv[1:])
"""


class ReexecHostile(ArmdTestCase):
    def start_with_slow_check(self, delay=3, after=False):
        """armd from a copy, the copy then replaced by SLOW_CHECK_WRAPPER (an "upgrade")."""
        program = os.path.join(self.dir, "armd-copy")
        shutil.copy(ARMD, program)
        self.start_armd(program=program)
        self.check_marker = os.path.join(self.dir, "check-began")
        os.unlink(program)
        with open(program, "w") as f:
            f.write(SLOW_CHECK_WRAPPER.format(real=os.path.abspath(ARMD), marker=self.check_marker,
                                              delay=delay, after=after))
        os.chmod(program, 0o755)

    def reexec_in_background(self):
        return subprocess.Popen([ARMCTL, "--socket", self.socket, "reexec"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def zombie_children(self):
        """armd's zombie children, with their names."""
        found = []
        for pid, state in children_of(self.armd.pid):
            if state == "Z":
                with open(f"/proc/{pid}/stat") as f:
                    found.append((pid, f.read().split("(", 1)[1].split(")", 1)[0]))
        return found

    # --- a signal that comes during the check or the exec waits for the new armd's signalfd ---

    def test_a_sighup_during_the_check_does_not_kill_armd_and_its_services(self):
        self.write_config(f"""
            [services.worker]
            binary = "{self.sleeper()}"
            """)
        self.start_with_slow_check()
        self.armctl("start", "worker", check=0)
        worker = self.status("worker")["pid"]
        reexec = self.reexec_in_background()
        wait_for(lambda: os.path.exists(self.check_marker), "the check to begin")
        # `systemctl reload armd` (ExecReload=kill -HUP $MAINPID) at this moment:
        self.armd.send_signal(signal.SIGHUP)
        self.assert_armd_and_service_live(reexec, worker)

    def assert_armd_and_service_live(self, reexec, pid):
        """Once the re-exec's armctl has finished, and a moment after: armd still runs (the old
        one or the new one), and so does the service process `pid`."""
        out, err = reexec.communicate(timeout=DEADLINE)
        time.sleep(1)
        self.assertIsNone(self.armd.poll(),
                          f"armd exited ({self.armd.returncode}); armctl said {out!r} {err!r}\n"
                          f"{self.log()}")
        self.assertTrue(pid_alive(pid), "the service died with armd")

    # --- a request sent after `reexec` on the same connection is answered -------------------

    def test_a_request_pipelined_after_reexec_is_answered(self):
        self.write_config(f"""
            [services.worker]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        with self.connect() as connection:
            connection.read_line()  # the greeting
            connection.send_raw(b'{"id":1,"method":"reexec"}\n{"id":2,"method":"status"}\n')
            # The old armd answers the status while the new program is checked; the new armd
            # answers the re-exec.
            connection.sock.settimeout(DEADLINE)
            replies = {}
            for _ in range(2):
                try:
                    reply = connection.read_line()
                except TimeoutError:
                    self.fail(f"a request on the re-exec's connection was never answered: {replies}")
                replies[reply.get("id")] = reply
            self.assertEqual(replies[1].get("outcome"), "reexecuted", replies)
            self.assertTrue(replies[2].get("ok"), replies)

    # --- paths are bytes: one that is not UTF-8 is handed over, not a reason to abort --------

    def test_a_configuration_path_that_is_not_utf8_is_handed_over(self):
        # b"caf\xe9.toml" (Latin-1): JSON cannot hold it; the first handover format put the
        # paths in its JSON header, and armd aborted with every service.
        self.config = os.path.join(self.dir, os.fsdecode(b"caf\xe9.toml"))
        self.write_config(f"""
            [services.worker]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        self.armctl("start", "worker", check=0)
        pid = self.wait_state("worker", "running")["pid"]
        result = self.armctl("reexec", check=0)
        self.assertIn("re-executed", result.stdout + result.stderr)
        self.assertIsNone(self.armd.poll(), self.log())
        self.assertEqual(self.status("worker")["pid"], pid)
        # The new armd still knows its configuration file by that name: a reload reads it.
        self.armctl("reload", check=0)

    # --- an orphan that exits during the re-exec is reaped ------------------------------------

    def test_an_orphan_exiting_during_the_reexec_is_reaped(self):
        # Process groups: armd is the subreaper of what its services orphan. The service's
        # subshell leaves `sleep 1` to armd; it exits while armd is in the check.
        forker = self.script("forker.sh", "(sleep 1 &)\nexec sleep 100000\n")
        self.write_config(f"""
            [arm]
            cgroup = "off"
            [services.forker]
            binary = "{forker}"
            """)
        self.start_with_slow_check(delay=3)
        self.armctl("start", "forker", check=0)
        self.armctl("reexec", check=0)
        # Nothing else happens from here on: no other child exits, no SIGCHLD comes.
        time.sleep(3)
        self.assertEqual(self.zombie_children(), [],
                         "a zombie child of armd is never reaped after the re-exec")

    # --- the new armd parses the configuration the old one checked, not the file edited since -

    def test_a_configuration_edited_during_the_check_does_not_kill_every_service(self):
        config = f"""
            [services.worker]
            binary = "{self.sleeper()}"
            [services.other]
            binary = "{self.sleeper("other.sh")}"
            """
        self.write_config(config)
        self.start_with_slow_check(after=True)
        self.armctl("start", "worker", "other", check=0)
        worker = self.status("worker")["pid"]
        reexec = self.reexec_in_background()
        wait_for(lambda: os.path.exists(self.check_marker + ".checked"),
                 "the check to have read the configuration")
        # The file armd compared and the check read is edited (a deployment writing the next
        # version) before the exec: the old armd had the compared text in memory.
        self.write_config(config.split("[services.other]")[0])
        self.assert_armd_and_service_live(reexec, worker)

    # --- an exec that fails after the check restarts no service: the probes run again ---------

    def test_a_failed_exec_does_not_restart_a_healthy_service(self):
        self.write_config(f"""
            [services.checked]
            binary = "{self.sleeper()}"
            health = {{ exec = "sleep 0.9", interval = "1s", timeout = "1s", failures = 1 }}
            """)
        # The check passes, then the program is no longer executable: execve fails (EACCES), as
        # any exec failure after the check would (ENOMEM, E2BIG, a file replaced meanwhile).
        program = os.path.join(self.dir, "armd-copy")
        shutil.copy(ARMD, program)
        self.start_armd(program=program)
        os.unlink(program)
        with open(program, "w") as f:
            f.write(f"""#!/usr/bin/env python3
import os, sys
real = {os.path.abspath(ARMD)!r}
if "--handover-check" in sys.argv:
    os.chmod(sys.argv[0], 0o644)
    pid = os.fork()
    if pid == 0:
        os.execv(real, [real] + sys.argv[1:])
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
os.execv(real, [real] + sys.argv[1:])
""")
        os.chmod(program, 0o755)
        self.armctl("start", "checked", check=0)
        wait_for(lambda: self.status("checked")["health"] == "healthy", "the first probe")
        before = self.status("checked")
        # A probe is in flight 90% of the time: the re-exec ends it.
        result = self.armctl("reexec", check=1)
        self.assertIn("Permission denied", result.stderr)
        time.sleep(3)
        after = self.status("checked")
        self.assertEqual((after["pid"], after["restarts"]), (before["pid"], before["restarts"]),
                         f"the service was restarted after a failed exec\n{self.log()}")

    def test_a_refused_reexec_does_not_restart_a_healthy_service(self):
        # "armd answers what it printed and carries on; nothing was touched" (docs/reexec.md):
        # but armd waits for the check without serving its loop, and the probe in flight times
        # out meanwhile.
        self.write_config(f"""
            [services.checked]
            binary = "{self.sleeper()}"
            health = {{ exec = "sleep 0.9", interval = "1s", timeout = "1s", failures = 1 }}
            """)
        program = os.path.join(self.dir, "armd-copy")
        shutil.copy(ARMD, program)
        self.start_armd(program=program)
        os.unlink(program)
        # A new program that takes 2.5 s to say it cannot take over (armd allows 10 s).
        with open(program, "w") as f:
            f.write("#!/bin/sh\nsleep 2.5\necho 'cannot read this state' >&2\nexit 1\n")
        os.chmod(program, 0o755)
        self.armctl("start", "checked", check=0)
        wait_for(lambda: self.status("checked")["health"] == "healthy", "the first probe")
        before = self.status("checked")
        for _ in range(3):
            result = self.armctl("reexec", check=1)
            self.assertIn("cannot read this state", result.stderr)
            time.sleep(0.5)
        time.sleep(2)
        after = self.status("checked")
        self.assertEqual((after["pid"], after["restarts"]), (before["pid"], before["restarts"]),
                         f"a refused re-exec restarted the service\n{self.log()}")

    # --- a connection to an on-demand socket during the check starts its service -------------

    def test_a_client_of_an_on_demand_socket_during_the_check_starts_the_service(self):
        port_file = os.path.join(self.dir, "port")
        import socket as socket_module
        with socket_module.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = self.script("server.py", "")
        with open(server, "w") as f:
            f.write("import socket\nl = socket.socket(fileno=3)\nwhile True:\n"
                    "    c, _ = l.accept()\n    c.sendall(b'hi\\n')\n    c.close()\n")
        self.write_config(f"""
            [services.ondemand]
            binary = "python3"
            options = ["{server}"]
            listen = ["tcp:127.0.0.1:{port}"]
            start = "on-demand"
            """)
        self.start_with_slow_check()
        self.wait_state("ondemand", "listening")
        reexec = self.reexec_in_background()
        wait_for(lambda: os.path.exists(self.check_marker), "the check to begin")
        client = socket_module.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        reexec.communicate(timeout=DEADLINE)
        self.assertEqual(reexec.returncode, 0)
        with client:
            self.assertEqual(client.makefile().readline().strip(), "hi")


if __name__ == "__main__":
    unittest.main()
