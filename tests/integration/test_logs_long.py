"""Issue 12's no-loss check at full size (the `long` suite): a service writes 200 MB of
sequence-numbered lines while a `logs -f` follower is stalled, then resumed. The log file holds
every line in order (block mode, the default); the follower gets every line it did not miss, in
order, and gap markers that count exactly the ones it did; the service is never slowed by it."""

import glob
import os
import unittest

from harness import ArmdTestCase, wait_for

LINE = 100  # bytes, newline included
TOTAL = int(os.environ.get("LOGS_LONG_BYTES", 200 * 1000 * 1000)) // LINE
DEADLINE = 600.0  # 200 MB through armd takes seconds unloaded; generous on a shared machine


class LongNoLoss(ArmdTestCase):
    def test_200_mb_through_a_stalled_then_resumed_follower_lose_nothing(self):
        go = os.path.join(self.dir, "go")
        done = os.path.join(self.dir, "done")
        log_file = os.path.join(self.dir, "big.log")
        # "n 0000001" and then padding: the number, the line made LINE bytes long.
        script = self.script("big.sh", f"""
            while [ ! -e {go} ]; do sleep 0.05; done
            awk 'BEGIN {{ pad = sprintf("%{LINE - 11}s", ""); gsub(/ /, "x", pad)
                         for (i = 1; i <= {TOTAL}; i++) printf "n %07d %s\\n", i, pad }}'
            touch {done}
            exec sleep 100000
            """)
        self.write_config(f"""
            [services.big]
            binary = "{script}"
            restart = "never"
            log_file = "{log_file}"
            log_max_size = "64MiB"
            log_max_files = 20
            """)
        self.start_armd()
        self.armctl("start", "big", check=0)
        with self.connect() as follower:
            follower.sock.settimeout(DEADLINE)
            follower.read_line()  # hello
            follower.request(id=1, method="logs", services=["big"], lines=0, follow=True)
            self.assertEqual(follower.read_line()["lines"], [])
            open(go, "w").close()  # and the follower does not read
            wait_for(lambda: os.path.exists(done), "the service to write 200 MB, not slowed by "
                     "the stalled follower", deadline=DEADLINE)

            expected, missed = 1, 0
            while expected <= TOTAL:
                event = follower.read_line()
                if event["event"] == "gap":
                    self.assertEqual(event["service"], "big")
                    self.assertGreater(event["missed"], 0)
                    expected += event["missed"]
                    missed += event["missed"]
                    continue
                for line in event["lines"]:
                    self.assertEqual(line["seq"], expected)
                    self.assertEqual(line["text"][:9], f"n {expected:07d}")
                    expected += 1
            self.assertEqual(expected, TOTAL + 1)
            self.assertGreater(missed, 0)

        # Every line in the files, in order, once.
        paths = sorted(glob.glob(log_file + ".*"), key=lambda p: -int(p.rsplit(".", 1)[1]))
        number = 0
        for path in paths + [log_file]:
            with open(path, "rb") as f:
                for line in f:
                    number += 1
                    text = line.split(b" ", 2)[2]
                    self.assertEqual(len(text), LINE, path)
                    self.assertEqual(int(text[2:9]), number, path)
        self.assertEqual(number, TOTAL)
        self.assertNotIn("disconnecting", self.log())


if __name__ == "__main__":
    unittest.main()
