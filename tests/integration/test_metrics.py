"""Metrics (issue 13): `armctl metrics` and `[arm] metrics_listen`, on the real armd.

The text is read with the Prometheus project's own parser (Debian's python3-prometheus-client),
so what is checked is what a Prometheus server would make of it. The HTTP listener is tried as
a scraper uses it and as a hostile peer would: wrong paths and methods, garbage, oversized and
never-finished requests, a pile of idle connections.
"""

import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

from harness import ARMD, DEADLINE, ArmdTestCase, wait_for

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's package installs for Debian's python3; a python3 of another origin (pyenv) finds
    # the same pure-Python module there.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on at this moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def samples(text):
    """{(name, frozenset of labels): value} of every sample in the text, and the families."""
    found = {}
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found, families


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())))


def wakeups(pid):
    """Context switches of `pid` so far: each wake-up from poll(2) adds at least one."""
    counts = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if "ctxt_switches" in line:
                name, number = line.split(":")
                counts[name] = int(number)
    return sum(counts.values())


class Metrics(ArmdTestCase):
    def config_with(self, services="", listen=None):
        arm = f'metrics_listen = "{listen}"\n' if listen else ""
        self.write_config(f"[arm]\n{arm}\n{services}")

    def scrape(self, port, path="/metrics", method="GET"):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=DEADLINE) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def raw_exchange(self, port, data):
        """Sends `data` on a fresh connection and returns all armd answers until it closes."""
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as conn:
            conn.sendall(data)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
            return answer

    # --- the text -------------------------------------------------------------------------------

    def test_armctl_metrics_follows_a_real_crash(self):
        # Crashes with exit code 3 the first time, then stays up: one restart.
        crash_once = self.script("crash-once.sh", f"""\
            if [ ! -e {self.dir}/crashed ]; then touch {self.dir}/crashed; exit 3; fi
            exec sleep 100000
            """)
        self.config_with(f"""
            [services.web]
            binary = "{crash_once}"
            backoff_initial = "10ms"

            [services.idle]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        before = time.time()
        self.armctl("start", "web", check=0)
        wait_for(lambda: self.status("web")["restarts"] == 1 and
                 self.status("web")["state"] == "running", "web to be restarted once")
        result = self.armctl("metrics", check=0)
        found, families = samples(result.stdout)

        self.assertEqual(value(found, "arm_service_up", service="web"), 1)
        self.assertEqual(value(found, "arm_service_up", service="idle"), 0)
        self.assertEqual(families["arm_service_restarts"].type, "counter")
        self.assertEqual(value(found, "arm_service_restarts_total", service="web"), 1)
        self.assertEqual(value(found, "arm_service_last_exit_code", service="web"), 3)
        self.assertIsNone(value(found, "arm_service_last_exit_code", service="idle"))
        self.assertEqual(value(found, "arm_service_state", service="web", state="running"), 1)
        self.assertEqual(value(found, "arm_service_state", service="web", state="backoff"), 0)
        self.assertEqual(value(found, "arm_service_state", service="idle", state="stopped"), 1)
        self.assertEqual(value(found, "arm_service_refcount", service="web"), 1)
        # Wall-clock seconds: after the test asked for the start, not in the future.
        started = value(found, "arm_service_start_time_seconds", service="web")
        self.assertGreaterEqual(started, before - 1)
        self.assertLessEqual(started, time.time() + 1)
        self.assertEqual(value(found, "arm_services"), 2)
        self.assertGreaterEqual(value(found, "arm_clients"), 1)  # armctl's own connection
        self.assertGreaterEqual(value(found, "arm_events_total"), 3)  # running, backoff, running
        self.assertEqual(value(found, "arm_build_info",
                               version=os.environ.get("ARM_PROJECT_VERSION", "")), 1)

        # Each request counts, this one included.
        again, _ = samples(self.armctl("metrics", check=0).stdout)
        self.assertGreater(value(again, "arm_requests_total"), value(found, "arm_requests_total"))

    def test_the_metrics_request_answers_the_text_in_a_string(self):
        self.config_with()
        self.start_armd()
        with self.connect() as conn:
            conn.read_line()  # hello
            conn.request(id=7, method="metrics")
            reply = conn.read_line()
        self.assertEqual(reply["id"], 7)
        self.assertTrue(reply["ok"])
        self.assertEqual(reply["content_type"], "text/plain; version=0.0.4; charset=utf-8")
        found, _ = samples(reply["text"])
        self.assertEqual(value(found, "arm_services"), 0)

    # --- HTTP -----------------------------------------------------------------------------------

    def test_get_metrics_serves_the_same_text_over_http(self):
        port = free_port()
        self.config_with(f"""
            [services.idle]
            binary = "{self.sleeper()}"
            """, listen=f"127.0.0.1:{port}")
        self.start_armd()
        self.assertIn(f"serving metrics on http://127.0.0.1:{port}/metrics", self.log())
        status, headers, body = self.scrape(port)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(headers["Connection"], "close")
        found, _ = samples(body)
        self.assertEqual(value(found, "arm_service_up", service="idle"), 0)
        # HTTP/1.0 as well, and a query string is ignored.
        answer = self.raw_exchange(port, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:100])
        self.assertIn(b"arm_services 1\n", answer)

    def test_ipv6_loopback(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6 here")
        with socket.socket(socket.AF_INET6) as probe:
            try:
                probe.bind(("::1", 0))
            except OSError:
                self.skipTest("no ::1 here")
            port = probe.getsockname()[1]
        self.config_with(listen=f"[::1]:{port}")
        self.start_armd()
        with socket.create_connection(("::1", port), timeout=DEADLINE) as conn:
            conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:100])

    def test_other_paths_methods_and_garbage_are_refused_with_their_status(self):
        port = free_port()
        self.config_with(listen=f"127.0.0.1:{port}")
        self.start_armd()
        self.assertEqual(self.scrape(port, path="/")[0], 404)
        self.assertEqual(self.scrape(port, path="/metricsx")[0], 404)
        status, headers, _ = self.scrape(port, method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET")
        self.assertEqual(self.scrape(port, method="DELETE")[0], 405)
        for garbage in [b"hello\r\n\r\n", b"GET /metrics\r\n\r\n", b"GET metrics HTTP/1.1\r\n\r\n",
                        b"GET /metrics HTTP/2\r\n\r\n", b"\x00\xff\x16\x03\x01\n\n",
                        b"GET /metrics HTTP/1.1\r\n"]:  # the last ends before its blank line
            with self.subTest(garbage=garbage):
                with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as conn:
                    conn.sendall(garbage)
                    conn.shutdown(socket.SHUT_WR)
                    answer = b""
                    while chunk := conn.recv(65536):
                        answer += chunk
                self.assertTrue(answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer)
        # Still serving, and the control socket still answers.
        self.assertEqual(self.scrape(port)[0], 200)
        self.armctl("status", check=0)

    def test_a_request_with_an_absolute_uri_is_served_as_its_path(self):
        # RFC 9112 3.2.2: a server must accept the absolute-form (what a client set up to go
        # through a proxy sends); its path decides, as in the usual form.
        port = free_port()
        self.config_with(listen=f"127.0.0.1:{port}")
        self.start_armd()
        for target, status in [(f"http://127.0.0.1:{port}/metrics", b"200 OK"),
                               (f"HTTP://localhost/metrics?x=1", b"200 OK"),
                               (f"http://127.0.0.1:{port}/other", b"404 Not Found"),
                               (f"http://127.0.0.1:{port}", b"404 Not Found"),
                               ("ftp://127.0.0.1/metrics", b"400 Bad Request")]:
            with self.subTest(target=target):
                answer = self.raw_exchange(port, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"
                                           .encode())
                self.assertTrue(answer.startswith(b"HTTP/1.1 " + status + b"\r\n"), answer)
                if status == b"200 OK":
                    self.assertIn(b"\narm_services 0\n", answer)

    def test_a_request_larger_than_8_kib_gets_431_and_is_closed(self):
        port = free_port()
        self.config_with(listen=f"127.0.0.1:{port}")
        self.start_armd()
        answer = self.raw_exchange(
            port, b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 431 "), answer[:100])
        self.assertEqual(self.scrape(port)[0], 200)

    def test_a_slowloris_connection_blocks_no_one_and_is_closed(self):
        port = free_port()
        self.config_with(f"""
            [services.idle]
            binary = "{self.sleeper()}"
            """, listen=f"127.0.0.1:{port}")
        self.start_armd()
        slow = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.addCleanup(slow.close)
        slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        # A scrape and the control socket are served meanwhile.
        self.assertEqual(self.scrape(port)[0], 200)
        self.armctl("start", "idle", check=0)
        self.assertEqual(self.status("idle")["state"], "running")
        # armd gives up on it (after 10 s): the peer sees the connection closed.
        slow.settimeout(DEADLINE)
        closed = b""
        try:
            while chunk := slow.recv(65536):
                closed += chunk
        except ConnectionResetError:
            pass
        self.assertEqual(closed, b"")

    def test_a_scraper_that_does_not_read_blocks_no_one(self):
        # 10,000 services make a text of about 5 MB, more than the socket buffers hold (Linux
        # grows a TCP send buffer to 4 MiB at most): armd writes what the socket takes and
        # serves others meanwhile.
        sleeper = self.sleeper()
        self.config_with("".join(f'[services.s{i}]\nbinary = "{sleeper}"\n' for i in range(10000)),
                         listen=f"127.0.0.1:{(port := free_port())}")
        self.start_armd()
        stalled = socket.socket()
        self.addCleanup(stalled.close)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.settimeout(DEADLINE)
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        time.sleep(0.5)  # armd has answered as far as the socket takes
        self.armctl("status", "s1", check=0)
        self.assertEqual(self.scrape(port)[0], 200)
        # Read at last: the whole answer, and the text parses.
        answer = b""
        while chunk := stalled.recv(65536):
            answer += chunk
        head, body = answer.split(b"\r\n\r\n", 1)
        self.assertIn(f"Content-Length: {len(body)}".encode(), head)
        found, _ = samples(body.decode())
        self.assertEqual(value(found, "arm_services"), 10000)

    def test_200_idle_connections_do_not_lock_a_scraper_out(self):
        port = free_port()
        self.config_with(listen=f"127.0.0.1:{port}")
        self.start_armd()
        idle = []
        self.addCleanup(lambda: [conn.close() for conn in idle])
        for _ in range(200):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE))
        status, _, body = self.scrape(port)
        self.assertEqual(status, 200)
        self.assertIn("arm_services 0", body)
        self.armctl("status", check=0)

    def test_an_address_in_use_stops_armd_naming_it(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        self.config_with(listen=f"127.0.0.1:{port}")
        self.start_armd(wait=False)
        self.armd.wait(timeout=DEADLINE)
        self.assertEqual(self.armd.returncode, 1, self.log())
        self.assertIn(f"[arm] metrics_listen: cannot bind 127.0.0.1:{port}: Address already in use",
                      self.log())

    def test_an_invalid_address_is_refused_at_its_line(self):
        self.config_with(listen="localhost:9321")
        result = subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                                text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"{self.config}:2:18: arm.metrics_listen: 'localhost' is not an IPv4 "
                      "address (names are not looked up)", result.stderr)

    def test_check_config_warns_of_an_address_other_hosts_reach(self):
        self.config_with(listen="0.0.0.0:9321")
        result = subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                                text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"armd: warning: {self.config}:2:18: arm.metrics_listen: 0.0.0.0:9321 is "
                      "not a loopback address", result.stderr)
        self.config_with(listen="127.0.0.1:9321")
        result = subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                                text=True, timeout=DEADLINE)
        self.assertNotIn("warning", result.stderr)

    def test_reload_moves_the_listener_or_refuses_an_address_in_use(self):
        first, second = free_port(), free_port()
        self.config_with(listen=f"127.0.0.1:{first}")
        self.start_armd()
        self.assertEqual(self.scrape(first)[0], 200)
        self.config_with(listen=f"127.0.0.1:{second}")
        self.armctl("reload", check=0)
        self.assertEqual(self.scrape(second)[0], 200)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", first), timeout=DEADLINE).close()
        # An address that cannot be bound refuses the reload; the listener stays where it was.
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.config_with(listen=f"127.0.0.1:{taken.getsockname()[1]}")
        result = self.armctl("reload")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Address already in use", result.stderr)
        self.assertEqual(self.scrape(second)[0], 200)
        # Without the key, no listener.
        self.config_with()
        self.armctl("reload", check=0)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", second), timeout=DEADLINE).close()

    def test_reload_moves_the_listener_to_another_host_on_the_same_port(self):
        # Linux refuses a wildcard and a specific address on one port: armd's own listener was
        # in the way of the new one ("Address already in use") and such a reload was refused.
        port = free_port()
        self.config_with(listen=f"127.0.0.1:{port}")
        self.start_armd()
        self.config_with(listen=f"0.0.0.0:{port}")
        self.armctl("reload", check=0)
        self.assertEqual(self.scrape(port)[0], 200)
        self.assertIn(f"serving metrics on http://0.0.0.0:{port}/metrics", self.log())
        self.config_with(listen=f"127.0.0.1:{port}")
        self.armctl("reload", check=0)
        self.assertEqual(self.scrape(port)[0], 200)
        # When the port is taken by another too, the reload is refused and the old listener
        # opened again.
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.2", port))
        taken.listen()
        self.config_with(listen=f"0.0.0.0:{port}")
        result = self.armctl("reload")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Address already in use", result.stderr)
        self.assertEqual(self.scrape(port)[0], 200)
        self.armctl("status", check=0)

    def test_a_reload_refused_for_a_missing_program_keeps_the_metrics_listener(self):
        # The refusal comes before the listener is moved: a new address on the same port must
        # not leave armd serving no metrics at all.
        port = free_port()
        service = f'[services.s]\nbinary = "{self.sleeper()}"\n'
        self.config_with(service, listen=f"127.0.0.1:{port}")
        self.start_armd()
        self.armctl("start", "s", check=0)
        self.config_with(f'[services.s]\nbinary = "{self.dir}/not-installed"\n',
                         listen=f"0.0.0.0:{port}")
        result = self.armctl("reload")
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("cannot execute", result.stdout + result.stderr)
        self.assertEqual(self.scrape(port)[0], 200)
        self.assertEqual(self.status("s")["state"], "running")

    def test_an_idle_armd_with_a_listener_does_not_wake_up(self):
        port = free_port()
        self.config_with(f"""
            [services.idle]
            binary = "{self.sleeper()}"
            """, listen=f"127.0.0.1:{port}")
        self.start_armd()
        self.armctl("start", "idle", check=0)
        self.assertEqual(self.scrape(port)[0], 200)  # a connection came and went
        time.sleep(0.5)  # armd finishes that turn
        before = wakeups(self.armd.pid)
        time.sleep(3)  # past the 2 s a closed connection could still linger
        self.assertEqual(wakeups(self.armd.pid), before, "armd woke up while idle")


if __name__ == "__main__":
    unittest.main()
