"""A small service graph under the real armd: start order, group restarts, cascading stops,
reverse-order shutdown, failure naming the dependency, reload of edges, cycles refused.

Start order is read from armd's log (a service is logged running once its program executes;
two scripts' own first lines may race). Stop order is read from one shared file each service
appends "stop NAME" to when SIGTERM reaches it, before it exits: a dependency's SIGTERM is only
sent after its dependents were reaped, so that file's order is the real order.
"""

import os
import signal
import subprocess

from harness import ARMD, ArmdTestCase, pid_alive, wait_for

GRAPH = """
    # web needs db and cache, and would like metrics; api needs web.
    [services.db]
    binary = "{svc}"
    options = "db"
    [services.cache]
    binary = "{svc}"
    options = "cache"
    [services.metrics]
    binary = "{svc}"
    options = "metrics"
    [services.web]
    binary = "{svc}"
    options = "web"
    depends_on = ["db", "cache"]
    wants = ["metrics"]
    [services.api]
    binary = "{svc}"
    options = "api"
    depends_on = ["web"]
    [services.slowdb]
    binary = "{svc}"
    options = "slowdb"
    backoff_initial = "20s"
    [services.slowweb]
    binary = "{svc}"
    options = "slowweb"
    depends_on = ["slowdb"]
    [services.broken_dep]
    binary = "{svc}"
    options = "broken_dep"
    config = "{dir}/missing.conf"
    [services.needs_broken]
    binary = "{svc}"
    options = "needs_broken"
    depends_on = ["broken_dep"]
    """


class Dependencies(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.events = os.path.join(self.dir, "events")
        self.svc = self.script("svc.sh", f"""
            name="$1"
            [ "$1" = "-c" ] && name="$3"
            trap 'echo "stop $name" >> {self.events}; exit 0' TERM
            echo "start $name" >> {self.events}   # after the trap: a line means it is set
            sleep 100000 &
            wait $!
            """)
        self.write_config(GRAPH.format(svc=self.svc, dir=self.dir))
        self.start_armd()

    def lines(self):
        try:
            with open(self.events) as f:
                return f.read().split("\n")[:-1]
        except FileNotFoundError:
            return []

    def started(self, last=None):
        """Services in the order armd logged them running. armd flushes its log once per turn
        of its loop, which may come after the reply armctl returned on: with `last`, wait until
        that service's line is there."""
        def order():
            return [line.split()[3].rstrip(":") for line in self.log().splitlines()
                    if ": running (pid " in line]
        if last:
            wait_for(lambda: last in order(), f"armd to log {last} running")
        return order()

    def wait_traps(self, *names):
        """Until each named service's TERM trap is set (its start line is written): a dependency's
        script may still be setting its trap when a dependent's is done, since each is running
        once it executes; a SIGTERM before the trap would end it without its stop line."""
        for name in names:
            self.wait_line(f"start {name}")

    def wait_line(self, line, after=0):
        wait_for(lambda: line in self.lines()[after:], f"'{line}' in the event log")
        return self.lines().index(line, after)

    def test_dependencies_start_first_and_are_held(self):
        self.armctl("start", "api", check=0)
        order = self.started(last="api")
        self.assertLess(order.index("db"), order.index("web"))
        self.assertLess(order.index("cache"), order.index("web"))
        self.assertLess(order.index("web"), order.index("api"))
        self.assertIn("metrics", order)
        web = self.status("web")
        self.assertEqual(web["depends_on"], ["db", "cache"])
        self.assertEqual(web["wants"], ["metrics"])
        self.assertEqual(self.status("db")["refcount"], 1)

    def test_a_crashed_dependency_restarts_its_dependents_after_it(self):
        self.armctl("start", "api", check=0)
        web, api = self.status("web")["pid"], self.status("api")["pid"]
        mark = len(self.started(last="api"))
        os.kill(self.status("db")["pid"], signal.SIGKILL)
        wait_for(lambda: all(self.status(n)["state"] == "running" and
                             self.status(n)["pid"] not in (web, api) for n in ("web", "api")),
                 "web and api to run again with new processes")
        after = wait_for(lambda: (lambda lines: lines if len(lines) >= 3 else None)(
            self.started()[mark:]), "the three restarts in armd's log")
        self.assertEqual(after, ["db", "web", "api"])
        self.assertFalse(pid_alive(web))
        self.assertEqual(self.status("cache")["restarts"], 0)  # a sibling, untouched

    def test_stopping_a_dependency_stops_its_dependents_first(self):
        self.armctl("start", "api", check=0)
        self.wait_traps("api", "web", "db", "cache")
        result = self.armctl("stop", "db", check=0)
        order = self.lines()
        self.assertLess(order.index("stop api"), order.index("stop web"))
        self.assertLess(order.index("stop web"), order.index("stop db"))
        for name in ("api", "web", "db", "cache"):
            self.assertEqual(self.status(name)["state"], "stopped", result.stdout)
        self.assertEqual(self.status("metrics")["state"], "running")  # only wanted: stays

    def test_shutdown_stops_in_reverse_dependency_order(self):
        self.armctl("start", "api", check=0)
        self.wait_traps("api", "web", "db", "cache")
        self.armd.send_signal(signal.SIGTERM)
        self.assertEqual(self.armd.wait(timeout=30), 0)
        order = self.lines()
        self.assertLess(order.index("stop api"), order.index("stop web"))
        self.assertLess(order.index("stop web"), order.index("stop db"))
        self.assertLess(order.index("stop web"), order.index("stop cache"))
        self.assertLess(order.index("stop web"), order.index("stop metrics"))

    def test_a_dependency_that_cannot_start_fails_the_start_and_says_why(self):
        result = self.armctl("start", "needs_broken")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("dependency broken_dep failed", result.stdout + result.stderr)
        self.assertIn("missing.conf", result.stdout + result.stderr)
        status = self.status("needs_broken")
        self.assertEqual(status["state"], "failed")
        self.assertIn("dependency broken_dep failed", status["last_error"])

    def test_reload_starts_an_added_dependency(self):
        self.armctl("start", "cache", check=0)
        self.assertEqual(self.status("db")["state"], "stopped")
        text = open(self.config).read().replace(
            '[services.cache]\nbinary', '[services.cache]\ndepends_on = ["db"]\nbinary')
        with open(self.config, "w") as f:
            f.write(text)
        self.armctl("reload", check=0)
        wait_for(lambda: self.status("db")["state"] == "running", "db to be started by reload")
        self.assertEqual(self.status("cache")["state"], "running")

    def test_status_says_what_a_waiting_service_waits_for(self):
        self.armctl("start", "slowweb", check=0)
        os.kill(self.status("slowdb")["pid"], signal.SIGKILL)
        # slowdb's script leaves its `sleep` child: slowdb is `stopping` while that child gets
        # its SIGTERM, then backs off (20 s); slowweb waits for it all along.
        waiting = wait_for(lambda: (lambda s: s if s["state"] == "waiting" and
                                    s["waiting_for"] == "dependency slowdb (backoff)" else None)(
                                        self.status("slowweb")),
                           "slowweb to wait for slowdb's backoff")
        self.assertEqual(waiting["waiting_for"], "dependency slowdb (backoff)")
        table = self.armctl("status", check=0).stdout
        line = next(l for l in table.splitlines() if l.startswith("slowweb "))
        self.assertIn("waiting for dependency slowdb (backoff)", line)
        self.assertIn(" slowdb ", line)  # the DEPENDS-ON column

    def test_graph_prints_the_edges_as_text_and_as_graphviz(self):
        self.armctl("start", "web", check=0)
        text = self.armctl("graph", check=0).stdout.splitlines()
        self.assertIn("web (running) -> db, cache; wants metrics", text)
        self.assertIn("db (running)", text)
        dot = self.armctl("graph", "--dot", check=0).stdout
        self.assertTrue(dot.startswith("digraph arm {"))
        self.assertIn('"web" -> "db";', dot)
        self.assertIn('"web" -> "metrics" [style=dashed];', dot)

    def test_a_reload_with_a_cycle_changes_nothing(self):
        self.armctl("start", "web", check=0)
        before = {name: s["pid"] for name, s in self.status().items()}
        text = open(self.config).read().replace(
            '[services.db]\nbinary', '[services.db]\ndepends_on = ["web"]\nbinary')
        with open(self.config, "w") as f:
            f.write(text)
        result = self.armctl("reload", check=2)
        self.assertIn("services.db.depends_on[0]: dependency cycle: web -> db -> web",
                      result.stderr + result.stdout)
        self.assertIn("armd.toml:", result.stderr + result.stdout)
        self.assertEqual({name: s["pid"] for name, s in self.status().items()}, before)

    def test_a_cycle_is_refused_with_the_cycle_and_the_line(self):
        cyclic = os.path.join(self.dir, "cyclic.toml")
        with open(cyclic, "w") as f:
            f.write(f'[services.a]\nbinary = "{self.svc}"\ndepends_on = ["b"]\n'
                    f'[services.b]\nbinary = "{self.svc}"\nwants = ["a"]\n')
        result = subprocess.run([ARMD, "--check-config", cyclic],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("a -> b -> a", result.stderr)
        self.assertIn("cyclic.toml:", result.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
