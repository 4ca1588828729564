"""What armd holds per service: its resident memory with a few hundred services running and with
two thousand more, real processes, in both containment modes. Issue 9 asks for at most 1 KiB per
added service; this test guards what has been reached (docs/performance.md, "Issue 9, again"),
so that a record, a map or a retained buffer that grows with the services shows up here."""

import os
import shutil
import signal
import time
import unittest

from harness import DEADLINE, ArmdTestCase, rss_kib, wait_for
from test_containment import cgroup_usable

FEW, MANY = 200, 2200
# Measured per added service at 200 -> 2,200, status polled as below, after issue 9's fourth
# round: 879-903 bytes (process groups) and 961-985 (cgroups; once 719) with the settings shared
# and the options packed, 641-946 once the binary was interned too; 1,094-1,335 before it, in the
# same session. 1,298-1,389 after the third round; 1,900 and 1,840 before the second.
# With the specs copied into the supervisor, not moved (2026-12-03): 934-979 (process groups),
# 788-975 (cgroups); the benchmark's 1,000 -> 10,000: 783. The bound keeps room for other hosts.
BYTES_PER_ADDED_SERVICE = 1152


class MemoryPerService(ArmdTestCase):
    def running_armd_rss_kib(self, services, cgroup):
        """armd's RSS once `services` sleepers, all default services, run."""
        sleep = shutil.which("sleep")
        names = ", ".join(f'"s{i}"' for i in range(services))
        text = f'[arm]\ndefault_services = [{names}]\ncgroup = "{cgroup}"\n'
        text += "".join(f'[services.s{i}]\nbinary = "{sleep}"\noptions = ["100000"]\n'
                        for i in range(services))
        self.write_config(text)
        # armd spawns its default services before it serves: thousands take a while on a
        # loaded machine.
        self.start_armd(wait=False)
        wait_for(self._answers_hello, "armd to accept connections", deadline=10 * DEADLINE)
        wait_for(lambda: sum(s["state"] == "running" for s in self.status().values()) == services,
                 f"{services} services to run", deadline=10 * DEADLINE)
        time.sleep(0.5)  # the last replies and log lines written out
        return rss_kib(self.armd.pid)

    def stop_armd(self):
        self.armd.send_signal(signal.SIGTERM)
        self.armd.wait(timeout=10 * DEADLINE)
        self._log.close()
        self.armd = None

    def check_bytes_per_added_service(self, cgroup):
        few = self.running_armd_rss_kib(FEW, cgroup)
        self.stop_armd()
        many = self.running_armd_rss_kib(MANY, cgroup)
        per_service = (many - few) * 1024 / (MANY - FEW)
        self.assertLess(per_service, BYTES_PER_ADDED_SERVICE,
                        f"armd's RSS: {few} KiB with {FEW} services, {many} KiB with {MANY}")

    # Under AddressSanitizer, shadow memory and quarantine hold what armd frees on purpose.
    @unittest.skipIf(os.environ.get("ARM_SANITIZED"), "RSS means nothing under AddressSanitizer")
    def test_memory_per_added_service_with_process_groups(self):
        self.check_bytes_per_added_service("off")

    @unittest.skipIf(os.environ.get("ARM_SANITIZED"), "RSS means nothing under AddressSanitizer")
    @unittest.skipUnless(cgroup_usable(), "needs a writable cgroup v2 (root on the CI machines)")
    def test_memory_per_added_service_with_cgroups(self):
        self.check_bytes_per_added_service("auto")


if __name__ == "__main__":
    unittest.main()
