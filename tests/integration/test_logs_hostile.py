"""Services' output capture (issue 12) under a hostile service or client: long lines to a
follower, children that keep the pipe, log files that cannot be rotated, odd requests."""

import base64
import json
import os
import time
import unittest

from harness import DEADLINE, ArmdTestCase, pid_alive, rss_kib, wait_for


class HostileOutput(ArmdTestCase):
    def serve(self, name, body, extra="", arm=""):
        """armd with one service `name` running the script `body`, started."""
        script = self.script(f"{name}.sh", body)
        self.write_config(f"""
            [arm]
            {arm}
            [services.{name}]
            binary = "{script}"
            restart = "never"
            {extra}
            """)
        self.start_armd()
        self.armctl("start", name, check=0)

    def test_a_follower_that_reads_is_not_disconnected_when_lines_are_long(self):
        # 256 lines of 8 KiB make one message of 2 MiB: queued behind the unsent rest of the
        # previous one, it is more than a client may have waiting, and armd used to drop it.
        total = 2000
        go = os.path.join(self.dir, "go")
        done = os.path.join(self.dir, "done")
        self.serve("wide", f"""
            while [ ! -e {go} ]; do sleep 0.05; done
            awk 'BEGIN {{ pad = sprintf("%8000s", ""); for (i = 1; i <= {total}; i++) print i " " pad }}'
            touch {done}
            exec sleep 100000
            """, extra='log_buffer = "64MiB"')
        with self.connect() as follower:
            follower.read_line()  # hello
            follower.request(id=1, method="logs", services=["wide"], lines=0, follow=True)
            self.assertEqual(follower.read_line()["lines"], [])
            open(go, "w").close()
            wait_for(lambda: os.path.exists(done), "the service to write everything")
            expected = 1
            while expected <= total:
                event = follower.read_line()
                self.assertEqual(event["event"], "lines", event)
                for line in event["lines"]:
                    self.assertEqual(line["text"].split(" ")[0], str(expected))
                    expected += 1
                time.sleep(0.01)  # a reader a little slower than armd
        self.assertNotIn("disconnecting", self.log())

    def test_a_log_file_that_cannot_be_rotated_is_said_once_and_loses_no_line(self):
        # FILE.1 is a directory: the rename that rotates FILE fails at every line past
        # log_max_size; armd used to retry (and log the failure) at each of them.
        os.mkdir(os.path.join(self.dir, "stuck.log.1"))
        total = 2000
        self.serve("stuck", f"""
            awk 'BEGIN {{ for (i = 1; i <= {total}; i++) print "line " i }}'
            exec sleep 100000
            """, extra='log_file = "stuck.log"\nlog_max_size = "4KiB"\nlog_max_files = 1')
        path = os.path.join(self.dir, "stuck.log")

        def written():
            if not os.path.exists(path):
                return False
            with open(path, "rb") as f:
                return f.read().count(b"\n") == total

        wait_for(written, f"{total} lines in {path}")
        with open(path) as f:
            self.assertEqual([line.split(" ", 2)[2].rstrip("\n") for line in f],
                             [f"line {i}" for i in range(1, total + 1)])
        self.assertLessEqual(self.log().count("rotating its log_file"), 2, self.log()[-2000:])

    def test_logs_of_a_name_given_twice_sends_its_lines_once(self):
        self.serve("twice", "echo one; echo two; exec sleep 100000\n")
        wait_for(lambda: len(self.logs_json("twice")) == 2, "two lines")
        self.assertEqual([line["text"] for line in self.logs_json("twice", "twice", "-n", "10")],
                         ["one", "two"])

    @unittest.skipIf(os.environ.get("ARM_SANITIZED"), "RSS means nothing under AddressSanitizer")
    def test_memory_for_captured_lines_stays_near_log_buffer(self):
        # 32 MiB of ring filled with short lines: what each line really costs armd (its record,
        # and the text's own allocation) must be what log_buffer counts.
        done = os.path.join(self.dir, "done")
        self.serve("chatty", f"""
            awk 'BEGIN {{ for (i = 1; i <= 1500000; i++) printf "%016d\\n", i }}'
            touch {done}
            exec sleep 100000
            """, extra='log_buffer = "32MiB"')
        wait_for(lambda: os.path.exists(done), "the service to write everything")
        wait_for(lambda: self.logs_json("chatty", "-n", "1")[0]["text"] == "%016d" % 1500000,
                 "armd to store everything")
        self.assertLess(rss_kib(self.armd.pid), (32 + 12) * 1024)

    def test_a_crashing_service_cannot_put_control_bytes_into_armds_log(self):
        # ESC, CR and NUL from a service would garble armd's log on a terminal, or forge a line
        # there; its crash context shows them as \\xNN, as armd's log does for clients' bytes.
        self.serve("garbler", r"""
            printf 'a\033[2Jb\rc\000d\n'
            printf 'not utf8 \377 e\n' >&2
            exit 1
            """)
        self.wait_state("garbler", "failed")
        wait_for(lambda: "garbler: | not utf8" in self.log(), "the crash context in armd's log")
        with open(self.log_path, "rb") as f:
            log = f.read()
        self.assertIn(b"garbler: | a\\x1b[2Jb\\x0dc\\x00d\n", log)
        self.assertIn(b"garbler: | not utf8 \\xff e\n", log)
        for byte in (b"\x1b", b"\r", b"\x00", b"\xff"):
            self.assertNotIn(byte, log)
        # armctl logs --json still has the exact bytes.
        first, second = self.logs_json("garbler")
        self.assertEqual(first["text"], "a\x1b[2Jb\rc\x00d")
        self.assertEqual(base64.b64decode(second["base64"]), b"not utf8 \xff e")

    def test_a_service_removed_while_it_talks_leaves_no_lines_to_one_added_later(self):
        slow = self.script("slow.sh", """
            trap 'echo "stopping slowly"; sleep 0.5; echo "bye from the old one"; exit 0' TERM
            echo "hello from the old one"
            while :; do sleep 0.1; done
            """)
        sleeper = self.sleeper()
        other = f'[services.other]\nbinary = "{sleeper}"\n'
        self.write_config(f'{other}[services.svc]\nbinary = "{slow}"\nrestart = "never"\n')
        self.start_armd()
        self.armctl("start", "svc", check=0)
        wait_for(lambda: self.logs_json("svc"), "the old service's first line")
        self.write_config(other)
        self.armctl("reload", check=0)
        wait_for(lambda: "svc: stopped" in self.log(), "the removed service to stop")
        self.write_config(f'{other}[services.svc]\nbinary = "{sleeper}"\nrestart = "never"\n')
        self.armctl("reload", check=0)
        self.assertEqual(self.logs_json("svc"), [])

    def test_a_process_left_behind_loses_its_pipe_when_the_main_process_is_reaped(self):
        # cgroup = "off", and a child that left the service's process group: it outlives the
        # service, but armd closes the pipe with the main process, so its next write is its last
        # (SIGPIPE). What docs/config.md says of stdout = "log".
        child_pid = os.path.join(self.dir, "child.pid")
        wrote = os.path.join(self.dir, "wrote")
        go = os.path.join(self.dir, "go")
        self.serve("leaver", f"""
            setsid sh -c 'echo $$ > {child_pid}; while [ ! -e {go} ]; do sleep 0.05; done
                          echo late; touch {wrote}; exec sleep 100000' &
            while [ ! -s {child_pid} ]; do sleep 0.05; done
            echo "main leaves"
            exit 0
            """, arm='cgroup = "off"')
        self.wait_state("leaver", "stopped")
        with open(child_pid) as f:
            pid = int(f.read())
        self.assertTrue(pid_alive(pid))
        open(go, "w").close()
        wait_for(lambda: not pid_alive(pid), "the child to die at its write")
        self.assertFalse(os.path.exists(wrote))
        self.assertEqual([line["text"] for line in self.logs_json("leaver")], ["main leaves"])

    @unittest.skipIf(os.environ.get("ARM_SANITIZED"), "RSS means nothing under AddressSanitizer")
    def test_a_reload_that_shrinks_log_buffer_gives_the_memory_back(self):
        done = os.path.join(self.dir, "done")
        script = self.script("big.sh", f"""
            awk 'BEGIN {{ for (i = 1; i <= 600000; i++) printf "%0100d\\n", i }}'
            touch {done}
            exec sleep 100000
            """)
        config = '[services.big]\nbinary = "{}"\nrestart = "never"\nlog_buffer = "{}"\n'
        self.write_config(config.format(script, "64MiB"))
        self.start_armd()
        self.armctl("start", "big", check=0)
        wait_for(lambda: os.path.exists(done), "the service to write everything")
        wait_for(lambda: self.logs_json("big", "-n", "1")[0]["text"] == "%0100d" % 600000,
                 "armd to store everything")
        self.assertGreater(rss_kib(self.armd.pid), 48 * 1024)
        self.write_config(config.format(script, "1MiB"))
        self.armctl("reload", check=0)
        self.assertLess(rss_kib(self.armd.pid), 24 * 1024)

    def logs_json(self, *args):
        return json.loads(self.armctl("logs", *args, json_output=True, check=0).stdout)


if __name__ == "__main__":
    unittest.main()
