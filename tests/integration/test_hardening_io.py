"""armd never blocks and never grows without bound; half-closed clients get their replies
(issue 10, items 3 and 4)."""

import json
import os
import resource
import socket
import subprocess
import threading
import time
import unittest

from harness import ARMD, DEADLINE, ArmdTestCase, rss_kib, wait_for

# The memory armd may use while hostile clients do their worst (VmRSS, /proc/PID/status).
RSS_LIMIT_KIB = 64 * 1024


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def read_all_lines(sock):
    """Every line until armd closes the connection, as JSON objects."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return [json.loads(line) for line in data.split(b"\n") if line]


class HalfClosedConnections(ArmdTestCase):
    """`printf '...' | socat - UNIX-CONNECT:sock`: the client shuts its write side after its
    requests and still reads every reply."""

    def setUp(self):
        super().setUp()
        # Takes a moment to stop (and so to start again after a stop).
        slow = self.script("slow.sh", """\
            trap 'sleep 1; exit 0' TERM
            sleep 100000 &
            wait
            """)
        self.write_config(f"""
            [arm]
            default_services = ["slow"]
            [services.slow]
            binary = "{slow}"
            """)
        self.start_armd()
        self.wait_state("slow", "running")

    def half_closed_exchange(self, *requests):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(DEADLINE)
        with sock:
            sock.connect(self.socket)
            sock.sendall(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
            sock.shutdown(socket.SHUT_WR)
            return read_all_lines(sock)

    def test_deferred_replies_reach_a_client_that_shut_its_write_side(self):
        lines = self.half_closed_exchange({"id": 1, "method": "stop", "service": "slow"},
                                          {"id": 2, "method": "start", "service": "slow"})
        replies = {line["id"]: line for line in lines if "id" in line}
        self.assertEqual(lines[0].get("hello"), "armd")
        self.assertEqual(replies[1]["outcome"], "stopped", lines)
        self.assertEqual(replies[2]["outcome"], "started", lines)
        self.assertEqual(self.status("slow")["state"], "running")

    def test_a_status_request_is_answered_before_the_connection_closes(self):
        lines = self.half_closed_exchange({"id": "s", "method": "status"})
        self.assertEqual(lines[-1]["id"], "s")
        self.assertEqual(lines[-1]["services"][0]["name"], "slow")

    def test_a_last_request_without_its_newline_is_still_answered(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(DEADLINE)
        with sock:
            sock.connect(self.socket)
            sock.sendall(b'{"id":7,"method":"stop","service":"slow"}')
            sock.shutdown(socket.SHUT_WR)
            lines = read_all_lines(sock)
        self.assertEqual(lines[-1]["id"], 7)
        self.assertEqual(lines[-1]["outcome"], "stopped")

    def test_the_socat_example_of_the_protocol_doc(self):
        if not os.path.exists("/usr/bin/socat"):
            self.skipTest("socat is not installed")
        result = subprocess.run(
            ["socat", "-t30", "-", f"UNIX-CONNECT:{self.socket}"],
            input='{"id":1,"method":"stop","service":"slow"}\n', capture_output=True, text=True,
            timeout=DEADLINE)
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        self.assertEqual(lines[-1]["outcome"], "stopped", result)

    def test_a_peer_that_closes_entirely_is_dropped_and_armd_goes_on(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.socket)
        sock.sendall(b'{"id":1,"method":"stop","service":"slow"}\n')
        sock.close()
        self.wait_state("slow", "stopped")
        self.armctl("start", "slow", check=0)
        self.assertIsNone(self.armd.poll())


class BoundedMemory(ArmdTestCase):
    """Clients that never read, huge ids and floods of bad requests cannot make armd grow."""

    SERVICES = 200

    def setUp(self):
        super().setUp()
        slow = self.script("slow.sh", """\
            trap 'sleep 2; exit 0' TERM
            sleep 100000 &
            wait
            """)
        sleeper = self.sleeper()
        services = "".join(f"""
            [services.s{i:03}]
            binary = "{sleeper}"
            options = "--an-option-to-make-the-status-longer {i}"
            """ for i in range(self.SERVICES))
        self.write_config(f"""
            [arm]
            default_services = ["slow"]
            [services.slow]
            binary = "{slow}"
            {services}
            """)
        self.start_armd()
        self.wait_state("slow", "running")

    def test_a_connection_may_have_only_so_many_requests_waiting(self):
        with self.connect() as conn:
            conn.read_line()
            count = 300
            conn.send_raw(b"".join(
                json.dumps({"id": i, "method": "stop", "service": "slow"}).encode() + b"\n"
                for i in range(count)))
            replies = [conn.read_line() for _ in range(count)]
        refused = [r for r in replies if r["outcome"] == "too_many_requests"]
        stopped = [r for r in replies if r["outcome"] == "stopped"]
        self.assertEqual(len(refused), count - 256, replies[:3])
        self.assertEqual(len(stopped), 256)
        self.assertIn("256", refused[0]["message"])

    def test_an_overlong_id_is_refused_naming_the_limit(self):
        with self.connect() as conn:
            conn.read_line()
            conn.request(id="x" * 1000, method="stop", service="slow")
            reply = conn.read_line()
            self.assertEqual(reply["outcome"], "bad_request")
            self.assertIsNone(reply["id"])
            self.assertIn("256 bytes", reply["message"])
            conn.request(id="x" * 256, method="status", services=["slow"])
            self.assertEqual(conn.read_line()["id"], "x" * 256)

    def test_non_reading_clients_and_bad_request_floods_leave_armd_small_and_responsive(self):
        stop = threading.Event()
        pid = self.armd.pid
        peak = [rss_kib(pid)]

        def flood(payload):
            # Never reads. When armd drops it, connects again and goes on.
            while not stop.is_set():
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(0.5)
                try:
                    sock.connect(self.socket)
                    while not stop.is_set():
                        sock.sendall(payload)
                except OSError:
                    pass
                finally:
                    sock.close()

        status_requests = b'{"id":1,"method":"status"}\n' * 500
        bad_requests = b'{"id":2,"method":"explode"}\n{no json\n' * 500
        huge_ids = (json.dumps({"id": "i" * 60000, "method": "stop", "service": "slow"})
                    .encode() + b"\n") * 4
        payloads = [status_requests] * 24 + [bad_requests] * 4 + [huge_ids] * 2
        threads = [threading.Thread(target=flood, args=(p,), daemon=True) for p in payloads]

        def sample_rss():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        for thread in threads + [sampler]:
            thread.start()
        answered = 0
        try:
            end = time.monotonic() + 8
            with self.connect() as conn:
                conn.read_line()
                while time.monotonic() < end:
                    conn.request(id=answered, method="status", services=["slow"])
                    reply = conn.read_line()  # within DEADLINE, or the socket times out
                    self.assertEqual(reply["id"], answered)
                    answered += 1
                    time.sleep(0.1)
        finally:
            stop.set()
            for thread in threads + [sampler]:
                thread.join(DEADLINE)
        self.assertGreater(answered, 3)
        self.assertIn("does not read its replies", self.log())
        # (Under AddressSanitizer, its shadow memory and quarantine hold what armd frees on
        # purpose: the memory bound is checked in the plain build only, as the chaos test does.)
        if not os.environ.get("ARM_SANITIZED"):
            self.assertLess(peak[0], RSS_LIMIT_KIB, f"armd's RSS peaked at {peak[0]} KiB")
            # Every flood connection is gone; what they held went back.
            wait_for(lambda: rss_kib(pid) < RSS_LIMIT_KIB / 2,
                     "armd's RSS to shrink after the flood")
        self.assertEqual(self.status("slow")["state"], "running")


class StalledLogReader(ArmdTestCase):
    """armd's stderr is a pipe (or a socket, as journald's) nobody reads, filled by a chatty
    service sharing it."""

    def test_armd_goes_on_restarting_and_answering_and_says_how_many_lines_it_dropped(self):
        read_end, write_end = os.pipe()
        self.check_stalled_log(read_end, write_end)

    def test_the_same_with_a_socket_for_stderr(self):
        ours, armds = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.check_stalled_log(ours.detach(), armds.detach())

    def check_stalled_log(self, read_end, write_end):
        # More than a pipe or a socket buffer holds: the service blocks, the channel is full.
        chatty = self.script("chatty.sh", """\
            head -c 2000000 /dev/zero | tr '\\0' x >&2
            exec sleep 100000
            """)
        flapping = self.script("flapping.sh", "exit 1\n")
        # A long name makes long log lines: the 256 KiB of log buffer overflow sooner.
        name = "flapping-" + "x" * 1000
        self.write_config(f"""
            [arm]
            default_services = ["chatty", "{name}"]
            [services.chatty]
            binary = "{chatty}"
            [services.{name}]
            binary = "{flapping}"
            backoff_initial = "2ms"
            backoff_max = "2ms"
            max_restarts = "unlimited"
            """)
        self._log = open(self.log_path, "w")  # unused: the log goes to read_end
        try:
            self.armd = subprocess.Popen(
                [ARMD, "--config", self.config, "--socket", self.socket],
                env=self.armd_environment(), stdout=write_end, stderr=write_end)
        finally:
            os.close(write_end)
        drained = bytearray()
        try:
            wait_for(self._answers_hello, "armd to accept connections")
            # Each restart of the flapping service logs lines that cannot be written.
            first = self.status(name)["restarts"]
            # About 2 KB of log per restart: 400 overflow the 256 KiB buffer three times.
            wait_for(lambda: self.status(name)["restarts"] > first + 400,
                     "armd to go on restarting the flapping service (400 more restarts)")

            # A reader comes back: the log resumes, saying what was lost.
            def drain():
                while chunk := os.read(read_end, 65536):
                    drained.extend(chunk)

            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
            wait_for(lambda: b"log lines were dropped" in drained, "the note on dropped lines")
            self.assertIsNone(self.armd.poll())
        finally:
            if self.armd.poll() is None:
                self.armd.terminate()
                self.armd.wait(DEADLINE)
            os.close(read_end)

    def test_armd_exits_promptly_while_nobody_reads_its_log(self):
        chatty = self.script("chatty.sh", """\
            head -c 200000 /dev/zero | tr '\\0' x >&2
            exec sleep 100000
            """)
        self.write_config(f"""
            [arm]
            default_services = ["chatty"]
            [services.chatty]
            binary = "{chatty}"
            """)
        read_end, write_end = os.pipe()
        self._log = open(self.log_path, "w")
        try:
            self.armd = subprocess.Popen(
                [ARMD, "--config", self.config, "--socket", self.socket],
                env=self.armd_environment(), stdout=write_end, stderr=write_end)
        finally:
            os.close(write_end)
        try:
            wait_for(self._answers_hello, "armd to accept connections")
            self.wait_state("chatty", "running")
            self.armd.terminate()
            self.assertEqual(self.armd.wait(DEADLINE), 0)
        finally:
            os.close(read_end)


class ServiceOutput(ArmdTestCase):
    """`stdout` / `stderr`: a service's output need not share armd's stderr."""

    def chatty(self):
        return self.script("chatty.sh", """\
            echo "to stdout $$"
            echo "to stderr $$" >&2
            exec sleep 100000
            """)

    def test_a_fifo_nobody_reads_fails_the_start_instead_of_freezing_armd(self):
        fifo = os.path.join(self.dir, "out.fifo")
        os.mkfifo(fifo)
        self.write_config(f"""
            [services.chatty]
            binary = "{self.chatty()}"
            stdout = "file:{fifo}"
            """)
        self.start_armd()
        # The child opens its stdout while armd waits for it to exec: that open must not wait.
        result = self.armctl("start", "chatty")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("out.fifo", result.stdout + result.stderr)
        self.assertEqual(self.status("chatty")["state"], "failed")  # and armd still answers

    def test_output_goes_to_a_file_relative_to_the_config_or_to_null(self):
        self.write_config(f"""
            [arm]
            default_services = ["chatty"]
            [services.chatty]
            binary = "{self.chatty()}"
            stdout = "file:chatty.out"
            stderr = "null"
            """)
        with open(os.path.join(self.dir, "chatty.out"), "w") as f:
            f.write("from before\n")
        self.start_armd()
        pid = self.wait_state("chatty", "running")["pid"]
        out = os.path.join(self.dir, "chatty.out")
        wait_for(lambda: f"to stdout {pid}" in read_text(out), "the service's stdout line")
        self.assertEqual(read_text(out), f"from before\nto stdout {pid}\n")
        self.assertNotIn("to stderr", self.log())
        self.assertNotIn("to stdout", self.log())

    def test_inherited_output_goes_to_armds_own(self):
        # (By default output is captured: test_logs.py.)
        self.write_config(f"""
            [arm]
            default_services = ["chatty"]
            [services.chatty]
            binary = "{self.chatty()}"
            stdout = "inherit"
            stderr = "inherit"
            """)
        self.start_armd()
        pid = self.wait_state("chatty", "running")["pid"]
        wait_for(lambda: f"to stderr {pid}" in self.log(), "the service's stderr in armd's")

    def test_a_file_that_cannot_be_opened_fails_the_start_naming_it(self):
        self.write_config(f"""
            [services.chatty]
            binary = "{self.chatty()}"
            stderr = "file:no-such-dir/chatty.err"
            """)
        self.start_armd()
        result = self.armctl("start", "chatty", json_output=True)
        self.assertNotEqual(result.returncode, 0)
        expected = f"cannot open {self.dir}/no-such-dir/chatty.err for stderr"
        self.assertIn(expected, result.stdout)

    def test_a_reload_that_changes_where_output_goes_restarts_the_service(self):
        config = """
            [arm]
            default_services = ["chatty"]
            [services.chatty]
            binary = "{binary}"
            stdout = "{stdout}"
            """
        binary = self.chatty()
        self.write_config(config.format(binary=binary, stdout="null"))
        self.start_armd()
        before = self.wait_state("chatty", "running")["pid"]
        self.write_config(config.format(binary=binary, stdout="file:after.out"))
        reload = json.loads(self.armctl("reload", json_output=True, check=0).stdout)
        self.assertIn("chatty", json.dumps(reload))
        after = wait_for(lambda: (lambda s: s["pid"] if s["pid"] not in (None, before) else None)(
            self.status("chatty")), "chatty to run again")
        out = os.path.join(self.dir, "after.out")
        wait_for(lambda: f"to stdout {after}" in read_text(out),
                 "the new process's stdout in after.out")

    def test_check_config_names_file_line_and_key_of_a_bad_value(self):
        self.write_config("""
            [services.chatty]
            binary = "/bin/true"
            stdout = "journal"
            """)
        result = subprocess.run([ARMD, "--check-config", self.config], capture_output=True,
                                text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"{self.config}:4:", result.stderr)
        self.assertIn("services.chatty.stdout", result.stderr)


class ClosedStandardDescriptors(ArmdTestCase):
    def test_armd_started_with_stdout_and_stderr_closed_hands_its_services_dev_null(self):
        # Otherwise the numbers go to armd's own descriptors (a signalfd, the control socket):
        # armd's log lines go there, and a service gets no stdout at all (armd's descriptors
        # close at exec), so the first file it opens becomes its stdout.
        probe = self.sleeper()
        self.write_config(f"""
            [arm]
            default_services = ["probe"]
            [services.probe]
            binary = "{probe}"
            stdout = "inherit"
            stderr = "inherit"
            """)

        def close_stdout_and_stderr():
            os.close(1)
            os.close(2)

        self._log = open(self.log_path, "w")
        self.armd = subprocess.Popen([ARMD, "--config", self.config, "--socket", self.socket],
                                     env=self.armd_environment(),
                                     preexec_fn=close_stdout_and_stderr)
        wait_for(self._answers_hello, "armd to accept connections")
        pid = self.wait_state("probe", "running")["pid"]
        self.assertEqual(os.readlink(f"/proc/{pid}/fd/1"), "/dev/null")
        self.assertEqual(os.readlink(f"/proc/{pid}/fd/2"), "/dev/null")


class RateLimitedLogging(ArmdTestCase):
    def test_a_client_sending_garbage_in_a_loop_gets_its_first_lines_logged_then_a_count(self):
        self.write_config("""
            [arm]
            """)
        self.start_armd()
        with self.connect() as conn:
            conn.read_line()
            conn.send_raw(b'{"id":1,"method":"explode"}\n' * 100)
            for _ in range(100):
                self.assertEqual(conn.read_line()["outcome"], "bad_request")
        wait_for(lambda: "95 more bad requests" in self.log(), "the summary line")
        self.assertEqual(self.log().count("unknown method 'explode'"), 5, self.log())

    def test_running_out_of_descriptors_is_logged_once_not_every_100_ms(self):
        self.write_config("""
            [arm]
            """)

        def few_descriptors():
            resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))

        self._log = open(self.log_path, "w")
        self.armd = subprocess.Popen([ARMD, "--config", self.config, "--socket", self.socket],
                                     env=self.armd_environment(), stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=few_descriptors)
        wait_for(self._answers_hello, "armd to accept connections")
        held = []
        try:
            for _ in range(40):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.socket)  # queued in the backlog when armd cannot accept
                held.append(sock)
            wait_for(lambda: "Too many open files" in self.log(), "armd to run out of descriptors")
            time.sleep(2)  # 20 pauses of 100 ms
        finally:
            for sock in held:
                sock.close()
        self.assertEqual(self.log().count("Too many open files"), 1, self.log())


if __name__ == "__main__":
    unittest.main()
