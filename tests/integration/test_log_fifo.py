"""A log_file that is not a regular file (issue 12): a FIFO whose reader stops reading never
stalls armd; in block mode the service is slowed instead, and nothing is lost."""

import json
import os
import unittest

from harness import ArmdTestCase, wait_for

# About 2.9 MiB: far more than the FIFO (64 KiB) and the service's pipe hold, even once armd has
# made a busy pipe 1 MiB (issue 12's throughput work), with what armd holds for the file.
LINES = 30000


class NonRegularLogFile(ArmdTestCase):
    def serve(self, fifo):
        self.done = os.path.join(self.dir, "done")
        self.ping = os.path.join(self.dir, "ping")
        fed = self.script("fed.sh", f"""
            awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) printf "line %05d %s\\n", i, sprintf("%80s", "") }}'
            touch {self.done}
            exec sleep 100000
            """)
        other = self.script("other.sh", f"""
            while [ ! -e {self.ping} ]; do sleep 0.02; done
            echo pong
            exec sleep 100000
            """)
        self.configure = lambda log_file: self.write_config(f"""
            [services.fed]
            binary = "{fed}"
            restart = "never"
            log_file = {log_file}

            [services.other]
            binary = "{other}"
            restart = "never"
            """)
        self.configure(f'"{fifo}"')
        self.start_armd()
        self.armctl("start", "fed", "other", check=0)

    def read_every_line(self, reader):
        """Reads the FIFO until the last line came; returns its lines."""
        received = b""

        def last_arrived():
            nonlocal received
            try:
                while True:
                    chunk = os.read(reader, 65536)
                    if not chunk:
                        break
                    received += chunk
            except BlockingIOError:
                pass
            return received.endswith(f"line {LINES:05d}".encode() + b" " * 81 + b"\n")

        wait_for(last_arrived, "every line through the FIFO")
        return received.decode().splitlines()

    def assert_every_line_in_order(self, lines):
        self.assertEqual(len(lines), LINES)
        for number, line in enumerate(lines, start=1):
            self.assertRegex(line, rf"^\d{{4}}-\d\d-\d\dT\S+Z stdout line {number:05d} {{81}}$")

    def assert_armd_goes_on(self):
        # armd answers, another service's output flows, and the FIFO's service is slowed.
        wait_for(lambda: "its output is not read until it does" in self.log(),
                 "armd to say it stopped reading fed's output")
        self.assertEqual(self.status("other")["state"], "running")
        open(self.ping, "w").close()
        wait_for(lambda: [line["text"] for line in self.logs("other")] == ["pong"],
                 "other's line while fed's FIFO is full")
        self.assertFalse(os.path.exists(self.done), "fed was not slowed: lines went somewhere")

    def logs(self, name):
        return json.loads(self.armctl("logs", name, json_output=True, check=0).stdout)

    def test_a_fifo_whose_reader_stops_slows_its_service_only_and_loses_nothing(self):
        fifo = os.path.join(self.dir, "shipper.fifo")
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, and not reading
        self.addCleanup(os.close, reader)
        self.serve(fifo)
        self.assert_armd_goes_on()
        # The reader catches up: every line, in order, once.
        self.assert_every_line_in_order(self.read_every_line(reader))
        wait_for(lambda: os.path.exists(self.done), "fed to finish once it is read again")
        wait_for(lambda: "its output is read again" in self.log(), "armd to read fed again")

    def test_a_fifo_without_a_reader_yet_is_opened_without_waiting_and_keeps_the_lines(self):
        fifo = os.path.join(self.dir, "later.fifo")
        os.mkfifo(fifo)
        self.serve(fifo)
        self.assert_armd_goes_on()
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, reader)
        self.assert_every_line_in_order(self.read_every_line(reader))
        wait_for(lambda: os.path.exists(self.done), "fed to finish once it is read again")

    def test_a_reload_that_closes_a_blocked_fifo_says_what_it_drops_and_reads_the_service_again(self):
        fifo = os.path.join(self.dir, "shipper.fifo")
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, reader)
        self.serve(fifo)
        self.assert_armd_goes_on()
        self.configure("false")
        self.armctl("reload", check=0)
        wait_for(lambda: "is closed by a reload while it did not take lines" in self.log(),
                 "armd to say what the closed FIFO held")
        wait_for(lambda: os.path.exists(self.done), "fed to finish, read again")
        wait_for(lambda: [line["text"][:10] for line in self.logs("fed")][-1:] ==
                 [f"line {LINES:05d}"], "fed's last line in the ring")


if __name__ == "__main__":
    unittest.main()
