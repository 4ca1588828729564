"""Requests sent together, in one write: each is answered, in order, as if sent alone (armd
reads them on its fast path or its full parser, and writes the replies of one read together)."""

import json
import socket
import unittest

from harness import ArmdTestCase


class Pipelining(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(f"""
            [arm]
            default_services = ["web", "db"]
            [services.web]
            binary = "{self.sleeper()}"
            [services.db]
            binary = "{self.sleeper("db.sh")}"
            """)
        self.start_armd()
        self.wait_state("web", "running")
        self.wait_state("db", "running")

    def test_a_burst_of_mixed_requests_gets_every_reply_in_order(self):
        # Plain lines (the fast path), lines only the full parser reads, and bad ones, mixed.
        lines = []
        for i in range(300):
            kind = i % 6
            if kind == 0:
                lines.append(json.dumps({"id": i, "method": "status", "services": ["web"]}))
            elif kind == 1:
                lines.append(f'{{ "id" : {i}, "method":"status", "services":["db","web"] }}')
            elif kind == 2:  # an escape: not plain, the full parser's
                lines.append(f'{{"id":{i},"method":"status","services":["w\\u0065b"]}}')
            elif kind == 3:
                lines.append(f'{{"id":{i},"method":"status","services":["nope"]}}')
            elif kind == 4:
                lines.append(f'{{"id":{i},"method":"status","force":true}}')
            else:
                lines.append(f'{{"id":{i},"method":"hello"}}')
        with self.connect() as conn:
            conn.read_line()
            conn.send_raw(("\n".join(lines) + "\n").encode())
            for i in range(300):
                reply = conn.read_line()
                self.assertEqual(reply["id"], i)
                kind = i % 6
                if kind in (0, 2):
                    self.assertEqual([s["name"] for s in reply["services"]], ["web"])
                elif kind == 1:
                    self.assertEqual([s["name"] for s in reply["services"]], ["db", "web"])
                elif kind == 3:
                    self.assertEqual(reply["outcome"], "unknown_service")
                    self.assertEqual(reply["unknown"], ["nope"])
                elif kind == 4:
                    self.assertEqual(reply["outcome"], "bad_request")
                    self.assertIn('"force" applies to "stop" and "restart" only', reply["message"])
                else:
                    self.assertEqual(reply["hello"], "armd")
        self.assertEqual(self.armd.poll(), None)

    def test_a_burst_sent_just_before_closing_the_write_side_is_answered_in_full(self):
        request = json.dumps({"id": 1, "method": "status", "services": ["web"]}) + "\n"
        with self.connect() as conn:
            conn.read_line()
            conn.send_raw((request * 64).encode())
            conn.sock.shutdown(socket.SHUT_WR)
            replies = [conn.read_line() for _ in range(64)]
            self.assertTrue(all(r["ok"] and r["services"][0]["name"] == "web" for r in replies))
            self.assertTrue(conn.closed_by_peer())


if __name__ == "__main__":
    unittest.main()
