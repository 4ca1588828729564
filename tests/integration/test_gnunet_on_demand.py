"""Two real GNUnet services (Debian's `gnunet` package, 0.19) started on demand by their own
clients under armd (issue 14, the `long` suite: it installs the package when missing and run
as root).

GNUnet's services take their listening sockets from LISTEN_FDS (util's service.c: descriptors
3, 4, ... that are not close-on-exec; it does not look at LISTEN_PID), which is how GNUnet's own
ARM starts them on demand. Here armd holds each service's UNIXPATH socket (`listen = ["unix:..."]`,
`start = "on-demand"`), and the stock clients `gnunet-statistics` and `gnunet-identity`, given a
configuration (`-c`) whose paths are the test's scratch directory, start them by connecting."""

import glob
import os
import subprocess
import textwrap
import unittest

from harness import DEADLINE, ArmdTestCase, wait_for


def libexec():
    """Where Debian puts GNUnet's services, or None while it is not installed."""
    found = glob.glob("/usr/lib/*/gnunet/libexec/gnunet-service-statistics")
    return os.path.dirname(found[0]) if found else None


def install_gnunet():
    """apt-get install gnunet, only when missing and only as root; what went wrong, or None."""
    if libexec():
        return None
    if os.geteuid() != 0:
        return "gnunet is not installed, and installing it needs root"
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "gnunet"]):
        result = subprocess.run(command, env=environment, capture_output=True, text=True,
                                timeout=1200)
        if result.returncode != 0:
            return f"{' '.join(command)} failed: {result.stderr[-500:]}"
    return None if libexec() else "apt-get installed gnunet, yet its services are not found"


class GnunetTestCase(ArmdTestCase):
    """A test of armd with Debian's GNUnet services: skipped when the package cannot be had."""

    @classmethod
    def setUpClass(cls):
        problem = install_gnunet()
        if problem:
            raise unittest.SkipTest(problem)


class GnunetOnDemand(GnunetTestCase):

    def setUp(self):
        super().setUp()
        self.run_dir = os.path.join(self.dir, "run")
        os.mkdir(self.run_dir)
        self.gnunet_config = os.path.join(self.dir, "gnunet.conf")
        with open(self.gnunet_config, "w") as f:
            f.write(textwrap.dedent(f"""\
                [PATHS]
                GNUNET_HOME = {self.dir}/home
                GNUNET_RUNTIME_DIR = {self.run_dir}
                GNUNET_USER_RUNTIME_DIR = {self.run_dir}
                GNUNET_DATA_HOME = {self.dir}/data
                GNUNET_CONFIG_HOME = {self.dir}/config
                GNUNET_CACHE_HOME = {self.dir}/cache
                GNUNET_TMP = {self.dir}/tmp

                [statistics]
                UNIXPATH = {self.run_dir}/statistics.sock

                [identity]
                UNIXPATH = {self.run_dir}/identity.sock
                """))

    def start_on_demand(self, identity_extra=""):
        """armd with GNUnet's statistics and identity services, each listening at its UNIXPATH."""
        # GNUnet's services accept until EAGAIN, so their inherited sockets must be non-blocking
        # (GNUnet's ARM makes them so; systemd has NonBlocking=yes): listen_nonblocking.
        self.write_config(f"""
            [services.statistics]
            binary = "{libexec()}/gnunet-service-statistics"
            config = "{self.gnunet_config}"
            listen = ["unix:{self.run_dir}/statistics.sock"]
            start = "on-demand"
            listen_nonblocking = true

            [services.identity]
            binary = "{libexec()}/gnunet-service-identity"
            config = "{self.gnunet_config}"
            listen = ["unix:{self.run_dir}/identity.sock"]
            start = "on-demand"
            listen_nonblocking = true
            {identity_extra}
            """)
        self.start_armd()
        self.wait_state("statistics", "listening")
        self.wait_state("identity", "listening")

    def client(self, *args):
        """A GNUnet client on the test's configuration; fails the test unless it exits 0."""
        result = subprocess.run([args[0], "-c", self.gnunet_config, *args[1:]],
                                capture_output=True, text=True, timeout=DEADLINE,
                                env=self.armd_environment())
        self.assertEqual(result.returncode, 0, f"{args}: {result.stdout} {result.stderr}\n"
                                               f"armd log:\n{self.log()}")
        return result.stdout

    def test_statistics_and_identity_are_started_by_their_clients_first_connection(self):
        self.start_on_demand()
        self.assertIsNone(self.status("statistics").get("pid"))
        self.assertIsNone(self.status("identity").get("pid"))

        # gnunet-statistics stores a value in the service and reads it back.
        self.client("gnunet-statistics", "-s", "armd-test", "-n", "requests", "42")
        self.assertEqual(self.status("statistics")["state"], "running")
        self.assertEqual(self.status("identity")["state"], "listening")
        self.assertRegex(self.client("gnunet-statistics", "-s", "armd-test"),
                         r"armd-test\s+requests:\s+42")

        # gnunet-identity creates an ego and lists it.
        self.client("gnunet-identity", "-C", "alice")
        self.assertEqual(self.status("identity")["state"], "running")
        self.assertIn("alice", self.client("gnunet-identity", "-d"))

    def test_an_idle_gnunet_service_is_stopped_and_its_next_client_starts_it_again(self):
        self.start_on_demand(identity_extra='idle_stop = "1s"')
        self.client("gnunet-identity", "-C", "bob")
        first = self.status("identity")["pid"]
        wait_for(lambda: self.status("identity")["state"] == "listening",
                 "identity stopped after 1 s idle")
        self.assertIn("bob", self.client("gnunet-identity", "-d"))  # from its files, anew
        self.assertNotEqual(self.status("identity")["pid"], first)


if __name__ == "__main__":
    unittest.main()
