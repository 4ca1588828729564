"""Services' output captured by armd (issue 12): `armctl logs`, following, crash context."""

import base64
import json
import os
import select
import subprocess
import time
import unittest

from harness import ARMCTL, DEADLINE, ArmdTestCase, wait_for


class Logs(ArmdTestCase):
    def serve(self, name, body, extra=""):
        """armd with one service `name` running the script `body`, started."""
        script = self.script(f"{name}.sh", body)
        self.write_config(f"""
            [services.{name}]
            binary = "{script}"
            restart = "never"
            {extra}
            """)
        self.start_armd()
        self.armctl("start", name, check=0)

    def logs_json(self, *args):
        return json.loads(self.armctl("logs", *args, json_output=True, check=0).stdout)

    def wait_for_lines(self, name, count):
        return wait_for(lambda: (lambda lines: lines if len(lines) >= count else None)(
            self.logs_json(name, "-n", str(count))), f"{count} lines from {name}")

    def test_output_is_captured_and_logs_prints_the_last_lines_stamped(self):
        self.serve("talker", """
            i=1
            while [ $i -le 30 ]; do echo "out $i"; i=$((i+1)); done
            echo "to stderr" >&2
            exec sleep 100000
            """)
        lines = self.wait_for_lines("talker", 31)
        stdout = [line["text"] for line in lines if line["stream"] == "stdout"]
        self.assertEqual(stdout, [f"out {i}" for i in range(1, 31)])
        self.assertEqual([line["text"] for line in lines if line["stream"] == "stderr"],
                         ["to stderr"])
        self.assertEqual(sorted(line["seq"] for line in lines), list(range(1, 32)))
        for line in lines:
            self.assertEqual(line["service"], "talker")
            self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        text = self.armctl("logs", "talker", "-n", "3", check=0).stdout.splitlines()
        self.assertEqual(len(text), 3)
        for line in text:
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\S+Z (stdout|stderr) (out \d+|to stderr)$")
        # Captured, so no longer mixed into armd's own log.
        self.assertNotIn("out 30", self.log())

    def test_logs_of_an_unknown_service_is_refused_with_exit_code_3(self):
        self.serve("quiet", "exec sleep 100000\n")
        result = self.armctl("logs", "quiet", "nosuch", check=3)
        self.assertIn("nosuch: unknown service", result.stderr)
        self.assertEqual(self.logs_json("quiet"), [])

    def test_stderr_merged_into_stdout_keeps_the_order_written(self):
        self.serve("merged", """
            echo one; echo two >&2; echo three; echo four >&2
            exec sleep 100000
            """, extra='stderr = "stdout"')
        lines = self.wait_for_lines("merged", 4)
        self.assertEqual([(line["stream"], line["text"]) for line in lines],
                         [("stdout", "one"), ("stdout", "two"), ("stdout", "three"),
                          ("stdout", "four")])

    def test_a_one_megabyte_line_comes_in_marked_pieces_that_join_to_the_line(self):
        # Not a repeated byte: the pieces must join in order.
        self.serve("long", """
            awk 'BEGIN { for (i = 0; i < 1048576; i++) printf "%c", 97 + (i * 7) % 26; print "" }'
            echo after
            exec sleep 100000
            """, extra='log_buffer = "4MiB"')
        expected = "".join(chr(97 + (i * 7) % 26) for i in range(1048576))

        def complete():
            lines = self.logs_json("long", "-n", "1000")
            return lines if lines and lines[-1]["text"] == "after" else None

        lines = wait_for(complete, "the long line and the one after it")[:-1]
        self.assertGreater(len(lines), 1)
        self.assertTrue(all(line["continues"] for line in lines[:-1]))
        self.assertFalse(lines[-1]["continues"])
        self.assertEqual("".join(line["text"] for line in lines), expected)
        # In text, a piece the next line continues ends with a backslash.
        text = self.armctl("logs", "long", "-n", "1000", check=0).stdout.splitlines()
        self.assertTrue(all(line.endswith("\\") for line in text[:-2]))
        self.assertFalse(text[-2].endswith("\\"))

    def test_invalid_utf8_survives_as_bytes_and_json_stays_valid(self):
        raw = b"bad \xff\xfe and \xc3( here"
        self.serve("bytes", r"""
            printf 'bad \377\376 and \303( here\n'
            exec sleep 100000
            """)
        (line,) = self.wait_for_lines("bytes", 1)  # json.loads succeeded: valid JSON
        self.assertEqual(base64.b64decode(line["base64"]), raw)
        self.assertEqual(line["text"], raw.decode("utf-8", errors="replace"))
        printed = subprocess.run([ARMCTL, "--socket", self.socket, "logs", "bytes"],
                                 capture_output=True, timeout=DEADLINE, check=True).stdout
        self.assertTrue(printed.endswith(b" stdout " + raw + b"\n"), printed)

    def test_several_services_interleave_by_time_with_their_names_in_front(self):
        ping = self.script("ping.sh", """
            for i in 1 2 3; do echo "ping $i"; sleep 0.2; done
            exec sleep 100000
            """)
        pong = self.script("pong.sh", """
            sleep 0.1
            for i in 1 2 3; do echo "pong $i"; sleep 0.2; done
            exec sleep 100000
            """)
        self.write_config(f"""
            [services.ping]
            binary = "{ping}"
            [services.pong]
            binary = "{pong}"
            """)
        self.start_armd()
        self.armctl("start", "ping", "pong", check=0)
        wait_for(lambda: len(self.logs_json("ping", "pong", "-n", "6")) == 6, "six lines")
        lines = self.logs_json("ping", "pong", "-n", "6")
        self.assertEqual([line["time"] for line in lines], sorted(line["time"] for line in lines))
        self.assertEqual({line["service"] for line in lines}, {"ping", "pong"})
        text = self.armctl("logs", "ping", "pong", "-n", "6", check=0).stdout.splitlines()
        self.assertEqual([line.split(" ")[0] for line in text],
                         [line["service"] for line in lines])

    def test_follow_prints_new_lines_as_they_come(self):
        go = os.path.join(self.dir, "go")
        self.serve("later", f"""
            echo before
            while [ ! -e {go} ]; do sleep 0.05; done
            echo after
            exec sleep 100000
            """)
        self.wait_for_lines("later", 1)
        follower = subprocess.Popen([ARMCTL, "--socket", self.socket, "logs", "later", "-f",
                                     "-n", "1"], stdout=subprocess.PIPE)
        try:
            got = b""
            end = time.monotonic() + DEADLINE
            while b"after\n" not in got and time.monotonic() < end:
                if b"before\n" in got and not os.path.exists(go):
                    open(go, "w").close()
                ready, _, _ = select.select([follower.stdout], [], [], 0.1)
                if ready:
                    got += os.read(follower.stdout.fileno(), 65536)
            lines = got.decode().splitlines()
            self.assertEqual([line.split(" ", 2)[2] for line in lines], ["before", "after"])
        finally:
            follower.kill()
            follower.wait()
            follower.stdout.close()

    def test_a_stalled_follower_slows_nothing_and_is_told_what_it_missed(self):
        total = 200000
        go = os.path.join(self.dir, "go")
        done = os.path.join(self.dir, "done")
        self.serve("counter", f"""
            while [ ! -e {go} ]; do sleep 0.05; done
            awk 'BEGIN {{ for (i = 1; i <= {total}; i++) print "n " i }}'
            touch {done}
            exec sleep 100000
            """)
        with self.connect() as follower:
            follower.read_line()  # hello
            follower.request(id=7, method="logs", services=["counter"], lines=0, follow=True)
            first = follower.read_line()
            self.assertEqual((first["ok"], first["following"], first["lines"]), (True, True, []))
            # Not reading from here on while the service writes far more than armd keeps.
            open(go, "w").close()
            wait_for(lambda: os.path.exists(done), "the service to write everything, unslowed")
            # armd may still be reading what is in the pipe (a busy pipe is made 1 MiB): the
            # last line reaches the ring soon after.
            wait_for(lambda: [line["text"] for line in self.logs_json("counter", "-n", "1")]
                     == [f"n {total}"], "armd to read the service's last line")
            # The ring holds an unbroken window of the newest lines.
            window = self.logs_json("counter", "-n", "100000")
            self.assertEqual(window[-1]["text"], f"n {total}")
            self.assertEqual([line["seq"] for line in window],
                             list(range(window[0]["seq"], total + 1)))
            self.assertTrue(all(line["text"] == f"n {line['seq']}" for line in window))
            # Reading again: every line is either received, in order, or counted in a gap.
            expected, gaps = 1, 0
            while expected <= total:
                event = follower.read_line()
                self.assertEqual(event["id"], 7)
                if event["event"] == "gap":
                    self.assertEqual(event["service"], "counter")
                    self.assertGreater(event["missed"], 0)
                    expected += event["missed"]
                    gaps += 1
                    continue
                self.assertEqual(event["event"], "lines")
                for line in event["lines"]:
                    self.assertEqual(line["seq"], expected)
                    self.assertEqual(line["text"], f"n {expected}")
                    expected += 1
            self.assertEqual(expected, total + 1)
            self.assertGreater(gaps, 0)
        self.assertNotIn("disconnecting", self.log())

    def test_a_crash_shows_the_last_lines_in_status_json_and_armd_log(self):
        self.serve("crasher", """
            i=1
            while [ $i -le 30 ]; do echo "step $i"; i=$((i+1)); done
            echo "fatal: out of cheese" >&2
            exit 1
            """, extra="crash_context_lines = 5")
        crashed = self.wait_state("crasher", "failed")
        tail = crashed["last_exit"]["output_tail"]
        self.assertEqual(crashed["last_exit"]["code"], 1)
        self.assertEqual(len(tail), 5)
        self.assertIn("fatal: out of cheese", [line["text"] for line in tail])
        self.assertIn("step 30", [line["text"] for line in tail])
        table = self.armctl("status", "crasher", check=0).stdout
        self.assertIn("crasher: last output before its exit (code 1):", table)
        self.assertIn("stderr fatal: out of cheese", table)
        log = self.log()
        self.assertIn("crasher: exited (exit code 1); its last 5 lines of output:", log)
        self.assertIn("crasher: | fatal: out of cheese", log)

    def test_a_log_file_that_cannot_be_opened_drops_lines_counts_them_and_recovers(self):
        # Its directory is missing at first: "early" cannot go to the file (the ring keeps it);
        # once the directory exists, "late" does, and armd's log says how many were dropped.
        ready = os.path.join(self.dir, "ready")
        self.serve("recovers", f"""
            echo early
            while [ ! -e {ready} ]; do sleep 0.05; done
            echo late
            exec sleep 100000
            """, extra='log_file = "later/recovers.log"')
        wait_for(lambda: "cannot open its log_file" in self.log(), "the open failure logged")
        os.mkdir(os.path.join(self.dir, "later"))
        open(ready, "w").close()
        path = os.path.join(self.dir, "later", "recovers.log")
        wait_for(lambda: os.path.exists(path) and open(path, "rb").read().endswith(
            b" stdout late\n"), "the late line in the log file")
        with open(path, "rb") as f:
            self.assertNotIn(b"early", f.read())
        wait_for(lambda: "works again; 1 line could not be written to it" in self.log(),
                 "the recovery logged with the count")
        self.assertEqual([line["text"] for line in self.wait_for_lines("recovers", 2)],
                         ["early", "late"])

    def test_log_file_is_rotated_by_rename_keeping_log_max_files(self):
        # 400 lines of 60 bytes (about 24 KiB) through 4 KiB files, 2 kept besides the current.
        self.serve("rotated", """
            awk 'BEGIN { for (i = 1; i <= 400; i++) printf "line %05d %s\\n", i, sprintf("%40s", "") }'
            echo last
            exec sleep 100000
            """, extra='log_file = "rotated.log"\nlog_max_size = "4KiB"\nlog_max_files = 2')
        path = os.path.join(self.dir, "rotated.log")

        def finished():
            try:
                with open(path, "rb") as f:
                    return f.read().endswith(b" stdout last\n")
            except FileNotFoundError:
                return False

        wait_for(finished, "the last line in the log file")
        self.assertTrue(os.path.exists(path + ".1"))
        self.assertTrue(os.path.exists(path + ".2"))
        self.assertFalse(os.path.exists(path + ".3"))
        contents = b""
        for name in (path + ".2", path + ".1", path):
            self.assertLessEqual(os.path.getsize(name), 4096)
            with open(name, "rb") as f:
                contents += f.read()
        lines = contents.decode().splitlines()
        self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT\S+Z stdout line \d{5} +$")
        numbers = [int(line.split()[3]) for line in lines[:-1]]
        # The newest lines, unbroken, oldest file first.
        self.assertEqual(numbers, list(range(numbers[0], 401)))
        self.assertGreater(numbers[0], 1)

    def test_log_dir_gives_each_service_a_log_file_unless_it_opts_out(self):
        # Relative to the configuration file, like other paths.
        os.mkdir(os.path.join(self.dir, "logs"))
        talker = self.script("talker.sh", "echo said by $0; exec sleep 100000\n")
        self.write_config(f"""
            [arm]
            log_dir = "logs"

            [services.plain]
            binary = "{talker}"
            restart = "never"

            [services.own]
            binary = "{talker}"
            restart = "never"
            log_file = "own.log"

            [services.none]
            binary = "{talker}"
            restart = "never"
            log_file = false
            """)
        self.start_armd()
        self.armctl("start", "plain", "own", "none", check=0)
        for name in ("plain", "own", "none"):
            self.wait_for_lines(name, 1)
        plain = os.path.join(self.dir, "logs", "plain.log")
        own = os.path.join(self.dir, "own.log")

        def contents(path):
            try:
                with open(path) as f:
                    return f.read()
            except FileNotFoundError:
                return ""

        wait_for(lambda: contents(plain).endswith(f"stdout said by {talker}\n"), "plain.log")
        wait_for(lambda: contents(own).endswith(f"stdout said by {talker}\n"), "own.log")
        self.assertEqual(sorted(os.listdir(os.path.join(self.dir, "logs"))), ["plain.log"])

    def test_since_leaves_out_lines_stamped_before_it(self):
        trigger = os.path.join(self.dir, "go")
        self.serve("clock", f"""
            echo early
            while [ ! -e {trigger} ]; do sleep 0.01; done
            echo late
            exec sleep 100000
            """)
        self.wait_for_lines("clock", 1)
        time.sleep(0.05)  # so the two lines cannot share a millisecond stamp
        open(trigger, "w").close()
        early, late = self.wait_for_lines("clock", 2)
        self.assertEqual((early["text"], late["text"]), ("early", "late"))

        def texts(*args):
            return [line["text"] for line in self.logs_json("clock", *args)]

        self.assertEqual(texts("--since", late["time"]), ["late"])
        self.assertEqual(texts("--since", early["time"]), ["early", "late"])
        self.assertEqual(texts("--since", "1h"), ["early", "late"])
        self.assertEqual(texts("--since", "2000-01-01T00:00:00+02:00"), ["early", "late"])
        self.assertEqual(texts("--since", "2999-01-01T00:00:00Z"), [])
        # -n still counts from the newest.
        self.assertEqual(texts("--since", "1h", "-n", "1"), ["late"])

        result = self.armctl("logs", "clock", "--since", "yesterday", check=2)
        self.assertIn("--since 'yesterday': expected an RFC 3339 time", result.stderr)
        with self.connect() as conn:
            conn.read_line()  # hello
            conn.request(id=7, method="logs", services=["clock"], since="10m")
            error = conn.read_line()
            self.assertEqual((error["id"], error["ok"], error["outcome"]), (7, False, "bad_request"))
            self.assertIn('"since" must be an RFC 3339 time', error["message"])

    def test_log_overflow_drop_drops_and_counts_what_a_stalled_fifo_cannot_take(self):
        # A log shipper that stopped reading: its FIFO is open, nobody reads it. The service
        # writes about 375 KiB, far more than a FIFO holds (64 KiB).
        fifo = os.path.join(self.dir, "shipper.fifo")
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, reader)
        trigger = os.path.join(self.dir, "go")
        self.serve("chatty", f"""
            awk 'BEGIN {{ for (i = 1; i <= 3000; i++) printf "line %05d %s\\n", i, sprintf("%100s", "") }}'
            while [ ! -e {trigger} ]; do sleep 0.01; done
            echo last
            exec sleep 100000
            """, extra=f'log_file = "{fifo}"\nlog_overflow = "drop"\nlog_buffer = "1MiB"')
        # armd did not wait for the FIFO: every line is in the ring, and it answers.
        lines = self.wait_for_lines("chatty", 3000)
        self.assertEqual([line["text"].split()[1] for line in lines],
                         [f"{i:05d}" for i in range(1, 3001)])
        dropped = self.status("chatty")["output_dropped"]
        self.assertGreater(dropped, 0)
        self.assertIn(f"chatty: {dropped} lines dropped from its log file (log_overflow = \"drop\")",
                      self.armctl("status", "chatty", check=0).stdout)
        wait_for(lambda: "does not keep up; lines it cannot take at once are dropped" in self.log(),
                 "armd's log to say it drops lines")

        # The shipper reads again; the next line goes through, and no line in the FIFO is torn.
        received = b""

        def read_until_last():
            nonlocal received
            try:
                while True:
                    chunk = os.read(reader, 65536)
                    if not chunk:
                        break
                    received += chunk
            except BlockingIOError:
                pass
            if not os.path.exists(trigger):
                open(trigger, "w").close()
            return received.endswith(b" stdout last\n")

        wait_for(read_until_last, "the line after the drops through the FIFO")
        text = received.decode().splitlines()
        self.assertRegex(text[-1], r"^\d{4}-\d\d-\d\dT\S+Z stdout last$")
        numbers = []
        for line in text[:-1]:
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\S+Z stdout line \d{5} {101}$")
            numbers.append(int(line.split()[3]))
        self.assertEqual(numbers, sorted(numbers))
        self.assertEqual(len(numbers) + dropped, 3000)
        wait_for(lambda: f"takes lines again; {dropped} lines dropped from it" in self.log(),
                 "armd's log to say how many lines were dropped")

    def test_a_service_that_never_wrote_has_an_empty_tail(self):
        self.serve("silent", "exit 2\n")
        self.assertEqual(self.wait_state("silent", "failed")["last_exit"]["output_tail"], [])


if __name__ == "__main__":
    unittest.main()
