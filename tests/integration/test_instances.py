"""Template services (issue 15) under the real armd: `[services."worker@"]` with `instances`
runs one process per instance, each given its own `{instance}` (in its argv, environment and
paths) and its full name for `{name}`; `armctl start/stop 'worker@*'` acts on the instances
that match; status and graph show them; a dependency on one instance starts that one only;
a reload that drops an instance stops it and keeps the others running."""

import json
import os
import unittest

from harness import ArmdTestCase, wait_for

REPORTER = """\
#!/bin/sh
# Writes what it was given into report-<instance> next to it, then sleeps.
echo "$@ SHARD=$SHARD" > "$(dirname "$0")/report-$2.tmp"
mv "$(dirname "$0")/report-$2.tmp" "$(dirname "$0")/report-$2"
exec sleep 100000
"""


class Instances(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.reporter = os.path.join(self.dir, "reporter.sh")
        with open(self.reporter, "w") as f:
            f.write(REPORTER)
        os.chmod(self.reporter, 0o755)

    def configure(self, instances):
        self.write_config(f"""
            [services."worker@"]
            binary = "{self.reporter}"
            options = ["--id", "{{instance}}", "--name", "{{name}}"]
            environment = {{ SHARD = "shard-{{instance}}" }}
            instances = {instances}

            [services."db@"]
            binary = "{self.sleeper()}"
            instances = ["main", "replica"]

            [services.web]
            binary = "{self.sleeper("web.sh")}"
            depends_on = ["db@main"]
            """)

    def report(self, instance):
        path = os.path.join(self.dir, f"report-{instance}")
        wait_for(lambda: os.path.exists(path), f"worker@{instance} to report")
        with open(path) as f:
            return f.read().strip()

    def test_each_instance_runs_with_its_own_instance_and_name(self):
        self.configure(3)
        self.start_armd()
        self.armctl("start", "worker@*", check=0)
        for instance in ("1", "2", "3"):
            self.assertEqual(self.status(f"worker@{instance}")["state"], "running")
            self.assertEqual(self.report(instance),
                             f"--id {instance} --name worker@{instance} SHARD=shard-{instance}")
        pids = {self.status(f"worker@{i}")["pid"] for i in ("1", "2", "3")}
        self.assertEqual(len(pids), 3)
        # The other template's instances were not started by the pattern.
        self.assertEqual(self.status("db@main")["state"], "stopped")

    def test_patterns_select_instances_and_an_unmatched_pattern_is_an_error(self):
        self.configure(3)
        self.start_armd()
        self.armctl("start", "worker@[12]", check=0)
        states = {name: s["state"] for name, s in self.status().items()}
        self.assertEqual(states["worker@1"], "running")
        self.assertEqual(states["worker@2"], "running")
        self.assertEqual(states["worker@3"], "stopped")
        listed = self.armctl("status", "worker@*", json_output=True, check=0).stdout
        names = [service["name"] for service in json.loads(listed)]
        self.assertEqual(names, ["worker@1", "worker@2", "worker@3"])
        result = self.armctl("start", "nothing@*", check=3)
        self.assertIn("no service matches 'nothing@*'", result.stderr)
        self.armctl("stop", "worker@*", check=0)
        self.wait_state("worker@1", "stopped")
        self.wait_state("worker@2", "stopped")

    def test_a_dependency_on_one_instance_starts_that_instance_only(self):
        self.configure(1)
        self.start_armd()
        self.armctl("start", "web", check=0)
        self.assertEqual(self.status("db@main")["state"], "running")
        self.assertEqual(self.status("db@replica")["state"], "stopped")
        graph = self.armctl("graph", check=0).stdout
        self.assertIn("db@main", graph)
        self.assertIn("web", graph)

    def test_a_reload_with_fewer_instances_stops_the_dropped_one_only(self):
        self.configure('["a", "b"]')
        self.start_armd()
        self.armctl("start", "worker@*", check=0)
        kept = self.status("worker@a")["pid"]
        self.configure('["a"]')
        self.armctl("reload", check=0)
        wait_for(lambda: "worker@b" not in self.status(), "worker@b to be removed")
        self.assertEqual(self.status("worker@a")["pid"], kept)
        self.assertEqual(self.status("worker@a")["state"], "running")

    def test_a_name_given_twice_takes_one_reference_with_or_without_a_pattern(self):
        self.configure(2)
        self.start_armd()
        self.armctl("start", "web", "web", check=0)
        self.assertEqual(self.status("web")["refcount"], 1)
        self.armctl("start", "worker@*", "worker@1", check=0)
        self.assertEqual(self.status("worker@1")["refcount"], 1)
        # One stop gives the one reference back: the service stops.
        self.armctl("stop", "web", check=0)
        self.wait_state("web", "stopped")


if __name__ == "__main__":
    unittest.main()
