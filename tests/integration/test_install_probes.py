"""The container probes docs/container.md gives (issue 15), with the exit codes it states, run
against a real armd; and the bash completion's service names, asked of that armd."""

import os
import subprocess
import unittest

from harness import ARMCTL, DEADLINE, ArmdTestCase

SOURCE_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CONTAINER_DOC = os.path.join(SOURCE_ROOT, "docs", "container.md")
BASH_COMPLETION = os.path.join(SOURCE_ROOT, "packaging", "completion", "armctl.bash")

LIVENESS = "armctl status"
# As docs/container.md writes it for `sh -c`, with the service's name.
READINESS = "armctl --json status {name} | grep -q '^    \"state\": \"running\"'"


class Probes(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(f"""
            [services.web]
            binary = "{self.sleeper()}"
            start = "boot"

            [services.idle]
            binary = "{self.sleeper('idle.sh')}"

            [services.slow]
            binary = "{self.sleeper('slow.sh')}"
            readiness = "after:10m"
            start_timeout = "0"
            start = "boot"
            """)

    def probe(self, command):
        """Runs a probe as a kubelet's exec would, in the container: armctl on PATH, armd's
        socket at its default place (here: ARMD_SOCKET)."""
        env = dict(os.environ, ARMD_SOCKET=self.socket,
                   PATH=os.path.dirname(os.path.abspath(ARMCTL)) + ":" + os.environ["PATH"])
        return subprocess.run(["sh", "-c", command], env=env, capture_output=True,
                              timeout=DEADLINE).returncode

    def test_the_doc_gives_these_probes(self):
        with open(CONTAINER_DOC) as f:
            doc = f.read()
        self.assertIn('command: ["armctl", "status"]', doc)
        as_yaml = READINESS.format(name="web").replace('"', '\\"')
        self.assertIn(f'command: ["sh", "-c", "{as_yaml}"]', doc)

    def test_liveness_is_0_while_armd_answers_and_4_once_it_is_gone(self):
        self.start_armd()
        self.assertEqual(self.probe(LIVENESS), 0)
        self.assertEqual(self.probe(LIVENESS + " idle"), 0)  # a stopped service: still 0
        self.assertEqual(self.probe(LIVENESS + " nosuch"), 3)
        self.armctl("shutdown", check=0)
        self.armd.wait(timeout=DEADLINE)
        self.assertEqual(self.probe(LIVENESS), 4)

    def test_readiness_is_0_only_for_a_running_service(self):
        self.start_armd()
        self.wait_state("web", "running")
        self.assertEqual(self.probe(READINESS.format(name="web")), 0)
        self.assertEqual(self.probe(READINESS.format(name="idle")), 1)   # stopped
        self.assertEqual(self.status("slow")["state"], "starting")
        self.assertEqual(self.probe(READINESS.format(name="slow")), 1)   # not ready yet
        self.assertEqual(self.probe(READINESS.format(name="nosuch")), 1)
        self.armctl("stop", "web", check=0)
        self.assertEqual(self.probe(READINESS.format(name="web")), 1)
        self.armctl("shutdown", check=0)
        self.armd.wait(timeout=DEADLINE)
        self.assertEqual(self.probe(READINESS.format(name="web")), 1)

    def test_bash_completes_the_names_of_the_running_armds_services(self):
        self.start_armd()
        script = (f"source {BASH_COMPLETION}\n"
                  "COMP_WORDS=(armctl status '')\nCOMP_CWORD=2\n_armctl armctl\n"
                  "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
        env = dict(os.environ, ARMD_SOCKET=self.socket,
                   PATH=os.path.dirname(os.path.abspath(ARMCTL)) + ":" + os.environ["PATH"])
        result = subprocess.run(["bash", "--norc", "-c", script], env=env, capture_output=True,
                                text=True, timeout=DEADLINE)
        self.assertEqual(sorted(result.stdout.split()), ["idle", "slow", "web"], result.stderr)
        # --socket before the command names the armd asked.
        script = script.replace("COMP_WORDS=(armctl status '')\nCOMP_CWORD=2",
                                f"COMP_WORDS=(armctl --socket {self.socket} stop w)\nCOMP_CWORD=4")
        env["ARMD_SOCKET"] = "/nonexistent/armd.sock"
        result = subprocess.run(["bash", "--norc", "-c", script], env=env, capture_output=True,
                                text=True, timeout=DEADLINE)
        self.assertEqual(result.stdout.split(), ["web"], result.stderr)


if __name__ == "__main__":
    unittest.main()
