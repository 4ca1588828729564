"""Reload without restart, and the check before acting (issue 14), under the real armd: a
python service that counts the SIGHUPs it receives (in a file), a config_check script that
refuses a config file holding the word BROKEN. A broken edit leaves the same process running
(same pid, no restart, no signal) and status shows the rejected change; a good edit delivers
SIGHUP to that same process; `reload = [command]`; `armctl reload-service`; `armctl restart`
refused by a failing check, and `--force` restarting anyway.

Config files are replaced by rename, so armd never sees a half-written file (an empty one would
pass the check).
"""

import os
import unittest

from harness import ArmdTestCase, wait_for

HUP_COUNTER = """\
#!/usr/bin/env python3
# Counts SIGHUPs into the file `hups` next to it; `ready` says the handler is installed.
import os, signal, sys
here = os.path.dirname(os.path.abspath(__file__))
count = 0
def write(name, text):
    with open(os.path.join(here, name + ".tmp"), "w") as f:
        f.write(text)
    os.replace(os.path.join(here, name + ".tmp"), os.path.join(here, name))
def on_hup(*_):
    global count
    count += 1
    write("hups", str(count))
signal.signal(signal.SIGHUP, on_hup)
write("ready", str(os.getpid()))
while True:
    signal.pause()
"""


class ReloadService(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "svc.conf")
        self.edit("listen 8080;\n")
        self.service = os.path.join(self.dir, "hup_counter.py")
        with open(self.service, "w") as f:
            f.write(HUP_COUNTER)
        os.chmod(self.service, 0o755)
        self.check = self.script("check.sh", """\
            if grep -q BROKEN "$1"; then
              echo "svc: [emerg] unknown directive BROKEN in $1:1" >&2
              echo "svc: configuration file $1 test failed" >&2
              exit 1
            fi
            echo "svc: configuration file $1 test is successful"
            """)

    def edit(self, text):
        with open(self.conf + ".new", "w") as f:
            f.write(text)
        os.replace(self.conf + ".new", self.conf)

    def read(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def hups(self):
        return int(self.read("hups") or 0)

    def start_service(self, keys):
        self.write_config(f"""
            [services.svc]
            binary = "{self.service}"
            config = "{self.conf}"
            {keys}
            """)
        self.start_armd()
        self.armctl("start", "svc", check=0)
        wait_for(lambda: self.read("ready"), "the service to install its SIGHUP handler")
        return self.status("svc")["pid"]

    def test_a_broken_edit_leaves_the_same_process_and_a_good_edit_sends_it_sighup(self):
        pid = self.start_service(f'reload_signal = "HUP"\nconfig_check = ["{self.check}", "{{config}}"]')

        self.edit("BROKEN;\n")
        rejected = wait_for(lambda: self.status("svc").get("rejected_change"),
                            "the broken edit to be rejected")
        self.assertEqual(rejected, "config check failed: exit code 1: svc: [emerg] unknown "
                                   f"directive BROKEN in {self.conf}:1")
        svc = self.status("svc")
        self.assertEqual((svc["state"], svc["pid"], svc["restarts"]), ("running", pid, 0))
        self.assertEqual(self.hups(), 0)
        # armd's log has the check's output.
        wait_for(lambda: f"| svc: configuration file {self.conf} test failed" in self.log(),
                 "the check's output in armd's log")
        self.assertIn("config check failed: exit code 1", self.armctl("status", check=0).stdout)

        self.edit("listen 8081;\n")
        wait_for(lambda: self.hups() == 1, "SIGHUP after the good edit")
        svc = self.status("svc")
        self.assertEqual((svc["state"], svc["pid"], svc["restarts"]), ("running", pid, 0))
        self.assertNotIn("rejected_change", svc)

    def test_a_reload_command_runs_instead_of_a_restart_with_the_placeholders_replaced(self):
        marker = os.path.join(self.dir, "reloaded")
        pid = self.start_service(
            f'reload = ["sh", "-c", "echo {{name}} {{pid}} {{config}} > {marker}; kill -HUP {{pid}}"]')
        self.edit("listen 8081;\n")
        wait_for(lambda: self.hups() == 1, "the reload command's SIGHUP")
        self.assertEqual(self.read("reloaded"), f"svc {pid} {self.conf}\n")
        self.assertEqual(self.status("svc")["pid"], pid)

        result = self.armctl("reload-service", "svc", check=0)
        self.assertEqual(result.stdout, "svc: reloaded (reload command: exit code 0)\n")
        # The command's kill returned; the service's handler writes the count when it runs.
        wait_for(lambda: self.hups() == 2, "the second reload's SIGHUP")

    def test_armctl_reload_service_checks_then_signals_and_answers_when_done(self):
        pid = self.start_service(f'reload_signal = "SIGHUP"\nconfig_check = ["{self.check}", "{{config}}"]')
        result = self.armctl("reload-service", "svc", check=0)
        self.assertEqual(result.stdout, f"svc: reloaded (sent SIGHUP to pid {pid})\n")
        wait_for(lambda: self.hups() == 1, "the SIGHUP")

        self.edit("BROKEN;\n")
        wait_for(lambda: self.status("svc").get("rejected_change"), "the rejected edit")
        result = self.armctl("reload-service", "svc", check=1)
        self.assertIn("svc: refused, the running process is untouched: config check failed: "
                      "exit code 1", result.stderr)
        self.assertEqual(self.hups(), 1)
        self.assertEqual(self.status("svc")["pid"], pid)

    def test_reload_service_is_refused_without_a_reload_and_when_not_running(self):
        self.write_config(f"""
            [services.plain]
            binary = "{self.sleeper()}"
            [services.idle]
            binary = "{self.sleeper("idle.sh")}"
            reload_signal = "HUP"
            """)
        self.start_armd()
        self.armctl("start", "plain", check=0)
        result = self.armctl("reload-service", "plain", check=1)
        self.assertEqual(result.stderr, "plain: cannot reload: no reload_signal or reload "
                                        "configured: restart it instead\n")
        result = self.armctl("reload-service", "idle", check=0)
        self.assertEqual(result.stdout, "idle: not running (stopped)\n")

    def test_restart_is_refused_by_a_failing_check_and_force_restarts_anyway(self):
        pid = self.start_service(f'config_check = ["{self.check}", "{{config}}"]\n'
                                 f'reload_signal = "HUP"')
        self.edit("BROKEN;\n")
        wait_for(lambda: self.status("svc").get("rejected_change"), "the rejected edit")

        result = self.armctl("restart", "svc", check=1)
        self.assertIn("svc: refused, the running process is untouched: not restarted: config "
                      "check failed: exit code 1", result.stderr)
        self.assertEqual(self.status("svc")["pid"], pid)

        result = self.armctl("restart", "--force", "svc", check=0)
        svc = self.status("svc")
        self.assertNotEqual(svc["pid"], pid)
        self.assertEqual(result.stdout, f"svc: restarted (pid {svc['pid']})\n")
        self.assertNotIn("rejected_change", svc)


if __name__ == "__main__":
    unittest.main()
