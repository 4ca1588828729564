"""`armctl logs` beyond the ring (issue 12): the older lines come from the service's log files,
across rotations, with the newer ones from the ring, none twice and none missing."""

import glob
import json
import os
import unittest

from harness import ArmdTestCase, wait_for

TOTAL = 2000  # about 100 KiB in the files; the ring (1 KiB) holds a handful


class LogsFromFiles(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.log_file = os.path.join(self.dir, "counter.log")
        script = self.script("counter.sh", f"""
            awk 'BEGIN {{ for (i = 1; i <= {TOTAL}; i++) printf "n %05d\\n", i }}'
            exec sleep 100000
            """)
        self.write_config(f"""
            [services.counter]
            binary = "{script}"
            restart = "never"
            log_buffer = "1KiB"
            log_file = "{self.log_file}"
            log_max_size = "16KiB"
            log_max_files = 10
            """)
        self.start_armd()
        self.armctl("start", "counter", check=0)
        wait_for(lambda: [line["text"] for line in self.logs("-n", "1")] == [f"n {TOTAL:05d}"],
                 "the last line")

    def logs(self, *args):
        return json.loads(self.armctl("logs", "counter", *args, json_output=True, check=0).stdout)

    def file_lines(self):
        """Every line of the log files, oldest first."""
        paths = sorted(glob.glob(self.log_file + ".*"), key=lambda p: -int(p.rsplit(".", 1)[1]))
        lines = []
        for path in paths + [self.log_file]:
            with open(path) as f:
                lines += f.read().splitlines()
        return lines

    def test_n_beyond_the_ring_reads_the_older_lines_from_the_rotated_files(self):
        self.assertGreater(len(glob.glob(self.log_file + ".*")), 2, "the files were rotated")
        self.assertLess(len(self.logs("-n", str(TOTAL))), TOTAL + 1)
        for count in (1500, TOTAL, TOTAL + 500):
            lines = self.logs("-n", str(count))
            first = max(1, TOTAL - count + 1)
            self.assertEqual([line["text"] for line in lines],
                             [f"n {i:05d}" for i in range(first, TOTAL + 1)], f"-n {count}")
        # Read back from the file: its stamp and stream, and seq 0 (not a ring's number); the
        # ring's lines keep theirs.
        lines = self.logs("-n", str(TOTAL))
        self.assertEqual(lines[0]["seq"], 0)
        self.assertEqual(lines[-1]["seq"], TOTAL)
        self.assertEqual(self.file_lines()[0], f"{lines[0]['time']} stdout n 00001")
        text = self.armctl("logs", "counter", "-n", "1500", check=0).stdout.splitlines()
        self.assertEqual(text[0], self.file_lines()[TOTAL - 1500])

    def test_since_older_than_the_ring_reads_the_files_from_that_time(self):
        files = self.file_lines()
        since = files[700].split()[0]  # a line the ring lost long ago
        expected = [line.split(" ", 2)[2] for line in files if line.split()[0] >= since]
        lines = self.logs("--since", since, "-n", str(TOTAL))
        self.assertEqual([line["text"] for line in lines], expected)
        self.assertEqual([line["text"] for line in self.logs("--since", "1h", "-n", "100000")],
                         [f"n {i:05d}" for i in range(1, TOTAL + 1)])

    def test_a_line_of_the_file_that_does_not_parse_is_shown_as_it_is(self):
        oldest = max(glob.glob(self.log_file + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
        with open(oldest) as f:
            content = f.read()
        with open(oldest, "w") as f:
            f.write("written by someone else\n" + content)
        lines = self.logs("-n", str(TOTAL + 1))
        self.assertEqual((lines[0]["text"], lines[0]["unparsed"]), ("written by someone else", True))
        self.assertEqual([line["text"] for line in lines[1:]],
                         [f"n {i:05d}" for i in range(1, TOTAL + 1)])
        text = self.armctl("logs", "counter", "-n", str(TOTAL + 1), check=0).stdout
        self.assertEqual(text.splitlines()[0], "written by someone else")


if __name__ == "__main__":
    unittest.main()
