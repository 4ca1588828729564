"""Chaos and load against the real armd. CHAOS_SCALE=long for the long variant.

Each test bounds its own time with generous deadlines; none asserts a duration.
"""

import json
import os
import random
import resource
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import (ArmdTestCase, Connection, children_of, own_cgroup_directory,  # noqa: E402
                     pid_alive, rss_kib, tagged_processes, wait_for)

LONG = os.environ.get("CHAOS_SCALE") == "long"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """A protocol connection that numbers its requests and checks every reply's id."""

    def __init__(self, path):
        self.conn = Connection(path)
        assert self.conn.read_line()["hello"] == "armd"
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.conn.request(id=self.next_id, method=method, **params)
        reply = self.conn.read_line()
        assert reply["id"] == self.next_id, (reply, self.next_id)
        return reply

    def close(self):
        self.conn.sock.close()


class Chaos(ArmdTestCase):
    def configure(self, count, extra="", binary=None):
        sleeper = binary or self.sleeper()
        lines = [f'[arm]\ndefault_services = [{", ".join(f"{chr(34)}s{i}{chr(34)}" for i in range(count))}]\n']
        for i in range(count):
            lines.append(f'[services.s{i}]\nbinary = "{sleeper}"\nbackoff_initial = "1ms"\n'
                         f'backoff_max = "20ms"\nmax_restarts = "unlimited"\n{extra}\n')
        for i in range(10):
            lines.append(f'[services.extra{i}]\nbinary = "{sleeper}"\n')
        self.write_config("".join(lines))

    def running(self):
        return {name: s for name, s in self.status().items() if s["state"] == "running"}

    def test_services_survive_a_storm_of_sigkills_while_clients_work(self):
        count, kills = (200, 2000) if LONG else (50, 300)
        self.configure(count)
        self.start_armd()
        wait_for(lambda: len(self.running()) >= count, f"{count} services running", 120)
        rss_before = rss_kib(self.armd.pid)
        rng = random.Random(42)
        stop = threading.Event()
        answered = []
        errors = []

        def client_work(seed):
            local = random.Random(seed)
            client = Client(self.socket)
            try:
                while not stop.is_set():
                    name = f"extra{local.randrange(10)}"
                    method = local.choice(["start", "stop", "status"])
                    reply = (client.call(method, service=name) if method != "status"
                             else client.call("status"))
                    answered.append(reply)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(repr(error))
            finally:
                client.close()

        workers = [threading.Thread(target=client_work, args=(i,)) for i in range(4)]
        for worker in workers:
            worker.start()
        killed = 0
        client = Client(self.socket)
        deadline = time.monotonic() + (600 if LONG else 120)
        while killed < kills and time.monotonic() < deadline:
            services = client.call("status")["services"]
            pids = [s["pid"] for s in services
                    if s["name"].startswith("s") and s["state"] == "running"]
            for pid in rng.sample(pids, min(len(pids), 10)):
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.005)
        client.close()
        stop.set()
        for worker in workers:
            worker.join(60)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(killed, kills)
        self.assertGreater(len(answered), 0)
        self.assertTrue(all("ok" in reply for reply in answered))

        wait_for(lambda: all(self.status(f"s{i}")["state"] == "running" for i in range(count)),
                 "every default service running again", 120)
        zombies = [pid for pid, state in children_of(self.armd.pid) if state == "Z"]
        wait_for(lambda: not [p for p, s in children_of(self.armd.pid) if s == "Z"],
                 f"no zombies (saw {zombies})")
        growth = rss_kib(self.armd.pid) - rss_before
        if not os.environ.get("ARM_SANITIZED"):  # ASan's quarantine holds freed memory on purpose
            self.assertLess(growth, 4096, f"armd's RSS grew by {growth} KiB")
        print(f"\nkills survived: {killed}; client replies: {len(answered)}; "
              f"RSS growth: {growth} KiB", file=sys.stderr)

    def service_processes(self):
        """Live processes of this test's services: every `sleep 100000` carrying its tag."""
        found = []
        for pid in tagged_processes(self.dir):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[:2] == [b"sleep", b"100000"] and pid_alive(pid):
                        found.append(pid)
            except FileNotFoundError:
                pass
        return set(found)

    def test_a_sigkilled_armd_leaves_no_second_copy_of_anything_once_restarted(self):
        directory = own_cgroup_directory()
        if not directory or not os.access(os.path.join(directory, "cgroup.procs"), os.W_OK):
            self.skipTest("needs a writable cgroup v2: in process-group mode a service's "
                          "children outlive a SIGKILLed armd (documented)")
        count = 60 if LONG else 30
        # Each service is two processes: a main process and a child it started.
        forker = self.script("forker.sh", "sleep 100000 &\nexec sleep 100000\n")
        self.configure(count, binary=forker)
        self.start_armd()
        wait_for(lambda: len(self.running()) >= count, f"{count} services running", 120)
        # Mid-run: crashes are being handled (restarts in flight) when armd itself is killed.
        rng = random.Random(7)
        for service in rng.sample(list(self.running().values()), count // 3):
            os.kill(service["pid"], signal.SIGKILL)
        self.armd.send_signal(signal.SIGKILL)
        self.armd.wait()
        self._log.close()
        first_generation = self.service_processes()
        self.start_armd()
        wait_for(lambda: len(self.running()) >= count, f"{count} services running again", 120)
        # Nothing of the first generation survives the new armd's start ...
        survivors = [pid for pid in first_generation if pid_alive(pid)]
        self.assertEqual(survivors, [])
        # ... and the new one supervises exactly one copy of each service: its main process
        # and its child, nothing else.
        wait_for(lambda: len(self.service_processes()) == 2 * (count + 0),
                 f"exactly {2 * count} service processes")
        mains = {s["pid"] for s in self.running().values() if s["name"].startswith("s")}
        self.assertEqual(len(mains), count)
        self.assertTrue(mains <= self.service_processes())

    def test_many_clients_with_garbage_mixed_in_all_get_answers(self):
        self.configure(20)
        self.start_armd()
        wait_for(lambda: len(self.running()) >= 20, "services running")
        before = {n: s["pid"] for n, s in self.running().items()}
        clients, rounds = (100, 50) if LONG else (100, 10)
        failures = []

        def well_behaved(index):
            try:
                client = Client(self.socket)
                name = f"extra{index % 10}"
                for _ in range(rounds):
                    assert client.call("status")["ok"]
                    assert client.call("start", service=name)["ok"]
                    assert client.call("stop", service=name)["outcome"] in (
                        "stopped", "still_referenced", "not_running")
                client.close()
            except Exception as error:  # noqa: BLE001
                failures.append(f"client {index}: {error!r}")

        def garbage(index):
            rng = random.Random(index)
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.socket)
                kind = index % 5
                if kind == 0:
                    sock.sendall(os.urandom(rng.randrange(1, 100_000)))
                elif kind == 1:
                    sock.sendall(b"{" * 70_000)  # oversized
                elif kind == 2:
                    sock.sendall(b'{"id":1,"method":"sta')  # half a frame, then silence
                    time.sleep(1)
                elif kind == 3:
                    for byte in b'{"id":1,"method":"status"}':  # a slow writer that gives up
                        sock.sendall(bytes([byte]))
                        time.sleep(0.01)
                else:
                    sock.sendall(b'{"id":1,"method":"shutdown"')  # vanishes before the newline
                sock.close()
            except OSError:
                pass  # armd may close on us: that is its right

        threads = [threading.Thread(target=well_behaved, args=(i,)) for i in range(clients)]
        threads += [threading.Thread(target=garbage, args=(i,)) for i in range(clients // 2)]
        rng = random.Random(7)
        rng.shuffle(threads)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        self.assertEqual(failures, [])
        self.assertIsNone(self.armd.poll(), "armd died")
        after = {n: s["pid"] for n, s in self.running().items() if n.startswith("s")}
        self.assertEqual(after, {n: p for n, p in before.items() if n.startswith("s")},
                         "services were disturbed")

    def test_out_of_descriptors_errors_are_reported_and_armd_recovers(self):
        self.configure(2)
        limit = 40

        def lower_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self._log = open(self.log_path, "w")
        import subprocess
        from harness import ARMD
        self.armd = subprocess.Popen([ARMD, "--config", self.config, "--socket", self.socket],
                                     env=self.armd_environment(),
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=lower_limit)
        wait_for(lambda: os.path.exists(self.socket) and len(self.running()) >= 2,
                 "armd with a low descriptor limit")
        victims = {name: s["pid"] for name, s in self.running().items() if name in ("s0", "s1")}
        hogs = []
        for _ in range(limit + 20):  # far more connections than armd has descriptors for
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.socket)
            hogs.append(sock)
        time.sleep(0.5)
        cpu_before = cpu_seconds(self.armd.pid)
        time.sleep(1.0)
        spent = cpu_seconds(self.armd.pid) - cpu_before
        self.assertLess(spent, 0.5, "armd spins when out of descriptors")
        self.assertIn("not accepting", self.log())

        # A storm of spawn failures: crashed services cannot be restarted without descriptors
        # (no pidfd, no /dev/null for the child). Each failure is logged and retried.
        for pid in victims.values():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: "Too many open files" in self.log().split("not accepting", 1)[-1],
                 "spawn failures to be reported")
        self.assertIsNone(self.armd.poll(), "armd died")

        # Everything recovers once descriptors are back.
        for sock in hogs:
            sock.close()
        for name, old in victims.items():
            wait_for(lambda: (lambda s: s["state"] == "running" and s["pid"] != old)(
                self.status(name)), f"{name} restarted once descriptors are back")
        self.armctl("start", "extra0", "extra1", check=0)


if __name__ == "__main__":
    unittest.main()
