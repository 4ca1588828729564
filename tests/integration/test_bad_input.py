"""Garbage on the socket never crashes armd nor disturbs its services."""

import os
import socket
import unittest

from harness import ArmdTestCase, pid_alive


class BadInput(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(f"""
            [arm]
            default_services = ["web"]
            [services.web]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        self.web = self.wait_state("web", "running")["pid"]

    def assert_undisturbed(self):
        self.assertEqual(self.armd.poll(), None, "armd died")
        web = self.status("web")
        self.assertEqual(web["state"], "running")
        self.assertEqual(web["pid"], self.web)
        self.assertTrue(pid_alive(self.web))

    def test_malformed_json_gets_an_error_reply_and_the_connection_stays_usable(self):
        with self.connect() as conn:
            self.assertEqual(conn.read_line()["hello"], "armd")
            conn.send_raw(b"{this is not json\n")
            error = conn.read_line()
            self.assertFalse(error["ok"])
            self.assertEqual(error["outcome"], "bad_request")
            self.assertIsNone(error["id"])
            conn.request(id=5, method="status")
            self.assertEqual(conn.read_line()["id"], 5)
        self.assert_undisturbed()

    def test_requests_that_are_wrong_in_shape_name_the_problem(self):
        with self.connect() as conn:
            conn.read_line()
            for bad in ([1, 2], {"id": 1}, {"id": 2, "method": "explode"},
                        {"id": 3, "method": "start", "service": 42}):
                conn.send_raw((__import__("json").dumps(bad) + "\n").encode())
                reply = conn.read_line()
                self.assertFalse(reply["ok"], bad)
                self.assertTrue(reply["message"], bad)
        self.assert_undisturbed()

    def test_replies_echo_the_request_id(self):
        with self.connect() as conn:
            conn.read_line()
            conn.request(id="abc", method="start", service="web")
            reply = conn.read_line()
            self.assertEqual(reply["id"], "abc")
            self.assertEqual(reply["outcome"], "already_running")

    def test_an_oversized_line_is_refused_and_the_connection_closed(self):
        with self.connect() as conn:
            conn.read_line()
            try:
                conn.send_raw(b"x" * (70 * 1024))
            except (BrokenPipeError, ConnectionResetError):
                pass
            reply = conn.read_line()
            self.assertEqual(reply["outcome"], "line_too_long")
            self.assertTrue(conn.closed_by_peer())
        self.assert_undisturbed()

    def test_random_bytes_and_vanishing_clients(self):
        for _ in range(20):
            with self.connect() as conn:
                conn.send_raw(os.urandom(4096))
        half = self.connect()
        half.send_raw(b'{"id":1,"method":"sta')  # never finished
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stalled.connect(self.socket)  # never reads anything, not even the hello
        for i in range(200):
            stalled.sendall(b'{"id":%d,"method":"status"}\n' % i)
        self.assert_undisturbed()
        half.sock.close()
        stalled.close()
        self.assert_undisturbed()

    def test_a_client_that_vanishes_while_waiting_does_not_disturb_the_stop(self):
        with self.connect() as conn:
            conn.read_line()
            conn.request(id=1, method="stop", service="web")
        self.wait_state("web", "stopped")
        self.assertFalse(pid_alive(self.web))
        self.armctl("start", "web", check=0)


if __name__ == "__main__":
    unittest.main()
