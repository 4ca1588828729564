"""Hostile uses of `listen` under the real armd (issue 14): files armd must never delete or
change, sockets taken by another program, reloads that are refused, and the descriptors a
service's process really has (read from /proc/PID/fd).
"""

import os
import shutil
import socket
import stat
import subprocess
import time

import unittest

from harness import ArmdTestCase, wait_for

# Accepts on its first socket (descriptor 3) and answers each client with its own name.
ANSWERING_SERVICE = """
import socket, sys
listener = socket.socket(fileno=3)
while True:
    client, _ = listener.accept()
    client.sendall(sys.argv[1].encode())
    client.close()
"""


def descriptors_of(pid):
    """{descriptor: what it is}, as /proc/PID/fd shows them."""
    directory = f"/proc/{pid}/fd"
    return {int(fd): os.readlink(os.path.join(directory, fd)) for fd in os.listdir(directory)}


def ask(path):
    """Connects to a unix socket ("@name": abstract) and returns what it answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect("\0" + path[1:] if path.startswith("@") else path)
        return client.recv(100).decode()


def read_line(path):
    """The whole line in `path` once it is written, else None."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return text if text.endswith("\n") else None


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class ListenHostile(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.answering = os.path.join(self.dir, "answer.py")
        with open(self.answering, "w") as f:
            f.write(ANSWERING_SERVICE)
        self.env_dumper = self.script("dump.sh", 'env > "$1"\nexec sleep 100000\n')

    def sock(self, name):
        return os.path.join(self.dir, name)

    def answering_service(self, name, listen, extra=""):
        return (f'[services.{name}]\nbinary = "python3"\n'
                f'options = ["{self.answering}", "{name}"]\n'
                f'listen = {listen}\nstart = "boot"\n{extra}\n')

    def taken_port(self):
        """A TCP port another program (this test) listens on."""
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        return taken.getsockname()[1]

    def free_port(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def pid(self, name):
        return self.wait_state(name, "running")["pid"]

    def start_refused(self):
        """armd started on self.config exits 2 (an invalid configuration: a socket it lists
        cannot be opened) without serving; its log."""
        armd = self.start_armd(wait=False)
        self.assertEqual(armd.wait(timeout=30), 2, self.log())
        self._log.close()
        return self.log()

    # --- files at the socket's path are never deleted ----------------------------------------

    def test_a_symlink_a_regular_file_or_a_live_socket_at_the_path_refuses_the_start(self):
        target = self.sock("target")
        with open(target, "w") as f:
            f.write("keep me\n")
        link = self.sock("link.sock")
        os.symlink(target, link)
        regular = self.sock("regular.sock")
        with open(regular, "w") as f:
            f.write("keep me too\n")
        live = socket.socket(socket.AF_UNIX)
        self.addCleanup(live.close)
        live_path = self.sock("live.sock")
        live.bind(live_path)
        live.listen()
        for path, why in [(link, "exists and is not a socket"),
                          (regular, "exists and is not a socket"),
                          (live_path, "another process listens on it")]:
            with self.subTest(path=path):
                self.write_config(f'[services.s]\nbinary = "{self.env_dumper}"\n'
                                  f'listen = ["unix:{path}"]\n')
                log = self.start_refused()
                self.assertIn(f"services.s.listen[0]: cannot listen on unix:{path}", log)
                self.assertIn(why, log)
        self.assertEqual(os.readlink(link), target)
        with open(target) as f:
            self.assertEqual(f.read(), "keep me\n")
        self.assertTrue(os.path.isfile(regular))
        live.settimeout(30)
        with socket.socket(socket.AF_UNIX) as client:  # the other program's socket still works
            client.connect(live_path)
            live.accept()[0].close()

    def test_a_tcp_port_another_program_holds_refuses_the_start(self):
        address = f"tcp:127.0.0.1:{self.taken_port()}"
        self.write_config(f'[services.s]\nbinary = "{self.env_dumper}"\nlisten = ["{address}"]\n')
        log = self.start_refused()
        self.assertIn(f"services.s.listen[0]: cannot listen on {address}: Address already in use",
                      log)

    def test_a_udp_port_another_program_shares_with_so_reuseaddr_refuses_the_start(self):
        # Bound with SO_REUSEADDR, as mDNS responders and many others bind theirs: armd binding
        # the port too would take this program's datagrams away.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(udp.close)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind(("127.0.0.1", 0))
        address = f"udp:127.0.0.1:{udp.getsockname()[1]}"
        self.write_config(f'[services.s]\nbinary = "{self.env_dumper}"\nlisten = ["{address}"]\n')
        log = self.start_refused()
        self.assertIn(f"services.s.listen[0]: cannot listen on {address}: Address already in use",
                      log)

    def test_an_abstract_name_another_program_holds_refuses_the_start(self):
        name = f"@armd-test-taken-{os.getpid()}"
        taken = socket.socket(socket.AF_UNIX)
        self.addCleanup(taken.close)
        taken.bind("\0" + name[1:])
        taken.listen()
        self.write_config(f'[services.s]\nbinary = "{self.env_dumper}"\n'
                          f'listen = ["unix:{name}"]\n')
        log = self.start_refused()
        self.assertIn(f"cannot listen on unix:{name}: Address already in use", log)

    def test_a_path_armd_cannot_create_refuses_the_start(self):
        blocker = self.sock("not-a-directory")
        open(blocker, "w").close()
        for path in [f"{blocker}/s.sock", "/proc/armd-test-no-such/s.sock"]:
            with self.subTest(path=path):
                self.write_config(f'[services.s]\nbinary = "{self.env_dumper}"\n'
                                  f'listen = ["unix:{path}"]\n')
                self.assertIn(f"cannot listen on unix:{path}", self.start_refused())

    def test_missing_directories_are_made_0755_whatever_armd_s_umask(self):
        path = self.sock("made/below/s.sock")
        self.write_config(self.answering_service("s", f'["unix:{path}"]'))
        old_mask = os.umask(0)  # inherited by armd: a world-writable directory would let anyone
        try:                    # replace the socket
            self.start_armd()
        finally:
            os.umask(old_mask)
        self.assertEqual(ask(path), "s")
        self.assertEqual([mode_of(self.sock("made")), mode_of(self.sock("made/below"))],
                         [0o755, 0o755])

    # --- reload -------------------------------------------------------------------------------

    @unittest.skipUnless(shutil.which("ss"), "needs ss (iproute2) to read a backlog")
    def test_a_reload_applies_a_new_mode_and_backlog_to_the_open_socket_without_a_restart(self):
        path = self.sock("s.sock")
        port = self.free_port()
        listen = f'["unix:{path}", "tcp:127.0.0.1:{port}"]'
        self.write_config(self.answering_service(
            "s", listen, 'listen_mode = "0600"\nlisten_backlog = 7'))
        self.start_armd()
        pid = self.pid("s")
        self.assertEqual((mode_of(path), self.backlog(port)), (0o600, 7))
        self.write_config(self.answering_service(
            "s", listen, 'listen_mode = "0660"\nlisten_backlog = 9'))
        self.armctl("reload", check=0)
        self.assertEqual((mode_of(path), self.backlog(port)), (0o660, 9))
        self.assertEqual(self.status("s")["pid"], pid)
        self.assertEqual(ask(path), "s")

    def backlog(self, port):
        """The backlog of the TCP socket listening on `port` (ss's Send-Q for a listener)."""
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                             text=True, check=True).stdout.split()
        return int(out[2])

    def test_an_ipv6_address_written_another_way_at_reload_is_the_same_open_socket(self):
        port = self.free_port()
        self.write_config(self.answering_service("s", f'["tcp:[0:0::1]:{port}"]'))
        self.start_armd()
        pid = self.pid("s")
        self.write_config(self.answering_service("s", f'["tcp:[::1]:{port}"]'))
        self.armctl("reload", check=0)  # not "Address already in use": armd's own socket
        self.assertEqual(self.status("s")["pid"], pid)
        with socket.create_connection(("::1", port), timeout=30) as client:
            self.assertEqual(client.recv(10), b"s")

    def test_a_reload_never_changes_the_mode_of_a_file_that_replaced_the_socket(self):
        path = self.sock("s.sock")
        service = self.answering_service("s", f'["unix:{path}"]', 'listen_mode = "0600"')
        self.write_config(service)
        self.start_armd()
        pid = self.pid("s")
        self.assertEqual(mode_of(path), 0o600)
        # Someone replaces armd's socket file by a symlink to a file of theirs.
        victim = self.sock("victim")
        open(victim, "w").close()
        os.chmod(victim, 0o640)
        os.unlink(path)
        os.symlink(victim, path)
        self.write_config(service.replace('"0600"', '"0666"'))
        self.armctl("reload", check=0)
        self.assertEqual(mode_of(victim), 0o640, "armd changed the mode of a file not its own")
        self.assertTrue(os.path.islink(path))
        self.assertEqual(self.status("s")["pid"], pid)

    def test_a_port_taken_at_reload_refuses_it_and_changes_nothing(self):
        path = self.sock("s.sock")
        service = self.answering_service("s", f'["unix:{path}"]', 'listen_mode = "0600"')
        self.write_config(service)
        self.start_armd()
        pid = self.pid("s")
        port = self.taken_port()
        # The same socket with a new mode, and a port another program holds.
        self.write_config(self.answering_service(
            "s", f'["unix:{path}", "tcp:127.0.0.1:{port}"]', 'listen_mode = "0666"'))
        result = self.armctl("reload", check=2)
        self.assertIn(f"cannot listen on tcp:127.0.0.1:{port}", result.stdout + result.stderr)
        self.assertEqual(mode_of(path), 0o600, "a refused reload changed the socket's mode")
        self.assertEqual(self.status("s")["pid"], pid)
        self.assertEqual(ask(path), "s")

    def test_a_refused_reload_leaves_an_on_demand_service_listening_for_its_clients(self):
        path = self.sock("a.sock")
        self.write_config(f'[services.a]\nbinary = "python3"\n'
                          f'options = ["{self.answering}", "a"]\n'
                          f'listen = ["unix:{path}"]\nstart = "on-demand"\n')
        self.start_armd()
        self.wait_state("a", "listening")
        port = self.taken_port()
        # a loses its socket, b wants a port another program holds: refused as a whole.
        self.write_config(f'[services.a]\nbinary = "python3"\n'
                          f'options = ["{self.answering}", "a"]\n'
                          + self.answering_service("b", f'["tcp:127.0.0.1:{port}"]'))
        self.armctl("reload", check=2)
        self.assertEqual(self.status("a")["state"], "listening")
        self.assertEqual(ask(path), "a")  # the client starts it, as before the refused reload

    def test_a_reload_moves_a_socket_from_one_service_to_another(self):
        path = self.sock("moving.sock")
        self.write_config(self.answering_service("a", f'["unix:{path}"]')
                          + self.answering_service("b", "[]"))
        self.start_armd()
        self.pid("a")
        self.assertEqual(ask(path), "a")
        self.write_config(self.answering_service("a", "[]")
                          + self.answering_service("b", f'["unix:{path}"]'))
        self.armctl("reload", check=0)
        self.pid("b")
        wait_for(lambda: ask(path) == "b", "b to answer on the moved socket")
        self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))

    def test_removing_a_service_while_a_client_waits_on_its_socket_closes_the_socket(self):
        path = self.sock("s.sock")
        script = self.script("idle.sh", "exec sleep 100000\n")  # never accepts
        self.write_config(f'[services.s]\nbinary = "{script}"\nlisten = ["unix:{path}"]\n'
                          f'start = "boot"\n[services.other]\nbinary = "{self.env_dumper}"\n')
        self.start_armd()
        self.pid("s")
        armd_sockets = self.settled_socket_count()
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(30)
            client.connect(path)  # waits in the backlog
            self.write_config(f'[services.other]\nbinary = "{self.env_dumper}"\n')
            self.armctl("reload", check=0)
            wait_for(lambda: "s" not in self.status(), "s to be gone")
            self.assertFalse(os.path.exists(path))
            try:  # the waiting client is told, not left hanging
                self.assertEqual(client.recv(10), b"")
            except ConnectionResetError:
                pass
        self.assertEqual(self.settled_socket_count(), armd_sockets - 1)
        self.assertEqual(self.status("other")["state"], "stopped")

    def settled_socket_count(self):
        """armd's sockets once the count holds for 0.2 s: the connection of an armctl that has
        just exited may not be closed on armd's side yet."""
        def count():
            return sum(1 for t in descriptors_of(self.armd.pid).values() if "socket:" in t)

        def settled():
            first = count()
            time.sleep(0.2)
            return first if count() == first else None
        return wait_for(settled, "armd's sockets to settle")

    # --- what the service's process has -------------------------------------------------------

    def settled_descriptors(self, pid, expected):
        """PID's descriptors once they are `expected` (sleep opens and closes its locale files as
        it starts; a descriptor armd left would stay)."""
        try:
            return wait_for(lambda: (lambda fds: fds if sorted(fds) == expected else None)(
                descriptors_of(pid)), f"descriptors {expected}")
        except AssertionError:
            self.fail(f"descriptors of {pid}: {descriptors_of(pid)}, expected {expected}")

    def test_the_child_has_0_to_2_its_sockets_from_3_its_readiness_descriptor_and_nothing_else(self):
        env_file = self.sock("env")
        child_file = self.sock("child")
        script = self.script("svc.sh", f"""\
            env > {env_file}
            sh -c 'echo "$LISTEN_PID $$" > {child_file}' &
            printf 'ready\\n' >&6
            exec sleep 100000
            """)
        self.write_config(f"""\
            [services.s]
            binary = "{script}"
            listen = ["unix:{self.sock('a.sock')}", "unix:@armd-test-{os.getpid()}"]
            readiness = "fd:6"
            stderr = "log"
            """)
        self.start_armd()
        self.armctl("start", "s", check=0)
        pid = self.pid("s")
        fds = self.settled_descriptors(pid, [0, 1, 2, 3, 4, 6])
        self.assertEqual(fds[0], "/dev/null")
        for fd in (1, 2, 6):
            self.assertTrue(fds[fd].startswith("pipe:"), fds)
        for fd in (3, 4):
            self.assertTrue(fds[fd].startswith("socket:"), fds)
        with open(env_file) as f:
            env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        self.assertEqual((env["LISTEN_FDS"], env["LISTEN_FDNAMES"]), ("2", "s:s"))
        self.assertEqual(env["LISTEN_PID"], str(pid))
        child = wait_for(lambda: read_line(child_file), "the forked child's line").split()
        self.assertEqual(child[0], str(pid))  # inherited: not the child's own pid
        self.assertNotEqual(child[0], child[1])

    def test_64_sockets_arrive_at_3_to_66_and_a_65th_is_refused(self):
        paths = [self.sock(f"s{i}.sock") for i in range(64)]
        listen = "[" + ", ".join(f'"unix:{p}"' for p in paths) + "]"
        # sleep itself: a shell script's own descriptor (dash keeps it at 10 or above without
        # close-on-exec) would be the shell's, not armd's.
        self.write_config(f'[services.s]\nbinary = "sleep"\noptions = ["100000"]\n'
                          f'listen = {listen}\nstart = "boot"\n')
        self.start_armd()
        fds = self.settled_descriptors(self.pid("s"), list(range(0, 67)))
        self.assertTrue(all(fds[fd].startswith("socket:") for fd in range(3, 67)))
        self.write_config(f'[services.s]\nbinary = "sleep"\n'
                          f'listen = {listen[:-1]}, "unix:{self.sock("s64.sock")}"]\n')
        result = self.armctl("reload", check=2)
        self.assertIn("services.s.listen", result.stdout + result.stderr)

    def test_a_service_that_closes_its_socket_gets_it_again_after_a_restart(self):
        path = self.sock("s.sock")
        script = self.script("closer.sh", 'exec 3>&-\nexec sleep 100000\n')
        self.write_config(f'[services.s]\nbinary = "{script}"\nlisten = ["unix:{path}"]\n'
                          f'start = "boot"\n')
        self.start_armd()
        first = self.pid("s")
        self.armctl("restart", "s", check=0)
        second = self.pid("s")
        self.assertNotEqual(first, second)
        # Still armd's: a client is queued, not refused.
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)

    def test_armd_s_descriptors_stay_flat_over_200_restarts_of_a_socket_service(self):
        self.write_config(f'[services.s]\nbinary = "{self.env_dumper}"\n'
                          f'options = ["{self.sock("env")}"]\n'
                          f'listen = ["unix:{self.sock("s.sock")}", "tcp:127.0.0.1:{self.free_port()}"]\n'
                          f'start = "boot"\nmax_restarts = "unlimited"\n')
        self.start_armd()
        self.pid("s")
        self.armctl("restart", "s", check=0)
        self.pid("s")
        before = descriptors_of(self.armd.pid)
        for _ in range(200):
            self.armctl("restart", "s", check=0)
        self.pid("s")
        # (Waited for: the last armctl's connection may still be open in armd for a moment.)
        try:
            wait_for(lambda: len(descriptors_of(self.armd.pid)) <= len(before), "armd's count")
        except AssertionError:
            self.fail(f"armd's descriptors grew: {before} -> {descriptors_of(self.armd.pid)}")


if __name__ == "__main__":
    unittest.main()
