"""Containment: every process a service starts is stopped with it, gracefully, and nothing a
SIGKILLed armd left runs on next to the new armd's services. Real processes, real cgroups (armd
makes them below its own cgroup v2 when it may: root on the CI machines), real signals."""

import json
import os
import signal
import subprocess
import time
import unittest

from harness import (ArmdTestCase, DEADLINE, instance_cgroup, own_cgroup_directory, pid_alive,
                     wait_for)


def read_pid(path):
    def ready():
        try:
            with open(path) as f:
                text = f.read().strip()
            return int(text) if text else None
        except FileNotFoundError:
            return None
    return wait_for(ready, f"a pid in {path}")


def status_reply(test):
    """armd's whole status reply, as JSON."""
    with test.connect() as connection:
        connection.read_line()  # the banner
        connection.request(id=1, method="status")
        return connection.read_line()


def cgroup_usable():
    directory = own_cgroup_directory()
    return directory is not None and os.access(os.path.join(directory, "cgroup.procs"), os.W_OK)


def parent_of(pid):
    """`pid`'s parent while it lives (not a zombie), else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):  # gone while being read
        return None
    return None if fields[0] == "Z" else int(fields[1])


def zombie_children(pid):
    """The zombies among `pid`'s children: what a reaper has not reaped."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children = [int(c) for c in f.read().split()]
        except FileNotFoundError:
            continue
        for child in children:
            try:
                with open(f"/proc/{child}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        found.append(child)
            except FileNotFoundError:
                pass
    return found


@unittest.skipUnless(cgroup_usable(), "needs a writable cgroup v2 (root on the CI machines)")
class CgroupContainment(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.escapee_file = os.path.join(self.dir, "escapee")
        # Each helper process tells its pid once its trap is set, so a stop cannot come first.
        escaper = self.script("escaper.sh", f"""
            setsid sh -c 'trap "" TERM; echo $$ > {self.escapee_file}; exec sleep 100000' &
            exec sleep 100000
            """)
        self.worker_file = os.path.join(self.dir, "worker")
        self.finished_file = os.path.join(self.dir, "finished")
        # The main process exits at once on SIGTERM; its worker takes a second to finish.
        graceful = self.script("graceful.sh", f"""
            sh -c 'trap "sleep 1; echo finished > {self.finished_file}; exit 0" TERM
                   echo $$ > {self.worker_file}
                   while :; do sleep 0.05; done' &
            exec sleep 100000
            """)
        self.daemon_file = os.path.join(self.dir, "daemon")
        daemonizer = self.script("daemonizer.sh", f"""
            sleep 100000 &
            echo $! > {self.daemon_file}
            exit 0
            """)
        self.child_file = os.path.join(self.dir, "child")
        parent = self.script("parent.sh", f"""
            sleep 100000 &
            echo $! > {self.child_file}
            wait
            """)
        self.nested_file = os.path.join(self.dir, "nested")
        self.nested_term_file = os.path.join(self.dir, "nested-term")
        # A service that makes a cgroup of its own below its cgroup (as a nested supervisor or a
        # container runtime does) and runs a worker there.
        nester = self.script("nester.sh", f"""
            mount=$(awk '$0 ~ / - cgroup2 / {{ print $5; exit }}' /proc/self/mountinfo)
            own=$mount$(sed -n 's/^0:://p' /proc/self/cgroup)
            mkdir "$own/inner"
            sh -c 'echo $$ > "$0/cgroup.procs"
                   trap "echo got-term >> {self.nested_term_file}; exit 0" TERM
                   echo $$ > {self.nested_file}
                   while :; do sleep 0.05; done' "$own/inner" &
            exec sleep 100000
            """)
        self.write_config(f"""
            [services.nester]
            binary = "{nester}"
            stop_timeout = "60s"
            [services.escaper]
            binary = "{escaper}"
            stop_timeout = "500ms"
            [services.graceful]
            binary = "{graceful}"
            stop_timeout = "60s"
            [services.daemonizer]
            binary = "{daemonizer}"
            restart = "on-failure"
            [services.parent]
            binary = "{parent}"
            [services.sleeper]
            binary = "{self.sleeper()}"
            stop_timeout = "60s"
            """)

    def test_status_says_the_services_run_in_cgroups(self):
        self.start_armd()
        reply = status_reply(self)
        self.assertEqual(reply["containment"], "cgroup")
        self.assertIn("containment: cgroup", self.log())

    def test_a_child_that_leaves_the_session_is_stopped_with_its_service(self):
        self.start_armd()
        self.armctl("start", "escaper", check=0)
        escapee = read_pid(self.escapee_file)
        main = self.status("escaper")["pid"]
        cgroup = os.path.join(instance_cgroup(self.socket), "escaper.service")
        with open(os.path.join(cgroup, "cgroup.procs")) as f:
            self.assertEqual(sorted(int(p) for p in f.read().split()), sorted([main, escapee]))
        self.armctl("stop", "escaper", check=0)
        # The reply came once nothing of the service was left: it ignored SIGTERM, so SIGKILL.
        self.assertFalse(pid_alive(escapee))
        self.assertFalse(pid_alive(main))
        self.assertFalse(os.path.exists(cgroup))

    def test_workers_get_the_whole_stop_timeout_when_the_main_process_exits_first(self):
        self.start_armd()
        self.armctl("start", "graceful", check=0)
        worker = read_pid(self.worker_file)
        self.armctl("stop", "graceful", check=0)
        self.assertFalse(pid_alive(worker))
        with open(self.finished_file) as f:  # it was not SIGKILLed when the main process went
            self.assertEqual(f.read().strip(), "finished")

    def test_a_service_that_made_cgroups_of_its_own_is_stopped_whole_and_starts_again(self):
        self.start_armd()
        self.armctl("start", "nester", check=0)
        worker = read_pid(self.nested_file)
        self.armctl("stop", "nester", check=0)
        self.assertFalse(pid_alive(worker))
        with open(self.nested_term_file) as f:  # SIGTERM reached the cgroup below, too
            self.assertEqual(f.read().strip(), "got-term")
        # Its cgroup and the one it made are gone, so the next run starts clean (a cgroup
        # reused after cgroup.kill may kill what is born in it).
        self.assertFalse(os.path.exists(os.path.join(instance_cgroup(self.socket),
                                                     "nester.service")))
        os.remove(self.nested_file)
        self.armctl("start", "nester", check=0)
        second = read_pid(self.nested_file)
        self.assertTrue(pid_alive(second))
        self.assertEqual(self.status("nester")["state"], "running")

    def test_a_stopped_service_gets_sigcont_after_sigterm(self):
        self.start_armd()
        self.armctl("start", "sleeper", check=0)
        pid = self.status("sleeper")["pid"]
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T",
                 "the service to be stopped")
        # stop_timeout is 60 s: only SIGCONT lets SIGTERM end it within the deadline.
        self.armctl("stop", "sleeper", check=0, timeout=DEADLINE)
        self.assertEqual(self.status("sleeper")["last_exit"]["signal"], signal.SIGTERM)

    def test_a_program_that_forks_into_the_background_is_said_to_and_its_daemon_stopped(self):
        self.start_armd()
        self.armctl("start", "daemonizer", check=0)
        daemon = read_pid(self.daemon_file)
        wait_for(lambda: self.status("daemonizer")["state"] == "stopped", "the launcher to exit")
        status = self.status("daemonizer")
        self.assertIn("does it fork into the background?", status["last_error"])
        self.assertEqual(status["last_exit"]["code"], 0)
        self.assertFalse(pid_alive(daemon))
        self.assertIn("fork into the background", self.log())

    def test_what_a_sigkilled_armd_left_is_killed_before_the_next_armd_starts_anything(self):
        with open(self.config, "a") as f:
            f.write('[arm]\ndefault_services = ["parent"]\n')
        self.start_armd()
        child = read_pid(self.child_file)
        first_main = self.status("parent")["pid"]
        self.armd.send_signal(signal.SIGKILL)
        self.armd.wait()
        self._log.close()
        # The main process dies with armd (PR_SET_PDEATHSIG); what it started lives on, in its
        # cgroup, until the next armd.
        wait_for(lambda: not pid_alive(first_main), "the main process to die with armd")
        self.assertTrue(pid_alive(child))
        os.remove(self.child_file)
        self.start_armd()
        wait_for(lambda: self.status("parent")["state"] == "running", "parent to run again")
        self.assertFalse(pid_alive(child))
        self.assertIn("killed what a previous armd left running in 1 cgroup(s): parent.service",
                      self.log())
        new_child = read_pid(self.child_file)
        cgroup = os.path.join(instance_cgroup(self.socket), "parent.service")
        with open(os.path.join(cgroup, "cgroup.procs")) as f:
            self.assertEqual(sorted(int(p) for p in f.read().split()),
                             sorted([self.status("parent")["pid"], new_child]))


@unittest.skipUnless(cgroup_usable(), "needs a writable cgroup v2 (root on the CI machines)")
class TwoArmds(ArmdTestCase):
    def test_armds_on_sockets_spelled_alike_in_different_directories_leave_each_other_alone(self):
        first, second = os.path.join(self.dir, "one"), os.path.join(self.dir, "two")
        sleeper = self.sleeper()
        armds = []
        try:
            for directory in (first, second):
                os.mkdir(directory)
                with open(os.path.join(directory, "armd.toml"), "w") as f:
                    f.write(f'[arm]\ndefault_services = ["web"]\n'
                            f'[services.web]\nbinary = "{sleeper}"\n')
                log = open(os.path.join(directory, "log"), "w")
                armds.append((subprocess.Popen(
                    [self._armd(), "--config", "armd.toml", "--socket", "armd-test.sock"],
                    cwd=directory, env=self.armd_environment(), stdout=log,
                    stderr=subprocess.STDOUT), log))
                socket_path = os.path.join(directory, "armd-test.sock")
                wait_for(lambda: os.path.exists(socket_path), "armd to listen")
                pid = wait_for(lambda: self.web_pid(socket_path), "web to run")
                if directory == first:
                    first_web = pid
            # The second armd did not take the first one's services for leftovers.
            self.assertTrue(pid_alive(first_web))
            self.assertEqual(self.web_pid(os.path.join(first, "armd-test.sock")), first_web)
        finally:
            for armd, log in armds:
                armd.send_signal(signal.SIGTERM)
                armd.wait(timeout=DEADLINE)
                log.close()

    def web_pid(self, socket_path):
        result = subprocess.run([self._armctl(), "--socket", socket_path, "--json", "status",
                                 "web"], capture_output=True, text=True, timeout=DEADLINE)
        if result.returncode != 0:
            return None
        status = json.loads(result.stdout)[0]
        return status["pid"] if status["state"] == "running" else None

    def _armd(self):
        from harness import ARMD
        return os.path.abspath(ARMD)

    def _armctl(self):
        from harness import ARMCTL
        return os.path.abspath(ARMCTL)


class Signals(ArmdTestCase):
    def setUp(self):
        super().setUp()
        clean = self.script("clean.sh", "sleep 0.2; exit 0\n")
        self.orphan_file = os.path.join(self.dir, "orphan")
        orphaner = self.script("orphaner.sh", f"""
            sh -c 'sleep 2 & echo $! > {self.orphan_file}'
            exec sleep 100000
            """)
        self.write_config(f"""
            [services.clean]
            binary = "{clean}"
            restart = "on-failure"
            [services.orphaner]
            binary = "{orphaner}"
            """)

    def test_an_inherited_ignored_sigchld_does_not_turn_clean_exits_into_failures(self):
        self._log = open(self.log_path, "w")
        self.armd = subprocess.Popen(
            [self._armd_path(), "--config", self.config, "--socket", self.socket],
            env=self.armd_environment(), stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
        wait_for(self._answers_hello, "armd to accept connections")
        self.armctl("start", "clean", check=0)
        wait_for(lambda: self.status("clean")["state"] != "running", "clean to exit")
        status = self.status("clean")
        self.assertEqual(status["state"], "stopped")
        self.assertEqual(status["last_exit"]["code"], 0)
        self.assertEqual(status["restarts"], 0)

    def assert_orphans_come_to_armd_and_are_reaped(self):
        self.armctl("start", "orphaner", check=0)
        orphan = read_pid(self.orphan_file)
        # Its parent shell has exited: the orphan is armd's now (a subreaper), not init's ...
        wait_for(lambda: parent_of(orphan) in (self.armd.pid, None), "the orphan to be adopted")
        self.assertEqual(parent_of(orphan), self.armd.pid)
        # ... and once it exits, armd reaps it: no zombie.
        wait_for(lambda: parent_of(orphan) is None, "the orphan to be reaped")

    def test_with_init_armd_reaps_the_orphans_of_its_services(self):
        self.start_armd("--init")
        self.assert_orphans_come_to_armd_and_are_reaped()

    def test_in_process_group_mode_armd_reaps_the_orphans_of_its_services(self):
        with open(self.config, "a") as f:
            f.write('[arm]\ncgroup = "off"\n')
        self.start_armd()
        self.assertEqual(status_reply(self)["containment"], "process-group")
        self.assert_orphans_come_to_armd_and_are_reaped()

    def _armd_path(self):
        from harness import ARMD
        return os.path.abspath(ARMD)


class CgroupSetting(ArmdTestCase):
    def test_a_relative_cgroup_path_is_a_config_error_naming_the_key(self):
        self.write_config('[arm]\ncgroup = "services"\n')
        result = subprocess.run([self._armd(), "--check-config", self.config],
                                capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 2)
        self.assertIn("arm.cgroup", result.stderr)
        self.assertIn("absolute path", result.stderr)

    def test_a_cgroup_path_that_cannot_be_used_stops_armd_with_a_clear_error(self):
        self.write_config(f'[arm]\ncgroup = "{self.dir}/not-a-cgroup"\n')
        self._log = open(self.log_path, "w")
        self.armd = subprocess.Popen([self._armd(), "--config", self.config, "--socket",
                                      self.socket], env=self.armd_environment(),
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.assertEqual(self.armd.wait(timeout=DEADLINE), 1)
        self.assertIn("not on a cgroup v2 file system", self.log())

    def _armd(self):
        from harness import ARMD
        return os.path.abspath(ARMD)


if __name__ == "__main__":
    unittest.main()
