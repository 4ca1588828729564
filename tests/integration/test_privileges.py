"""Privileges and limits per service under the real armd (issue 15, part 1): user, group,
supplementary_groups, umask, limits, capabilities, no_new_privileges, nice, oom_score_adj,
environment_file and clear_environment, each checked from /proc of the running service; bad
settings give a clear error at load (file:line) or a spawn error naming the setting.

Needs root (it creates a system user and group, removed afterwards even when a test fails);
skipped otherwise.
"""

import os
import socket
import subprocess
import unittest

from harness import ARMD, ArmdTestCase, wait_for

# A service that binds a low port (it needs CAP_NET_BIND_SERVICE as a non-root user), then says
# READY=1 on $NOTIFY_SOCKET (which it must be able to reach as its user) and waits.
BINDER = """#!/usr/bin/python3
import os, socket, sys, time
port = int(sys.argv[1])
listener = socket.socket()
listener.bind(("127.0.0.1", port))
listener.listen()
ready = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ready.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
while True:
    time.sleep(1000)
"""


def free_low_port():
    """A privileged port (below net.ipv4.ip_unprivileged_port_start) nothing listens on (checked
    by binding it, as root)."""
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        first_unprivileged = int(f.read())
    if first_unprivileged <= 600:
        raise unittest.SkipTest(f"ports from {first_unprivileged} need no capability here")
    for port in range(min(first_unprivileged, 1024) - 1, 600, -1):
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            probe.close()
    raise unittest.SkipTest("no free port between 600 and 1000")


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def proc_limit(pid, name):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith(name):
                return line[len(name):].split()
    return None


def proc_environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return sorted(entry.decode() for entry in f.read().split(b"\0") if entry)


class Privileges(ArmdTestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: creates a user and runs services as it")
        suffix = f"{os.getpid() % 100000}"
        cls.user = f"armtest{suffix}"
        cls.extra_group = f"armtestx{suffix}"
        subprocess.run(["groupadd", "--system", cls.extra_group], check=True)
        cls.addClassCleanup(subprocess.run, ["groupdel", cls.extra_group], check=False)
        subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                        "--shell", "/usr/sbin/nologin", "--groups", cls.extra_group, cls.user],
                       check=True)
        # userdel removes the user's own group as well (USERGROUPS_ENAB); the class cleanups
        # run last-added first, so the user goes before the extra group.
        cls.addClassCleanup(subprocess.run, ["userdel", cls.user], check=False)
        import grp
        import pwd
        entry = pwd.getpwnam(cls.user)
        cls.uid, cls.gid = entry.pw_uid, entry.pw_gid
        cls.extra_gid = grp.getgrnam(cls.extra_group).gr_gid

    def setUp(self):
        super().setUp()
        # The service's user must reach its program and armd's notify socket in this directory
        # (armd changes no directory's mode; see docs/config.md).
        os.chmod(self.dir, 0o755)

    def check_config(self):
        return subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                              text=True, timeout=30)

    def test_a_service_runs_with_every_setting_as_proc_shows_it(self):
        port = free_low_port()
        binder = os.path.join(self.dir, "binder.py")
        with open(binder, "w") as f:
            f.write(BINDER)
        os.chmod(binder, 0o755)
        env_file = os.path.join(self.dir, "binder.env")
        with open(env_file, "w") as f:
            f.write("# read at each start\nFROM_FILE=one\n")
        self.write_config(f"""
            [services.binder]
            binary = "{binder}"
            options = ["{port}"]
            readiness = "notify"
            user = "{self.user}"
            supplementary_groups = ["{self.extra_group}", "{self.user}"]
            umask = "027"
            limits = {{ nofile = {{ soft = 1000, hard = 2000 }}, core = 0, nproc = 5000 }}
            capabilities = ["net_bind_service"]
            no_new_privileges = true
            nice = 5
            oom_score_adj = 300
            environment_file = "binder.env"
            clear_environment = true
            environment = {{ ARMD_TEST_TAG = "{self.dir}", OWN = "yes" }}
            [services.without_capability]
            binary = "{binder}"
            options = ["{port}"]
            readiness = "notify"
            user = "{self.user}"
            restart = "never"
            """)
        self.start_armd()
        # The same program as the same user, without the capability, may not bind the port.
        result = self.armctl("start", "without_capability", check=1)
        self.assertIn("before it was ready", result.stderr)
        self.assertIn("PermissionError", self.armctl("logs", "without_capability").stdout)
        result = self.armctl("start", "binder")  # answered once READY=1 arrived
        if result.returncode != 0:
            self.fail(f"{result.stderr}\nits output:\n{self.armctl('logs', 'binder').stdout}")
        pid = self.wait_state("binder", "running")["pid"]
        status = proc_status(pid)
        self.assertEqual(status["Uid"].split(), [str(self.uid)] * 4)
        self.assertEqual(status["Gid"].split(), [str(self.gid)] * 4)
        self.assertEqual(sorted(status["Groups"].split()),
                         sorted([str(self.gid), str(self.extra_gid)]))
        self.assertEqual(status["Umask"], "0027")
        self.assertEqual(status["CapAmb"], "0000000000000400")
        self.assertEqual(status["CapEff"], "0000000000000400")
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertEqual(proc_limit(pid, "Max open files"), ["1000", "2000", "files"])
        self.assertEqual(proc_limit(pid, "Max core file size"), ["0", "0", "bytes"])
        self.assertEqual(proc_limit(pid, "Max processes"), ["5000", "5000", "processes"])
        with open(f"/proc/{pid}/stat") as f:
            self.assertEqual(int(f.read().rsplit(")", 1)[1].split()[16]), 5)  # field 19: nice
        with open(f"/proc/{pid}/oom_score_adj") as f:
            self.assertEqual(f.read(), "300\n")
        self.assertEqual(proc_environ(pid), sorted([
            f"ARMD_TEST_TAG={self.dir}", "OWN=yes", "FROM_FILE=one", f"USER={self.user}",
            f"LOGNAME={self.user}", f"HOME={os.path.expanduser('~' + self.user)}",
            f"NOTIFY_SOCKET={self.socket}.notify"]))
        # The low port is the service's: it bound it as a non-root user.
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass

        # The environment file is read again at the next start.
        with open(env_file, "w") as f:
            f.write("FROM_FILE=two\n")
        self.armctl("restart", "binder", check=0)
        new_pid = wait_for(lambda: (lambda s: s["pid"] if s["state"] == "running" and
                                    s["pid"] != pid else None)(self.status("binder")),
                           "binder to run again")
        self.assertIn("FROM_FILE=two", proc_environ(new_pid))

    def test_a_setting_the_kernel_refuses_is_a_spawn_error_naming_it(self):
        with open("/proc/sys/fs/nr_open") as f:
            too_many = int(f.read()) + 1  # above fs.nr_open even root may not go
        self.write_config(f"""
            [services.greedy]
            binary = "{self.sleeper()}"
            user = "{self.user}"
            limits = {{ nofile = {too_many} }}
            restart = "never"
            [services.unreadable]
            binary = "{self.sleeper('other.sh')}"
            environment_file = "missing.env"
            restart = "never"
            """)
        self.start_armd()
        result = self.armctl("start", "greedy", check=1)
        self.assertIn(f"limits.nofile: setrlimit(soft {too_many}, hard {too_many}): "
                      "Operation not permitted", result.stdout + result.stderr)
        self.assertIn("limits.nofile: setrlimit", self.status("greedy")["last_error"])
        result = self.armctl("start", "unreadable", check=1)
        self.assertIn(f"environment_file: {self.dir}/missing.env: No such file or directory",
                      result.stdout + result.stderr)

    def test_a_working_directory_the_user_cannot_enter_fails_the_start(self):
        private = os.path.join(self.dir, "private")
        os.mkdir(private, 0o700)
        self.write_config(f"""
            [services.locked]
            binary = "{self.sleeper()}"
            user = "{self.user}"
            working_directory = "{private}"
            restart = "never"
            """)
        self.start_armd()
        result = self.armctl("start", "locked", check=1)
        self.assertIn(f"cannot change directory to {private}: Permission denied",
                      result.stdout + result.stderr)

    def test_health_probes_and_config_checks_run_as_the_services_user(self):
        # A probe or check runs with the service's rights, never armd's (root): a script the
        # service's user can write must not become a way to root.
        ids = os.path.join(self.dir, "ids")
        os.mkdir(ids)
        os.chmod(ids, 0o777)  # (mkdir applies the umask)
        probe = self.script("probe.sh", f"id -u > {ids}/probe.tmp && mv {ids}/probe.tmp {ids}/probe\n")
        check = self.script("check.sh", f"id -u > {ids}/check\n")
        conf = os.path.join(self.dir, "svc.conf")
        with open(conf, "w") as f:
            f.write("one\n")
        self.write_config(f"""
            [services.svc]
            binary = "{self.sleeper()}"
            user = "{self.user}"
            config = "{conf}"
            config_arg = []
            config_check = ["{check}"]
            reload = ["/bin/true"]
            health = {{ exec = ["{probe}"], interval = "1s", timeout = "1s" }}
            """)
        self.start_armd()
        self.armctl("start", "svc", check=0)
        wait_for(lambda: os.path.exists(os.path.join(ids, "probe")), "the health probe to run")
        self.armctl("reload-service", "svc")
        wait_for(lambda: os.path.exists(os.path.join(ids, "check")), "the config check to run")
        for name in ("probe", "check"):
            with open(os.path.join(ids, name)) as f:
                self.assertEqual(f.read().strip(), str(self.uid), name)

    def test_unknown_users_groups_and_capabilities_are_config_errors_at_their_line(self):
        self.write_config(f"""
            [services.a]
            binary = "{self.sleeper()}"
            user = "no-such-user-arm15"
            """)
        result = self.check_config()
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"{self.config}:4:8: services.a.user: 'no-such-user-arm15': no such user",
                      result.stderr)
        self.write_config(f"""
            [services.a]
            binary = "{self.sleeper()}"
            user = "{self.user}"
            capabilities = ["CAP_NET_BIND"]
            """)
        result = self.check_config()
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"{self.config}:5:17: services.a.capabilities[0]: 'CAP_NET_BIND': unknown "
                      "capability", result.stderr)


if __name__ == "__main__":
    unittest.main()
