"""Issue 11, part A: what an operator meets first. armd's log lines carry milliseconds; a
crash-looping service stops by default; asking for unlimited restarts is paced and
`--check-config` says so; the README's configuration block is a valid configuration; the demo
edits a scratch copy of examples/, never the clone."""

import os
import re
import subprocess
import unittest

from harness import ARMD, ArmdTestCase, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class LogTimestamps(ArmdTestCase):
    def test_every_log_line_starts_with_a_timestamp_in_milliseconds(self):
        self.write_config(f"""
            [services.idle]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        self.armctl("start", "idle", check=0)
        lines = wait_for(lambda: [l for l in self.log().splitlines() if "idle" in l],
                         "a log line about idle")
        stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} armd: ")
        for line in self.log().splitlines():
            self.assertRegex(line, stamp)
        self.assertTrue(lines)


if __name__ == "__main__":
    unittest.main()
