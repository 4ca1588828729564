"""Health probes against hostile services and targets, under the real armd: exec probes that
hang, fork, ignore SIGTERM, flood their output or are missing; tcp and http targets that hang,
reset, answer garbage, redirect; probes in flight when their service crashes, is stopped or
reloaded, or when armd itself shuts down (nothing of a probe may be left behind); and many
probes at once (armd's descriptors come back).
"""

import os
import signal
import socket
import threading
import time

import unittest

from harness import ArmdTestCase, pid_alive, tagged_processes, wait_for


class RawServer:
    """A listener on `family`'s loopback whose every connection is handed to `answer(conn)` in a
    thread of its own; closed at the end of the test."""

    def __init__(self, test, answer, family=socket.AF_INET):
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()
        test.addCleanup(self.close)

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            self.answer(conn)
        except OSError:
            pass

    def close(self):
        # shutdown() first: it wakes the thread blocked in accept() (close() alone would not),
        # so it cannot take a connection of a later test's listener given the same descriptor.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for conn in self.connections:
            conn.close()


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        got = conn.recv(4096)
        if not got:
            break
        data += got
    return data


def reply_with(raw):
    def answer(conn):
        read_request(conn)
        conn.sendall(raw)
        conn.close()
    return answer


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class HostileHealth(ArmdTestCase):
    def health_of(self, name, health):
        return wait_for(lambda: (lambda s: s if s["health"] == health else None)(self.status(name)),
                        f"{name} to be {health}")

    def detail_of(self, name, detail):
        return wait_for(lambda: (lambda s: s if s.get("health_detail") == detail else None)(
            self.status(name)), f"{name}'s probe to say {detail!r}")

    def pids_written(self, path, count):
        """The pids a probe wrote to `path`, one a line, once there are `count` of them."""
        def written():
            try:
                with open(path) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            return text if text.count("\n") >= count else None
        return [int(line) for line in wait_for(written, f"{count} pids in {path}").split()]

    def hanging_probe(self, name, pids):
        """A probe that writes its pid and its child's, ignores SIGTERM and never ends."""
        return self.script(name, f"""\
            trap '' TERM
            echo $$ > {pids}
            sleep 100000 &
            echo $! >> {pids}
            while :; do sleep 1; done
            """)

    # --- exec probes --------------------------------------------------------------------------

    def test_an_exec_probe_gets_the_descriptor_limit_its_service_gets(self):
        # armd raises its own limit (here from 1024 to the hard limit); its services get back
        # what armd started with, and so must its probes (select() breaks above 1024).
        hard = 4096
        self.write_config(f"""
            [services.limited]
            binary = "{self.script("limited.sh", "ulimit -n > limit.txt; exec sleep 100000")}"
            working_directory = "{self.dir}"
            health = {{ exec = ["sh", "-c", "ulimit -n"], interval = "1s", timeout = "1s" }}
            """)
        self.start_armd(nofile=(1024, hard))
        self.assertIn("descriptor limit raised", self.log())
        self.armctl("start", "limited", check=0)
        self.assertEqual(self.health_of("limited", "healthy")["health_detail"],
                         "exit code 0: 1024")
        with open(os.path.join(self.dir, "limit.txt")) as f:
            self.assertEqual(f.read().strip(), "1024")

    def test_a_missing_probe_program_and_one_killed_by_a_signal_are_unhealthy(self):
        self.write_config(f"""
            [services.missing]
            binary = "{self.sleeper()}"
            on_unhealthy = "ignore"
            health = {{ exec = ["/nonexistent/probe"], interval = "1s", timeout = "1s", failures = 1 }}
            [services.killed]
            binary = "{self.sleeper("killed.sh")}"
            on_unhealthy = "ignore"
            health = {{ exec = ["sh", "-c", "kill -KILL $$"], interval = "1s", timeout = "1s", failures = 1 }}
            """)
        self.start_armd()
        self.armctl("start", "missing", "killed", check=0)
        self.assertEqual(self.health_of("missing", "unhealthy")["health_detail"],
                         "cannot run /nonexistent/probe: No such file or directory")
        self.assertEqual(self.health_of("killed", "unhealthy")["health_detail"],
                         "killed by signal 9")

    def test_a_probe_that_prints_megabytes_is_judged_by_its_exit_and_first_line(self):
        self.write_config(f"""
            [services.chatty]
            binary = "{self.sleeper()}"
            health = {{ exec = ["sh", "-c", "echo first line; head -c 8000000 /dev/zero; exit 0"], interval = "3s", timeout = "3s" }}
            [services.flood]
            binary = "{self.sleeper("flood.sh")}"
            on_unhealthy = "ignore"
            health = {{ exec = ["sh", "-c", "echo flooding; exec cat /dev/zero"], interval = "500ms", timeout = "300ms", failures = 1 }}
            """)
        self.start_armd()
        self.armctl("start", "chatty", "flood", check=0)
        self.assertEqual(self.health_of("chatty", "healthy")["health_detail"],
                         "exit code 0: first line")
        self.assertIn("timed out", self.health_of("flood", "unhealthy")["health_detail"])
        # armd still answers while a probe floods it.
        self.assertEqual(self.status("flood")["state"], "running")

    def test_a_probe_in_flight_when_its_service_crashes_is_killed(self):
        pids = os.path.join(self.dir, "probe.pids")
        self.write_config(f"""
            [services.crashy]
            binary = "{self.sleeper()}"
            restart = "never"
            health = {{ exec = ["{self.hanging_probe("probe.sh", pids)}"], interval = "4s", timeout = "4s" }}
            """)
        self.start_armd()
        self.armctl("start", "crashy", check=0)
        probe, child = self.pids_written(pids, 2)
        os.kill(self.status("crashy")["pid"], signal.SIGKILL)
        wait_for(lambda: self.status("crashy")["state"] != "running", "crashy to exit")
        wait_for(lambda: not os.path.exists(f"/proc/{probe}"), "the probe to be reaped")
        wait_for(lambda: not pid_alive(child), "the probe's child to be killed")

    def test_armctl_stop_while_a_probe_hangs_leaves_nothing(self):
        pids = os.path.join(self.dir, "probe.pids")
        self.write_config(f"""
            [services.stuck]
            binary = "{self.sleeper()}"
            health = {{ exec = ["{self.hanging_probe("probe.sh", pids)}"], interval = "4s", timeout = "4s" }}
            """)
        self.start_armd()
        self.armctl("start", "stuck", check=0)
        probe, child = self.pids_written(pids, 2)
        self.armctl("stop", "stuck", check=0)
        self.assertEqual(self.status("stuck")["state"], "stopped")
        wait_for(lambda: not os.path.exists(f"/proc/{probe}"), "the probe to be reaped")
        wait_for(lambda: not pid_alive(child), "the probe's child to be killed")
        armd = self.armd.pid
        wait_for(lambda: [p for p in tagged_processes(self.dir) if p != armd and pid_alive(p)]
                 == [], "nothing of the test but armd")

    def test_a_reload_that_removes_health_kills_the_probe_in_flight(self):
        pids = os.path.join(self.dir, "probe.pids")
        probe_script = self.hanging_probe("probe.sh", pids)
        config = f"""
            [services.web]
            binary = "{self.sleeper()}"
            """
        self.write_config(config + f"""
            health = {{ exec = ["{probe_script}"], interval = "4s", timeout = "4s" }}
            """)
        self.start_armd()
        self.armctl("start", "web", check=0)
        probe, child = self.pids_written(pids, 2)
        pid = self.status("web")["pid"]
        self.write_config(config)
        self.armctl("reload", check=0)
        wait_for(lambda: not os.path.exists(f"/proc/{probe}"), "the probe to be reaped")
        wait_for(lambda: not pid_alive(child), "the probe's child to be killed")
        after = self.status("web")
        self.assertEqual((after["state"], after["pid"], after["health"]), ("running", pid, None))

    def test_sigterm_to_armd_with_probes_in_flight_leaves_no_process(self):
        pids_a = os.path.join(self.dir, "a.pids")
        pids_b = os.path.join(self.dir, "b.pids")
        self.write_config(f"""
            [services.a]
            binary = "{self.sleeper()}"
            health = {{ exec = ["{self.hanging_probe("probe.sh", pids_a)}"], interval = "4s", timeout = "4s" }}
            [services.b]
            binary = "{self.sleeper("b.sh")}"
            health = {{ exec = ["{self.hanging_probe("probe_b.sh", pids_b)}"], interval = "4s", timeout = "4s" }}
            """)
        self.start_armd()
        self.armctl("start", "a", "b", check=0)
        written = self.pids_written(pids_a, 2) + self.pids_written(pids_b, 2)
        self.armd.send_signal(signal.SIGTERM)
        self.assertEqual(self.armd.wait(timeout=30), 0)
        # Before the harness's sweep: armd itself left nothing of its probes. (Waited for: a
        # probe's child SIGKILLed just before armd exited may take a moment to die.)
        for pid in written:
            wait_for(lambda: not pid_alive(pid), f"pid {pid} of a probe to be gone")
        wait_for(lambda: [p for p in tagged_processes(self.dir) if pid_alive(p)] == [],
                 "no process of the test left")

    # --- tcp and http -------------------------------------------------------------------------

    def test_http_answers_judged_by_their_status_line(self):
        cases = {
            "ok10": (b"HTTP/1.0 200\r\n\r\n", "healthy", "HTTP 200"),
            "nocontent": (b"HTTP/1.1 204 No Content\r\n\r\n", "healthy", "HTTP 204 No Content"),
            "redirect": (b"HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\n\r\n", "unhealthy",
                         "HTTP 301 Moved Permanently"),
            "garbage": (b"SSH-2.0-OpenSSH_9.0\r\n", "unhealthy", "not an HTTP response"),
            "huge": (b"HTTP/1.1 200 " + b"x" * 100000 + b"\r\n\r\n", "unhealthy",
                     "not an HTTP response"),
            "binary": (b"HTTP/1.1 200 \xff\x00\x1b[31m\r\n\r\n", "healthy", "HTTP 200 ???[31m"),
            "silent": (b"", "unhealthy", "connection closed before a response"),
        }
        config = ""
        for name, (raw, _, _) in cases.items():
            server = RawServer(self, reply_with(raw))
            config += f"""
                [services.{name}]
                binary = "{self.sleeper(name + ".sh")}"
                on_unhealthy = "ignore"
                health = {{ http = "http://127.0.0.1:{server.port}/", interval = "1s", timeout = "1s", failures = 1 }}
                """
        self.write_config(config)
        self.start_armd()
        self.armctl("start", *cases, check=0)
        for name, (_, health, detail) in cases.items():
            with self.subTest(name):
                self.assertEqual(self.health_of(name, health)["health_detail"], detail)

    def test_targets_that_hang_or_reset_are_unhealthy(self):
        def hang(conn):
            time.sleep(30)

        def reset(conn):
            read_request(conn)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()

        hanging = RawServer(self, hang)
        resetting = RawServer(self, reset)
        self.write_config(f"""
            [services.hangs]
            binary = "{self.sleeper()}"
            on_unhealthy = "ignore"
            health = {{ http = "http://127.0.0.1:{hanging.port}/", interval = "500ms", timeout = "300ms", failures = 1 }}
            [services.resets]
            binary = "{self.sleeper("resets.sh")}"
            on_unhealthy = "ignore"
            health = {{ http = "http://127.0.0.1:{resetting.port}/", interval = "1s", timeout = "1s", failures = 1 }}
            """)
        self.start_armd()
        self.armctl("start", "hangs", "resets", check=0)
        self.assertEqual(self.health_of("hangs", "unhealthy")["health_detail"],
                         "timed out after 300ms")
        self.assertEqual(self.health_of("resets", "unhealthy")["health_detail"],
                         "Connection reset by peer")

    def test_ipv6_tcp_and_http_probes(self):
        server = RawServer(self, reply_with(b"HTTP/1.1 200 OK\r\n\r\n"), socket.AF_INET6)
        self.write_config(f"""
            [services.six]
            binary = "{self.sleeper()}"
            health = {{ tcp = "[::1]:{server.port}", interval = "1s", timeout = "1s" }}
            [services.sixweb]
            binary = "{self.sleeper("sixweb.sh")}"
            health = {{ http = "http://[::1]:{server.port}/", interval = "1s", timeout = "1s" }}
            """)
        self.start_armd()
        self.armctl("start", "six", "sixweb", check=0)
        self.assertEqual(self.health_of("six", "healthy")["health_detail"], "connected")
        self.assertEqual(self.health_of("sixweb", "healthy")["health_detail"], "HTTP 200 OK")

    def test_many_probes_at_once_give_their_descriptors_back(self):
        hanging = RawServer(self, lambda conn: time.sleep(30))
        count = 40
        config = ""
        for i in range(count):
            config += f"""
                [services.s{i}]
                binary = "{self.sleeper()}"
                on_unhealthy = "ignore"
                health = {{ {"http" if i % 2 else "exec"} = {f'"http://127.0.0.1:{hanging.port}/"' if i % 2 else '["sleep", "1000"]'}, interval = "400ms", timeout = "300ms", failures = 1 }}
                """
        self.write_config(config)
        self.start_armd()
        before = open_fds(self.armd.pid)
        names = [f"s{i}" for i in range(count)]
        self.armctl("start", *names, check=0)
        for name in names:
            self.assertIn("timed out", self.health_of(name, "unhealthy")["health_detail"])
        self.armctl("stop", *names, check=0)
        wait_for(lambda: open_fds(self.armd.pid) <= before, "armd's descriptors to come back")
        armd = self.armd.pid
        wait_for(lambda: [p for p in tagged_processes(self.dir) if p != armd and pid_alive(p)]
                 == [], "every probe to be gone")


if __name__ == "__main__":
    unittest.main()
