"""Issue 12, item 6: armd's own log. Each line has its time, a level and, when it is about a
service, the service's name as a field of its own; the loop writes its lines before it waits;
`--log-format json` writes one JSON object per line, valid whatever bytes a service wrote."""

import json
import os
import re
import select
import signal
import subprocess
import time
import unittest

from harness import ARMD, DEADLINE, ArmdTestCase, wait_for

JSON_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"info", "warning", "error"}


class ArmdLog(ArmdTestCase):
    def crasher_config(self, says="fatal: out of cheese"):
        """A service that writes `says` (a printf format), then crashes: once restarted, then
        failed."""
        crasher = self.script("crasher.sh", f"printf '{says}\\n'\nexit 1\n")
        self.write_config(f"""
            [services.crasher]
            binary = "{crasher}"
            max_restarts = 1
            backoff_initial = "10ms"
            """)

    def stop_armd(self):
        self.armd.send_signal(signal.SIGTERM)
        self.armd.wait(timeout=DEADLINE)

    def test_listening_is_written_before_any_event(self):
        # Nothing wakes armd after start-up: no service starts, no client connects. Its stderr
        # is a pipe, as under a supervisor or in a container.
        self.write_config(f"""
            [services.idle]
            binary = "{self.sleeper()}"
            """)
        self.armd = subprocess.Popen(
            [ARMD, "--config", self.config, "--socket", self.socket],
            env=self.armd_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._log = self.armd.stderr
        said = b""
        end = time.monotonic() + DEADLINE
        while b"listening on" not in said and time.monotonic() < end:
            ready, _, _ = select.select([self.armd.stderr], [], [], 0.1)
            if ready:
                chunk = os.read(self.armd.stderr.fileno(), 65536)
                self.assertTrue(chunk, f"armd closed its stderr: {said!r}")
                said += chunk
        self.assertIn(f"info listening on {self.socket}".encode(), said)

    def test_a_turn_that_logs_more_than_the_buffer_loses_no_line_to_a_file(self):
        # Starting and then stopping 2,500 services with long names logs ~350 KiB in one loop
        # turn each time, more than armd's 256 KiB log buffer. Its stderr is a regular file here
        # (the harness's armd.log), which takes every write: no line may be dropped.
        count = 2500
        name = "a-service-whose-name-is-long-enough-to-make-each-log-line-long-{:05}-" + "x" * 20
        self.write_config("".join(
            f'[services."{name.format(i)}"]\nbinary = "/bin/sleep"\noptions = ["100000"]\n'
            'stdout = "null"\nstderr = "null"\n' for i in range(count)))
        self.start_armd()
        self.armctl("start", "--all", check=0, timeout=3 * DEADLINE)
        self.stop_armd()
        log = self.log()
        self.assertNotIn("were dropped", log)
        self.assertEqual(log.count(": running (pid "), count)
        self.assertEqual(log.count(": stopping (shutdown)"), count)

    def test_a_text_line_has_its_level_and_the_service_it_is_about(self):
        self.crasher_config()
        self.start_armd()
        self.armctl("start", "crasher")
        self.wait_state("crasher", "failed")
        self.stop_armd()
        lines = self.log().splitlines()
        stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "
        for line in lines:
            self.assertRegex(line, stamp + r"(info|warning|error) ")
        self.assertRegex(self.log(), re.compile(stamp + r"info listening on ", re.M))
        self.assertRegex(self.log(), re.compile(stamp + r"info crasher: running \(pid \d+\)$", re.M))
        self.assertRegex(self.log(), re.compile(stamp + r"warning crasher: backoff \(", re.M))
        self.assertRegex(self.log(), re.compile(stamp + r"error crasher: failed", re.M))
        self.assertRegex(self.log(), re.compile(stamp + r"warning crasher: \| fatal: out of cheese$",
                                                re.M))

    def test_every_line_of_a_json_session_is_one_object(self):
        self.crasher_config(says=r"bad \377\376 bytes")
        self.start_armd("--log-format", "json")
        self.armctl("start", "crasher")
        self.wait_state("crasher", "failed")
        with self.connect() as conn:
            conn.read_line()  # the hello banner
            conn.send_raw(b"\xff\xfe not json\n")  # a bad request: logged, bytes and all
            conn.read_line()
        self.stop_armd()
        with open(self.log_path, "rb") as f:
            raw = f.read()
        events = []
        for line in raw.split(b"\n")[:-1]:
            event = json.loads(line)  # raises on a line that is not JSON
            events.append(event)
            self.assertLessEqual(set(event), {"time", "level", "service", "message"}, event)
            self.assertRegex(event["time"], JSON_TIME)
            self.assertIn(event["level"], LEVELS)
            self.assertIsInstance(event["message"], str)
        self.assertTrue(raw.endswith(b"\n"))
        about_armd = [e for e in events if "service" not in e]
        about_crasher = [e for e in events if e.get("service") == "crasher"]
        self.assertTrue(about_armd[0]["message"].startswith(f"listening on {self.socket}"),
                        about_armd[0])
        self.assertEqual(about_armd[-1]["message"], "every service is stopped; exiting")
        self.assertIn(("error", "failed"),
                      [(e["level"], e["message"].split(" ")[0]) for e in about_crasher])
        # The crash context quotes what the service wrote: its invalid bytes as \xNN, as in the
        # text format (the JSON stays valid UTF-8 either way).
        self.assertIn("| bad \\xff\\xfe bytes", [e["message"] for e in about_crasher])
        self.assertTrue(any(e["level"] == "warning" and e["message"].startswith("client ")
                            for e in about_armd), about_armd)

    def test_a_configuration_armd_cannot_start_with_is_a_json_line_too(self):
        self.write_config("""
            [services.web]
            binray = "/bin/true"
            """)
        result = subprocess.run([ARMD, "--config", self.config, "--socket", self.socket,
                                 "--log-format", "json"], env=self.armd_environment(),
                                capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 2, result.stderr)
        [line] = result.stderr.splitlines()
        event = json.loads(line)
        self.assertEqual(event["level"], "error")
        self.assertIn(f"{self.config}:3:", event["message"])
        self.assertIn("binray", event["message"])

    def test_an_unknown_log_format_is_refused_naming_the_flag(self):
        self.write_config(f"""
            [services.web]
            binary = "{self.sleeper()}"
            """)
        result = subprocess.run([ARMD, "--config", self.config, "--socket", self.socket,
                                 "--log-format", "yaml"], env=self.armd_environment(),
                                capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--log-format", result.stderr)
        self.assertIn("yaml", result.stderr)


if __name__ == "__main__":
    unittest.main()
