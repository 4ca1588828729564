"""The event stream (issue 13): the `subscribe` method and `armctl monitor`, on the real armd."""

import os
import select
import signal
import subprocess
import time
import unittest

from harness import ARMCTL, DEADLINE, ArmdTestCase, rss_kib, wait_for

# A service that writes this much before each crash makes exit events of about 60 KiB (their
# output_tail), so a few dozen crashes overflow what armd keeps for a subscriber.
FAT_LINES = 20
FAT_LINE_BYTES = 2900


class Monitor(ArmdTestCase):
    def subscribe(self, connection, request_id=1, services=None):
        """Subscribes on `connection` (hello read first); returns the answer, the snapshot."""
        connection.read_line()  # hello
        fields = {"id": request_id, "method": "subscribe"}
        if services is not None:
            fields["services"] = services
        connection.request(**fields)
        return connection.read_line()

    def read_events_until(self, connection, done):
        """Events until one for which done(event) holds, that one included."""
        events = []
        while True:
            event = connection.read_line()
            events.append(event)
            if done(event):
                return events

    def assert_numbered_from(self, events, first):
        self.assertEqual([event["seq"] for event in events],
                         list(range(first, first + len(events))), events)

    def crash_once_script(self):
        """Exits with 3 on its first run, then runs."""
        marker = os.path.join(self.dir, "crashed-once")
        return self.script("crash_once.sh", f"""
            if [ ! -e {marker} ]; then touch {marker}; exit 3; fi
            exec sleep 100000
            """)

    def fat_crasher(self, crashes):
        """Writes FAT_LINES long lines, then crashes; runs for good after `crashes` crashes."""
        count = os.path.join(self.dir, "runs")
        return self.script("fat_crasher.sh", f"""
            n=$(cat {count} 2>/dev/null || echo 0)
            n=$((n + 1))
            echo $n > {count}
            awk 'BEGIN {{ for (i = 0; i < {FAT_LINES}; i++) {{ s = sprintf("%{FAT_LINE_BYTES}d", i); print s }} }}'
            if [ $n -le {crashes} ]; then exit 1; fi
            exec sleep 100000
            """)

    def test_the_snapshot_comes_first_then_every_change_numbered_in_order(self):
        self.write_config(f"""
            [services.web]
            binary = "{self.crash_once_script()}"
            backoff_initial = "50ms"
            [services.other]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        with self.connect() as conn:
            snapshot = self.subscribe(conn, request_id=9)
            self.assertEqual((snapshot["id"], snapshot["ok"], snapshot["outcome"]),
                             (9, True, "subscribed"))
            services = {service["name"]: service for service in snapshot["services"]}
            self.assertEqual(set(services), {"web", "other"})
            # The same fields as status.
            self.assertEqual(set(services["web"]), set(self.status("web")))
            self.assertEqual(services["web"]["state"], "stopped")

            # Start: it crashes at once (exit 3), backs off, starts again and runs.
            self.armctl("start", "web")
            states = []

            def running_again(event):
                states.append(event.get("state"))
                return event.get("state") == "running" and "backoff" in states

            events = self.read_events_until(conn, running_again)
            self.assert_numbered_from(events, 1)
            self.assertTrue(all(event["id"] == 9 and event["service"] == "web" for event in events))
            kinds = [(e["event"], e.get("previous"), e.get("state")) for e in events]
            self.assertEqual(kinds, [
                ("state", "stopped", "starting"), ("state", "starting", "running"),
                ("exit", None, None), ("state", "running", "backoff"),
                ("state", "backoff", "starting"), ("state", "starting", "running")])
            first_pid = events[1]["pid"]
            self.assertIsInstance(first_pid, int)
            crash = events[2]
            self.assertEqual(crash["pid"], first_pid)
            self.assertEqual((crash["last_exit"]["code"], crash["last_exit"]["signal"]), (3, None))
            self.assertIn("output_tail", crash["last_exit"])
            self.assertIsNone(events[3]["pid"])
            self.assertIn("exit", events[3]["detail"])
            self.assertNotEqual(events[5]["pid"], first_pid)

            # Stop: stopping, the exit armd asked for, stopped; numbering goes on.
            self.armctl("stop", "web", check=0)
            stop = self.read_events_until(
                conn, lambda e: e["event"] == "state" and e["state"] == "stopped")
            self.assert_numbered_from(stop, len(events) + 1)
            self.assertEqual([(e["event"], e.get("state")) for e in stop],
                             [("state", "stopping"), ("exit", None), ("state", "stopped")])
            self.assertEqual(stop[1]["pid"], events[5]["pid"])
            self.assertEqual(stop[1]["last_exit"]["signal"], signal.SIGTERM)

    def test_a_subscriber_of_one_service_sees_only_that_service(self):
        self.write_config(f"""
            [services.mine]
            binary = "{self.sleeper()}"
            [services.noise]
            binary = "{self.sleeper("noise.sh")}"
            """)
        self.start_armd()
        with self.connect() as conn:
            snapshot = self.subscribe(conn, services=["mine"])
            self.assertEqual([service["name"] for service in snapshot["services"]], ["mine"])
            self.armctl("start", "noise", check=0)
            self.armctl("start", "mine", check=0)
            events = self.read_events_until(conn, lambda e: e.get("state") == "running")
            self.assertEqual({event["service"] for event in events}, {"mine"})
            self.assert_numbered_from(events, 1)

    def test_unknown_names_are_refused_naming_them_with_a_suggestion(self):
        self.write_config(f"""
            [services.database]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        with self.connect() as conn:
            reply = self.subscribe(conn, services=["database", "databse", "nothing"])
            self.assertEqual((reply["ok"], reply["outcome"]), (False, "unknown_service"))
            self.assertEqual(reply["unknown"], ["databse", "nothing"])
            self.assertIn("database", reply["message"])  # did you mean
        result = self.armctl("monitor", "databse", check=3)
        self.assertIn("databse", result.stderr)
        self.assertIn("database", result.stderr)

    def test_unsubscribe_ends_the_stream_and_the_connection_serves_requests(self):
        self.write_config(f"""
            [services.web]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        with self.connect() as conn:
            self.subscribe(conn)
            conn.request(id=2, method="unsubscribe")
            self.assertEqual(conn.read_line(), {"id": 2, "ok": True, "outcome": "unsubscribed"})
            self.armctl("start", "web", check=0)
            conn.request(id=3, method="unsubscribe")
            reply = conn.read_line()  # no event came in between
            self.assertEqual((reply["id"], reply["ok"], reply["outcome"]),
                             (3, False, "not_subscribed"))

    def test_a_reload_sends_removed_and_added_and_subscriptions_go_on(self):
        sleeper = self.sleeper()
        self.write_config(f"""
            [services.keep]
            binary = "{sleeper}"
            [services.old]
            binary = "{sleeper}"
            """)
        self.start_armd()
        with self.connect() as every, self.connect() as only_old:
            self.subscribe(every)
            self.subscribe(only_old, services=["old"])
            self.write_config(f"""
                [services.keep]
                binary = "{sleeper}"
                [services.new]
                binary = "{sleeper}"
                """)
            self.armctl("reload", check=0)
            changes = self.read_events_until(
                every, lambda e: e["event"] == "added")
            self.assertEqual([(e["event"], e["service"]) for e in changes],
                             [("removed", "old"), ("added", "new")])
            self.assertEqual(changes[1]["status"]["name"], "new")
            self.assertEqual(changes[1]["status"]["state"], "stopped")
            self.assert_numbered_from(changes, 1)
            gone = only_old.read_line()
            self.assertEqual((gone["event"], gone["service"], gone["seq"]), ("removed", "old", 1))
            # The added service is followed like the others.
            self.armctl("start", "new", check=0)
            started = self.read_events_until(every, lambda e: e.get("state") == "running")
            self.assertEqual({event["service"] for event in started}, {"new"})
            self.assert_numbered_from(started, 3)

    def fat_crash_loop_config(self, crashes, extra=""):
        self.write_config(f"""
            [services.crasher]
            binary = "{self.fat_crasher(crashes)}"
            backoff_initial = "0"
            max_restarts = 1000000
            crash_context_lines = {FAT_LINES}
            """ + extra)

    def test_a_stalled_subscriber_is_told_what_it_missed_with_a_gap_marker(self):
        crashes = 60
        self.fat_crash_loop_config(crashes)
        self.start_armd()
        with self.connect() as stalled:
            self.subscribe(stalled)
            # Not reading while the service crashes `crashes` times, about 60 KiB each.
            self.armctl("start", "crasher")
            wait_for(lambda: self.status("crasher")["restarts"] == crashes and
                     self.status("crasher")["state"] == "running", "the crash loop to end")
            self.armctl("stop", "crasher", check=0)
            # Reading again: every event is received in order, or counted in a gap.
            expected, gaps, exits = 1, 0, 0
            while True:
                event = stalled.read_line()
                if event["event"] == "gap":
                    self.assertGreater(event["missed"], 0)
                    expected += event["missed"]
                    gaps += 1
                    continue
                self.assertEqual(event["seq"], expected)
                expected += 1
                exits += event["event"] == "exit"
                if event["event"] == "state" and event["state"] == "stopped":
                    break
            self.assertGreater(gaps, 0)
            self.assertLess(exits, crashes)
            # Four events per crash, two to start and three to stop: none was lost uncounted.
            self.assertEqual(expected - 1, 4 * crashes + 2 + 3)
        self.assertNotIn("disconnecting", self.log())

    def test_a_subscriber_with_a_backlog_still_gets_a_reply_larger_than_the_output_limit(self):
        # `chatty`'s status carries 100 lines of 15,000 bytes (1.5 MB; the limit of what may
        # wait behind the reply being sent is 1 MiB); `crasher` fills the subscriber's backlog.
        crashes = 30
        chatty = self.script("chatty.sh", """
            awk 'BEGIN { for (j = 0; j < 1500; j++) s = s "0123456789"
                         for (i = 0; i < 100; i++) print s }'
            """)
        self.fat_crash_loop_config(crashes, extra=f"""
            [services.chatty]
            binary = "{chatty}"
            restart = "never"
            crash_context_lines = 100
            log_buffer = "4MiB"
            """)
        self.start_armd()
        self.armctl("start", "chatty")
        wait_for(lambda: len(self.armctl("status", "chatty", json_output=True).stdout) > 1 << 20,
                 "chatty's status to hold its 100 lines")
        with self.connect() as stalled:
            self.assertEqual(self.subscribe(stalled, services=["crasher"])["outcome"],
                             "subscribed")
            self.armctl("start", "crasher")
            wait_for(lambda: self.status("crasher")["restarts"] == crashes and
                     self.status("crasher")["state"] == "running", "the crash loop to end")
            stalled.request(id="big", method="status", services=["chatty"])
            line = stalled.read_line()
            while line.get("id") != "big":  # the events ahead of it
                line = stalled.read_line()
            self.assertTrue(line["ok"])
            self.assertEqual(len(line["services"][0]["last_exit"]["output_tail"]), 100)
        self.assertNotIn("disconnecting", self.log())

    @unittest.skipIf(os.environ.get("ARM_SANITIZED"), "RSS means nothing under AddressSanitizer")
    def test_a_stalled_subscriber_costs_armd_bounded_memory(self):
        crashes = 400  # about 24 MiB of events
        self.fat_crash_loop_config(crashes)
        self.start_armd()
        with self.connect() as stalled:
            self.assertEqual(self.subscribe(stalled)["outcome"], "subscribed")
            # Some crashes first, so the bound is filled and the heap has its working size.
            self.armctl("start", "crasher")
            wait_for(lambda: self.status("crasher")["restarts"] >= 40, "the first crashes")
            before = rss_kib(self.armd.pid)
            wait_for(lambda: self.status("crasher")["restarts"] == crashes and
                     self.status("crasher")["state"] == "running", "the crash loop to end",
                     deadline=3 * DEADLINE)
            after = rss_kib(self.armd.pid)
            # What armd holds for the subscriber: 256 KiB queued, 64 KiB in its output buffer.
            self.assertLess(after - before, 2048, f"RSS {before} KiB -> {after} KiB")

    def test_armctl_monitor_prints_the_snapshot_then_start_and_stop(self):
        self.write_config(f"""
            [services.web]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        monitor = subprocess.Popen([ARMCTL, "--socket", self.socket, "monitor"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            got = b""

            def lines_until(text):
                nonlocal got
                end = time.monotonic() + DEADLINE
                while text not in got and time.monotonic() < end:
                    ready, _, _ = select.select([monitor.stdout], [], [], 0.1)
                    if ready:
                        got += os.read(monitor.stdout.fileno(), 65536)
                self.assertIn(text, got)

            lines_until(b" web stopped\n")
            self.armctl("start", "web", check=0)
            self.armctl("stop", "web", check=0)
            lines_until(b"stopping -> stopped")
            lines = got.decode().splitlines()
            stamp = r"\d\d:\d\d:\d\d\.\d{3}"
            patterns = [rf"{stamp} web stopped", rf"{stamp} web stopped -> starting",
                        rf"{stamp} web starting -> running", rf"{stamp} web running -> stopping",
                        rf"{stamp} web exited \(signal 15, pid \d+\)",
                        rf"{stamp} web stopping -> stopped"]
            self.assertEqual(len(lines), len(patterns), lines)
            for line, pattern in zip(lines, patterns):
                self.assertRegex(line, f"^{pattern}")
            # armd shuts down: monitor ends with it, successfully.
            self.armctl("shutdown", check=0)
            self.assertEqual(monitor.wait(timeout=DEADLINE), 0)
            self.assertEqual(monitor.stderr.read(), b"")
        finally:
            if monitor.poll() is None:
                monitor.kill()
                monitor.wait()
            monitor.stdout.close()
            monitor.stderr.close()

    def test_armctl_monitor_json_passes_lines_through_and_ctrl_c_ends_it_quietly(self):
        self.write_config(f"""
            [services.web]
            binary = "{self.sleeper()}"
            """)
        self.start_armd()
        monitor = subprocess.Popen([ARMCTL, "--socket", self.socket, "monitor", "web", "--json"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = monitor.stdout.readline()
            self.assertRegex(first, rb'^\{"id":1,"ok":true,"outcome":"subscribed",'
                                    rb'"services":\[\{"name":"web","state":"stopped",')
            self.armctl("start", "web", check=0)
            self.assertRegex(monitor.stdout.readline(),
                             rb'^\{"id":1,"event":"state","seq":1,"service":"web",'
                             rb'"previous":"stopped","state":"starting"')
            monitor.send_signal(signal.SIGINT)
            self.assertEqual(monitor.wait(timeout=DEADLINE), 0)
            self.assertEqual(monitor.stderr.read(), b"")
        finally:
            if monitor.poll() is None:
                monitor.kill()
                monitor.wait()
            monitor.stdout.close()
            monitor.stderr.close()


if __name__ == "__main__":
    unittest.main()
