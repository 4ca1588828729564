"""armd reading GNUnet's own configuration (issue 17, the `long` suite: it installs Debian's
`gnunet` package when missing, as root).

A loopback-only peer configuration in the test's scratch directory, layered over copies of
Debian's defaults for ARM, util, statistics, identity and resolver (--gnunet-defaults, so no
other GNUnet service is configured): armd starts the IMMEDIATE_START service with exactly the
argv GNUnet's ARM gives it (checked in /proc/PID/cmdline), holds the sockets of the others, and
the stock clients get their answers (gnunet-identity's service started by its first
connection). A reload reads the .conf again; a re-exec is refused."""

import os
import re
import shutil
import subprocess
import textwrap
import unittest

from harness import DEADLINE, wait_for
from test_gnunet_on_demand import GnunetTestCase, libexec

DEFAULTS = "/usr/share/gnunet/config.d"


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [word.decode() for word in f.read().split(b"\0")[:-1]]


class GnunetConfig(GnunetTestCase):
    def setUp(self):
        super().setUp()
        self.run_dir = os.path.join(self.dir, "run")
        self.cache = os.path.join(self.dir, "cache")
        self.defaults = os.path.join(self.dir, "defaults")
        os.mkdir(self.defaults)
        for name in ("util.conf", "arm.conf", "statistics.conf", "identity.conf",
                     "resolver.conf"):
            shutil.copy(os.path.join(DEFAULTS, name), self.defaults)
        self.config = os.path.join(self.dir, "peer.conf")  # .conf: read as GNUnet's

    def write_peer(self, statistics_extra="", extra=""):
        # Written whole, then renamed into place: armd sees one change, never half a file.
        with open(self.config + ".new", "w") as f:
            f.write(textwrap.dedent(f"""\
                # A peer that reaches nothing but this host.
                [PATHS]
                GNUNET_HOME = {self.dir}/home
                GNUNET_RUNTIME_DIR = {self.run_dir}
                GNUNET_USER_RUNTIME_DIR = {self.run_dir}
                GNUNET_DATA_HOME = {self.dir}/data
                GNUNET_CONFIG_HOME = {self.dir}/config
                GNUNET_CACHE_HOME = {self.cache}
                GNUNET_TMP = {self.dir}/tmp

                [arm]
                GLOBAL_POSTFIX = -l $GNUNET_CACHE_HOME/{{}}.log

                [statistics]
                IMMEDIATE_START = YES
                {statistics_extra}
                """) + extra)
        os.rename(self.config + ".new", self.config)

    def start(self, extra=""):
        self.write_peer(extra=extra)
        self.start_armd("--gnunet-defaults", self.defaults)

    def client(self, *args):
        """A stock GNUnet client on the peer's configuration; fails the test unless it exits 0."""
        result = subprocess.run([args[0], "-c", self.config, *args[1:]],
                                capture_output=True, text=True, timeout=DEADLINE,
                                env=self.armd_environment())
        self.assertEqual(result.returncode, 0, f"{args}: {result.stdout} {result.stderr}\n"
                                               f"armd log:\n{self.log()}")
        return result.stdout

    def running_argv(self, name):
        """The running process's argv, or None while it is not running."""
        status = self.status(name)
        if status["state"] != "running":
            return None
        try:
            return cmdline(status["pid"])
        except OSError:
            return None  # it ended meanwhile

    def statistics_argv(self, *options):
        return [f"{libexec()}/gnunet-service-statistics", "-c", self.config,
                "-l", f"{self.cache}/statistics.log", *options]

    def test_the_immediate_service_runs_with_arms_argv_and_the_others_wait_for_clients(self):
        self.start()
        running = self.wait_state("statistics", "running")
        self.assertEqual(cmdline(running["pid"]), self.statistics_argv())
        # On demand, as Debian's defaults say: armd holds their UNIXPATH sockets.
        self.assertEqual(self.status("identity")["state"], "listening")
        self.assertEqual(self.status("resolver")["state"], "listening")
        self.assertEqual(set(self.status()), {"statistics", "identity", "resolver"})

        self.client("gnunet-statistics", "-s", "armd-test", "-n", "requests", "42")
        self.assertRegex(self.client("gnunet-statistics", "-s", "armd-test"),
                         r"armd-test\s+requests:\s+42")

        # gnunet-identity's first connection starts its service, with ARM's argv too.
        self.client("gnunet-identity", "-C", "alice")
        identity = self.wait_state("identity", "running")
        self.assertEqual(cmdline(identity["pid"]),
                         [f"{libexec()}/gnunet-service-identity", "-c", self.config,
                          "-l", f"{self.cache}/identity.log"])
        self.assertIn("alice", self.client("gnunet-identity", "-d"))

    def test_a_reload_reads_the_conf_again(self):
        self.start()
        first = self.wait_state("statistics", "running")["pid"]
        self.write_peer(statistics_extra="OPTIONS = -L WARNING")
        self.armctl("reload", check=0)
        # (armd reloads on its own too when peer.conf changes: either way, one restart.)
        wanted = self.statistics_argv("-L", "WARNING")
        wait_for(lambda: self.running_argv("statistics") == wanted,
                 "statistics restarted with its new OPTIONS")
        self.assertNotEqual(self.status("statistics")["pid"], first)

    def test_an_edit_of_one_section_restarts_only_that_service(self):
        identity_at_boot = "[identity]\nIMMEDIATE_START = YES\n"
        self.start(extra=identity_at_boot)
        statistics = self.wait_state("statistics", "running")["pid"]
        identity = self.wait_state("identity", "running")["pid"]

        # A comment: armd reloads (it watches the files it read), and restarts no one.
        self.write_peer(extra="# tuned later\n" + identity_at_boot)
        wait_for(lambda: "changed: reloading the configuration" in self.log()
                 and re.search(r"reloaded .*: 0 added, 0 removed, 0 restarted", self.log()),
                 "armd reloads on the change of peer.conf, restarting no one")
        self.assertEqual(self.status("statistics")["pid"], statistics)
        self.assertEqual(self.status("identity")["pid"], identity)

        # A key of [identity] (one ARM does not read): identity restarts, statistics runs on.
        self.write_peer(extra=identity_at_boot + "EGO_LIMIT = 5\n")
        wait_for(lambda: self.status("identity")["state"] == "running"
                 and self.status("identity")["pid"] != identity,
                 "identity restarted for its section")
        self.assertRegex(self.log(), r"reloaded .*: 0 added, 0 removed, 1 restarted \(identity\)")
        self.assertEqual(self.status("statistics")["pid"], statistics)
        self.assertEqual(self.status("statistics")["restarts"], 0)

    def reloads(self):
        """How many services each of armd's reloads so far restarted, in order."""
        return [int(n) for n in re.findall(r"reloaded \S+: \d+ added, \d+ removed, (\d+) restarted",
                                           self.log())]

    def test_an_included_file_is_watched_too(self):
        included = os.path.join(self.dir, "identity-extra.conf")

        def include(text):
            with open(included + ".new", "w") as f:
                f.write(text)
            os.rename(included + ".new", included)

        include("[identity]\nEGO_LIMIT = 5\n")
        self.start(extra="[identity]\nIMMEDIATE_START = YES\n@INLINE@ identity-extra.conf\n")
        statistics = self.wait_state("statistics", "running")["pid"]
        identity = self.wait_state("identity", "running")["pid"]

        include("[identity]\nEGO_LIMIT = 6\n")
        wait_for(lambda: self.reloads() == [1], "armd reloads on the change of the included file")
        wait_for(lambda: self.status("identity")["state"] == "running"
                 and self.status("identity")["pid"] != identity,
                 "identity restarted for its included setting")
        self.assertIn("1 restarted (identity)", self.log())
        self.assertEqual(self.status("statistics")["pid"], statistics)

        # Included again but missing: the reload is refused, and armd tries again once it is back.
        os.unlink(included)
        self.write_peer(extra="[identity]\nIMMEDIATE_START = YES\n@INLINE@ identity-extra.conf\n"
                              "# touched\n")
        wait_for(lambda: "reload refused" in self.log(), "the reload refused for the missing file")
        identity = self.status("identity")["pid"]
        include("[identity]\nEGO_LIMIT = 7\n")
        wait_for(lambda: self.reloads() == [1, 1], "armd reloads once the included file is back")
        self.assertEqual(self.status("statistics")["pid"], statistics)

    def test_a_reexec_is_refused_with_a_gnunet_configuration(self):
        self.start()
        result = self.armctl("reexec")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("not supported with a GNUnet configuration",
                      result.stdout + result.stderr)
        self.assertEqual(self.armd.poll(), None)

    def test_check_config_reads_the_conf_and_says_what_it_does_not_apply(self):
        self.write_peer()
        result = subprocess.run([os.environ["ARMD"], "--check-config", self.config,
                                 "--gnunet-defaults", self.defaults],
                                capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("valid (3 services)", result.stdout)
        # Debian's arm.conf gives ARM a UNIXPATH: gnunet-arm cannot reach armd, and it is said.
        self.assertIn("[arm] UNIXPATH is not applied", result.stderr)


if __name__ == "__main__":
    unittest.main()
