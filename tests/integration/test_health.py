"""Health probes under the real armd (issue 13): exec, tcp and http probes against real
processes and listeners, what an unhealthy service leads to (a restart, or only a report with
on_unhealthy = "ignore"), a probe that hangs past its timeout, and health in status, the event
stream, armctl and the metrics.

Probe intervals are short (a few hundred ms) so that tests are quick; timeouts are generous
where a probe is meant to succeed, since a loaded machine may take a while to run one.
"""

import http.server
import json
import os
import socket
import sys
import threading
import time

import unittest

from harness import ArmdTestCase, pid_alive, wait_for

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families


class HealthHandler(http.server.BaseHTTPRequestHandler):
    """/healthz answers 200, anything else 503."""

    def do_GET(self):
        code = 200 if self.path == "/healthz" else 503
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Health(ArmdTestCase):
    def health_of(self, name, health):
        return wait_for(lambda: (lambda s: s if s["health"] == health else None)(self.status(name)),
                        f"{name} to be {health}")

    # --- exec ---------------------------------------------------------------------------------

    def test_an_exec_probe_that_exits_0_makes_the_service_healthy(self):
        self.write_config(f"""
            [services.good]
            binary = "{self.sleeper()}"
            health = {{ exec = ["sh", "-c", "echo all fine"], interval = "300ms", timeout = "300ms" }}
            [services.plain]
            binary = "{self.sleeper("plain.sh")}"
            """)
        self.start_armd()
        self.armctl("start", "good", "plain", check=0)
        good = self.health_of("good", "healthy")
        self.assertEqual(good["health_detail"], "exit code 0: all fine")
        self.assertEqual(good["health_failures"], 0)
        self.assertIsInstance(good["health_checked_ms_ago"], int)
        # A service without a check: health null, and none of the other fields.
        plain = self.status("plain")
        self.assertIsNone(plain["health"])
        self.assertNotIn("health_detail", plain)
        shown = self.armctl("status", "good", check=0).stdout
        self.assertIn("HEALTH", shown)
        self.assertIn("good: health healthy", shown)
        self.assertIn("exit code 0: all fine", shown)

    def test_armd_leaves_a_probe_s_exit_status_to_the_prober(self):
        # This probe closes its output early, so its end of file wakes armd before it exits and
        # its exit (the pidfd, and SIGCHLD) comes in one later turn: armd's reaping of adopted
        # children must not take the probe's status first ("exit status lost").
        self.write_config(f"""
            [services.quiet]
            binary = "{self.sleeper()}"
            on_unhealthy = "ignore"
            health = {{ exec = ["sh", "-c", "exec >/dev/null 2>&1; sleep 0.2"], interval = "1s", timeout = "1s", failures = 1 }}
            """)
        self.start_armd()
        self.armctl("start", "quiet", check=0)
        def checked_at():
            # When the last probe ended, on this clock (None before the first): "ms ago" alone
            # cannot tell the next probe from this one when the status is read just after one.
            status = self.status("quiet")
            ago = status["health_checked_ms_ago"]
            return status, (None if ago is None else time.monotonic() - ago / 1000)

        previous = None
        for _ in range(3):  # three probes in a row, each with its status
            checked, at = wait_for(
                lambda: (lambda s, at: (s, at) if at is not None and
                         (previous is None or at > previous + 0.5) else None)(*checked_at()),
                "the next probe")
            self.assertEqual((checked["health"], checked["health_detail"]),
                             ("healthy", "exit code 0"))
            previous = at

    def test_an_unhealthy_service_is_restarted_with_the_reason(self):
        self.write_config(f"""
            [services.broken]
            binary = "{self.sleeper()}"
            backoff_initial = "3s"
            health = {{ exec = ["sh", "-c", "echo broken; exit 1"], interval = "200ms", timeout = "200ms", failures = 3 }}
            """)
        self.start_armd()
        self.armctl("start", "broken", check=0)
        first_pid = self.status("broken")["pid"]
        # Stopped for being unhealthy, then backing off (3 s: long enough to be seen) before
        # its restart.
        waiting = self.wait_state("broken", "backoff")
        self.assertEqual(waiting["last_error"],
                         "unhealthy: 3 health checks failed in a row (last: exit code 1: broken)")
        restarted = wait_for(lambda: (lambda s: s if s["state"] == "running" else None)(
            self.status("broken")), "broken to be restarted")
        self.assertEqual(restarted["restarts"], 1)
        self.assertNotEqual(restarted["pid"], first_pid)
        wait_for(lambda: not pid_alive(first_pid), "the unhealthy process to be gone")
        self.assertIn("unhealthy", self.log())

    def test_with_on_unhealthy_ignore_it_stays_running_and_becomes_healthy_again(self):
        flag = os.path.join(self.dir, "ok.flag")
        self.write_config(f"""
            [services.moody]
            binary = "{self.sleeper()}"
            on_unhealthy = "ignore"
            health = {{ exec = ["sh", "-c", "test -e {flag} || {{ echo no flag; exit 1; }}"], interval = "200ms", timeout = "200ms", failures = 2 }}
            """)
        self.start_armd()
        self.armctl("start", "moody", check=0)
        pid = self.status("moody")["pid"]
        sick = self.health_of("moody", "unhealthy")
        self.assertEqual(sick["state"], "running")
        self.assertEqual(sick["pid"], pid)
        self.assertEqual(sick["health_detail"], "exit code 1: no flag")
        self.assertGreaterEqual(sick["health_failures"], 2)
        self.assertIn("unhealthy", self.armctl("status", check=0).stdout)
        open(flag, "w").close()
        well = self.health_of("moody", "healthy")
        self.assertEqual((well["pid"], well["restarts"], well["health_failures"]), (pid, 0, 0))

    def test_a_probe_that_hangs_past_its_timeout_is_killed_with_nothing_left(self):
        pids = os.path.join(self.dir, "probe.pid")
        self.write_config(f"""
            [services.slow]
            binary = "{self.sleeper()}"
            on_unhealthy = "ignore"
            health = {{ exec = ["sh", "-c", "echo $$ > {pids}; sleep 1000 & echo $! >> {pids}; wait"], interval = "500ms", timeout = "300ms", failures = 1 }}
            """)
        self.start_armd()
        self.armctl("start", "slow", check=0)
        def both_written():
            try:
                with open(pids) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            return text if text.count("\n") == 2 else None

        written = wait_for(both_written, "the probe to write its pids")
        probe, child = (int(line) for line in written.split())
        sick = self.health_of("slow", "unhealthy")
        self.assertIn("timed out", sick["health_detail"] + sick.get("last_error", ""))
        # Killed and reaped: not even a zombie (armd reaps its probes through their pidfds).
        wait_for(lambda: not os.path.exists(f"/proc/{probe}"), "the hung probe to be reaped")
        wait_for(lambda: not pid_alive(child), "the hung probe's child to be killed")
        self.assertEqual(self.status("slow")["state"], "running")

    # --- tcp and http -------------------------------------------------------------------------

    def test_a_tcp_probe_against_a_real_listener_and_a_closed_port(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        closed = socket.socket()  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        self.addCleanup(closed.close)
        self.write_config(f"""
            [services.up]
            binary = "{self.sleeper()}"
            health = {{ tcp = "127.0.0.1:{listener.getsockname()[1]}", interval = "1s", timeout = "1s" }}
            [services.down]
            binary = "{self.sleeper("down.sh")}"
            on_unhealthy = "ignore"
            health = {{ tcp = "localhost:{closed.getsockname()[1]}", interval = "200ms", timeout = "200ms", failures = 1 }}
            """)
        self.start_armd()
        self.armctl("start", "up", "down", check=0)
        self.assertEqual(self.health_of("up", "healthy")["health_detail"], "connected")
        self.assertEqual(self.health_of("down", "unhealthy")["health_detail"], "Connection refused")

    def test_an_http_probe_against_python_http_server(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HealthHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        port = server.server_address[1]
        self.write_config(f"""
            [services.web]
            binary = "{self.sleeper()}"
            health = {{ http = "http://127.0.0.1:{port}/healthz", interval = "1s", timeout = "1s" }}
            [services.sad]
            binary = "{self.sleeper("sad.sh")}"
            on_unhealthy = "ignore"
            health = {{ http = "http://127.0.0.1:{port}/broken", interval = "1s", timeout = "1s", failures = 1 }}
            """)
        self.start_armd()
        self.armctl("start", "web", "sad", check=0)
        self.assertEqual(self.health_of("web", "healthy")["health_detail"], "HTTP 200 OK")
        self.assertEqual(self.health_of("sad", "unhealthy")["health_detail"],
                         "HTTP 503 Service Unavailable")

    # --- events and metrics -------------------------------------------------------------------

    def test_health_changes_are_events_and_metrics(self):
        flag = os.path.join(self.dir, "ok.flag")
        open(flag, "w").close()
        self.write_config(f"""
            [services.moody]
            binary = "{self.sleeper()}"
            on_unhealthy = "ignore"
            health = {{ exec = ["sh", "-c", "test -e {flag} || {{ echo gone; exit 1; }}"], interval = "1s", timeout = "1s", failures = 1 }}
            [services.plain]
            binary = "{self.sleeper("plain.sh")}"
            """)
        self.start_armd()
        with self.connect() as conn:
            conn.read_line()  # hello
            conn.request(id=1, method="subscribe")
            self.assertEqual(conn.read_line()["outcome"], "subscribed")
            self.armctl("start", "moody", "plain", check=0)
            events = []

            def health_event(value):
                while True:
                    event = conn.read_line()
                    events.append(event)
                    if event.get("event") == "health" and event["health"] == value:
                        return event

            healthy = health_event("healthy")
            self.assertEqual((healthy["service"], healthy["health_failures"]), ("moody", 0))
            self.assertIsInstance(healthy["seq"], int)
            metrics = self.armctl("metrics", check=0).stdout
            found = {(s.name, s.labels.get("service")): s.value
                     for family in text_string_to_metric_families(metrics)
                     for s in family.samples}
            self.assertEqual(found[("arm_service_healthy", "moody")], 1)
            self.assertNotIn(("arm_service_healthy", "plain"), found)
            os.remove(flag)
            unhealthy = health_event("unhealthy")
            self.assertEqual(unhealthy["detail"],
                         "1 health check failed in a row (last: exit code 1: gone)")
            self.assertEqual(unhealthy["health_failures"], 1)
        metrics = self.armctl("metrics", check=0).stdout
        found = {(s.name, s.labels.get("service")): s.value
                 for family in text_string_to_metric_families(metrics) for s in family.samples}
        self.assertEqual(found[("arm_service_healthy", "moody")], 0)


if __name__ == "__main__":
    unittest.main()
