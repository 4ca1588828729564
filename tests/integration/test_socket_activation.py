"""Socket activation under the real armd (issue 14): the sockets armd binds for a service's
`listen`, passed as systemd passes them (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, read back by
libsystemd's sd_listen_fds() in examples/services/listen_fds_http.c), kept open while the service
is killed again and again, and `start = "on-demand"` with `idle_stop`.

Real sockets on free ports of the loopback addresses; clients wait with generous deadlines (a
connection may sit in the backlog while the service restarts: that is the point)."""

import os
import signal
import socket
import threading
import time
import unittest

from harness import DEADLINE, ArmdTestCase, wait_for

SERVICE = os.environ.get("LISTEN_FDS_EXAMPLE", "")
REQUEST = b"GET / HTTP/1.0\r\n\r\n"


def free_port():
    """A port free on both 127.0.0.1 and ::1 at this moment."""
    for _ in range(100):
        with socket.socket() as v4, socket.socket(socket.AF_INET6) as v6:
            v4.bind(("127.0.0.1", 0))
            port = v4.getsockname()[1]
            try:
                v6.bind(("::1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no port free on both loopback addresses")


class EmptyReply(Exception):
    """The connection was closed before any answer: accepted by a process that then died."""


def http_get(family, address, timeout=DEADLINE):
    """The body of GET / on a new connection."""
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(address)
        client.sendall(REQUEST)
        reply = b""
        while chunk := client.recv(4096):
            reply += chunk
    if not reply:
        raise EmptyReply()
    head, _, body = reply.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200 "):
        raise AssertionError(f"not answered 200: {reply!r}")
    return body.decode()


def served_pid(body):
    """listen_fds_http's answer is "hello from pid P"."""
    return int(body.split()[-1])


class Clients:
    """A new connection every 5 ms, each in a thread of its own (one waiting in the backlog does
    not hold up the next), until stopped; counts how each ended."""

    def __init__(self, port):
        self.port, self.running = port, True
        self.outcomes, self.lock, self.threads = {}, threading.Lock(), []
        self.answered_by = set()  # the pids that answered
        self.scheduler = threading.Thread(target=self._schedule)

    def _one(self):
        try:
            pid = served_pid(http_get(socket.AF_INET, ("127.0.0.1", self.port)))
            outcome = "answered"
            with self.lock:
                self.answered_by.add(pid)
        except ConnectionRefusedError:
            outcome = "refused"
        except (ConnectionResetError, BrokenPipeError, EmptyReply):
            outcome = "dropped"  # the killed process had accepted it
        except OSError as error:
            outcome = f"{type(error).__name__}: {error}"
        except AssertionError as error:
            outcome = f"bad reply: {error}"
        with self.lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def _schedule(self):
        while self.running:
            thread = threading.Thread(target=self._one)
            thread.start()
            self.threads.append(thread)
            time.sleep(0.005)

    def __enter__(self):
        self.scheduler.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.scheduler.join()
        for thread in self.threads:
            thread.join(DEADLINE + 5)


@unittest.skipUnless(SERVICE, "built without libsystemd-dev (examples/services/listen_fds_http)")
class SocketActivation(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.unix_path = os.path.join(self.dir, "web.sock")
        self.report = os.path.join(self.dir, "report")

    def read_report(self):
        """listen_fds_http's --report: {"pid": ..., "env LISTEN_FDS": ..., "fd 3": {...}}."""
        report = {}
        with open(self.report) as f:
            for line in f:
                words = line.split()
                if words[0] == "fd":
                    report[f"fd {words[1]}"] = dict(zip(words[2::2], words[3::2]))
                elif words[0] == "env":
                    report[f"env {words[1]}"] = " ".join(words[2:])
                else:
                    report[words[0]] = words[1]
        return report

    def test_sd_listen_fds_finds_tcp_ipv4_ipv6_unix_and_udp_sockets_in_the_listed_order(self):
        self.write_config(f"""
            [services.web]
            binary = "{SERVICE}"
            options = ["--report", "{self.report}"]
            listen = ["tcp:127.0.0.1:{self.port}", "tcp:[::1]:{self.port}",
                      "unix:{self.unix_path}", "udp:127.0.0.1:{self.port}"]
            """)
        self.start_armd()
        self.armctl("start", "web", check=0)
        wait_for(lambda: os.path.exists(self.report), "web's report")
        report = self.read_report()
        pid = self.status("web")["pid"]
        self.assertEqual(report["pid"], str(pid))
        self.assertEqual(report["env LISTEN_FDS"], "4")
        self.assertEqual(report["env LISTEN_PID"], str(pid))
        self.assertEqual(report["listen_pid_is_mine"], "1")
        self.assertEqual(report["sd_listen_fds"], "4")
        self.assertEqual(report["env LISTEN_FDNAMES"], "web:web:web:web")  # each after the service
        # sd_is_socket_inet / sd_is_socket_unix / sd_is_socket, fd by fd, in `listen`'s order.
        self.assertEqual(report["fd 3"], {"inet4": "1", "inet6": "0", "unix": "0", "stream": "1",
                                          "dgram": "0", "listening": "1",
                                          "address": f"127.0.0.1:{self.port}"})
        self.assertEqual(report["fd 4"], {"inet4": "0", "inet6": "1", "unix": "0", "stream": "1",
                                          "dgram": "0", "listening": "1",
                                          "address": f"[::1]:{self.port}"})
        self.assertEqual(report["fd 5"], {"inet4": "0", "inet6": "0", "unix": "1", "stream": "1",
                                          "dgram": "0", "listening": "1",
                                          "address": self.unix_path})
        self.assertEqual(report["fd 6"], {"inet4": "1", "inet6": "0", "unix": "0", "stream": "0",
                                          "dgram": "1", "listening": "0",
                                          "address": f"127.0.0.1:{self.port}"})
        self.assertNotIn("fd 7", report)

        # And the service answers on each of them.
        for family, address in ((socket.AF_INET, ("127.0.0.1", self.port)),
                                (socket.AF_INET6, ("::1", self.port)),
                                (socket.AF_UNIX, self.unix_path)):
            self.assertEqual(served_pid(http_get(family, address)), pid)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
            datagram.settimeout(DEADLINE)
            datagram.sendto(b"ping", ("127.0.0.1", self.port))
            self.assertEqual(datagram.recv(100), f"pid {pid}\n".encode())

    def test_no_connection_is_refused_while_the_service_is_sigkilled_100_times(self):
        self.write_config(f"""
            [arm]
            default_services = ["web"]
            [services.web]
            binary = "{SERVICE}"
            listen = ["tcp:127.0.0.1:{self.port}"]
            backoff_initial = "0ms"
            max_restarts = 1000
            """)
        self.start_armd()
        pids = [self.wait_state("web", "running")["pid"]]
        with Clients(self.port) as clients:
            for _ in range(100):
                # Each process is killed once it has answered a client: while others wait.
                wait_for(lambda: pids[-1] in clients.answered_by, f"pid {pids[-1]} to answer")
                os.kill(pids[-1], signal.SIGKILL)
                pids.append(wait_for(lambda: (lambda s: s["pid"] if s["state"] == "running" and
                                              s.get("pid") not in pids else None)(
                    self.status("web")), "web restarted with a new pid"))
            wait_for(lambda: pids[-1] in clients.answered_by, f"pid {pids[-1]} to answer")
        self.assertEqual(len(set(pids)), 101)
        self.assertNotIn("refused", clients.outcomes, clients.outcomes)
        # A connection the killed process had accepted dies with it (at most one a kill: it
        # serves one at a time); none else fails.
        failed = {k: v for k, v in clients.outcomes.items() if k not in ("answered", "dropped")}
        self.assertEqual(failed, {}, clients.outcomes)
        self.assertLessEqual(clients.outcomes.get("dropped", 0), 100, clients.outcomes)
        self.assertEqual(clients.answered_by, set(pids))

    def test_an_on_demand_service_starts_on_its_first_connection_and_answers_it(self):
        self.write_config(f"""
            [services.web]
            binary = "{SERVICE}"
            options = ["--startup-delay-ms", "300"]
            listen = ["tcp:127.0.0.1:{self.port}"]
            start = "on-demand"
            """)
        self.start_armd()
        listening = self.wait_state("web", "listening")
        self.assertIsNone(listening.get("pid"), listening)
        # A slow service (300 ms before it accepts): the first client waits in the backlog.
        body = http_get(socket.AF_INET, ("127.0.0.1", self.port))
        running = self.status("web")
        self.assertEqual(running["state"], "running")
        self.assertEqual(served_pid(body), running["pid"])

    def test_idle_stop_stops_an_idle_on_demand_service_which_listens_again(self):
        self.write_config(f"""
            [services.web]
            binary = "{SERVICE}"
            listen = ["tcp:127.0.0.1:{self.port}"]
            start = "on-demand"
            idle_stop = "1s"
            """)
        self.start_armd()
        self.wait_state("web", "listening")
        first = served_pid(http_get(socket.AF_INET, ("127.0.0.1", self.port)))
        self.wait_state("web", "listening")
        self.assertFalse(os.path.exists(f"/proc/{first}"), "the idle service was not stopped")
        second = served_pid(http_get(socket.AF_INET, ("127.0.0.1", self.port)))
        self.assertNotEqual(first, second)
        self.assertEqual(self.status("web")["pid"], second)

    def test_a_port_already_taken_is_a_config_error_naming_the_service_and_the_address(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", self.port))
        taken.listen()
        self.write_config(f"""
            [services.web]
            binary = "{SERVICE}"
            listen = ["tcp:127.0.0.1:{self.port}"]
            """)
        armd = self.start_armd(wait=False)
        self.assertEqual(armd.wait(timeout=DEADLINE), 2, self.log())  # an invalid configuration
        self.assertIn(f"armd.toml:4:11: services.web.listen[0]: cannot listen on tcp:127.0.0.1:{self.port}: "
                      "Address already in use", self.log())
        self.assertFalse(os.path.exists(self.socket))


if __name__ == "__main__":
    unittest.main()
