"""What armctl answers an operator (issue 11): guesses for misspelt names, stop --force, --all,
SIGKILLs reported, an uptime column and human durations, unknown commands."""

import json
import os
import re
import subprocess
import unittest

from harness import ARMCTL, ArmdTestCase, pid_alive, wait_for


class ArmctlTestCase(ArmdTestCase):
    def setUp(self):
        super().setUp()
        self.events = os.path.join(self.dir, "events")
        # Logs its start and its SIGTERM, so a test can see the order things happened in.
        self.svc = self.script("svc.sh", f"""
            name="$1"
            trap 'echo "stop $name" >> {self.events}; exit 0' TERM
            echo "start $name" >> {self.events}
            sleep 100000 &
            wait $!
            """)
        # Ignores SIGTERM: only SIGKILL ends it (an ignored signal stays ignored across exec).
        # It says when its trap is set: a SIGTERM that came before would still end it.
        self.term_ignorer_ready = os.path.join(self.dir, "term_ignorer.trapped")
        self.term_ignorer = self.script(
            "term_ignorer.sh", f"trap '' TERM\n: > {self.term_ignorer_ready}\nexec sleep 100000\n")

    def wait_term_ignored(self):
        wait_for(lambda: os.path.exists(self.term_ignorer_ready), "term_ignorer's TERM trap")

    def service(self, name, **settings):
        lines = [f"[services.{name}]", f'binary = "{self.svc}"', f'options = "{name}"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def events_seen(self):
        try:
            with open(self.events) as f:
                return f.read().split("\n")[:-1]
        except FileNotFoundError:
            return []


class NameSuggestions(ArmctlTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(self.service("nginx") + self.service("postgres"))
        self.start_armd()

    def test_a_misspelt_name_is_answered_with_the_name_it_probably_meant(self):
        for command in ("start", "stop", "restart", "reset", "status"):
            result = self.armctl(command, "ngnix", check=3)
            self.assertEqual(result.stderr.strip(),
                             "unknown service 'ngnix' (did you mean 'nginx'?)", command)
        self.assertEqual(self.status("nginx")["state"], "stopped")

    def test_a_name_unlike_any_gets_no_guess(self):
        result = self.armctl("start", "mysql", check=3)
        self.assertEqual(result.stderr.strip(), "unknown service 'mysql'")

    def test_the_guess_is_in_the_protocol_reply_for_every_client(self):
        with self.connect() as conn:
            conn.read_line()
            conn.request(id=1, method="start", service="postgress")
            reply = conn.read_line()
        self.assertEqual(reply["outcome"], "unknown_service")
        self.assertEqual(reply["message"], "unknown service 'postgress' (did you mean 'postgres'?)")


class StopForce(ArmctlTestCase):
    def setUp(self):
        super().setUp()
        self.write_config('[arm]\ndefault_services = ["nginx"]\n' + self.service("nginx") +
                          self.service("db") + self.service("web", depends_on=["db"]) +
                          self.service("metrics", wants=["db"]))
        self.start_armd()
        self.wait_state("nginx", "running")

    def test_one_stop_force_undoes_three_starts_and_the_default_reference(self):
        pid = self.status("nginx")["pid"]
        for _ in range(3):
            self.armctl("start", "nginx", check=0)
        self.assertEqual(self.status("nginx")["refcount"], 4)
        plain = self.armctl("stop", "nginx", check=0)
        self.assertIn("still running, 3 other holders", plain.stdout)
        result = self.armctl("stop", "--force", "nginx", check=0)
        self.assertEqual(result.stdout.strip(), "nginx: stopped")
        self.assertFalse(pid_alive(pid))
        status = self.status("nginx")
        self.assertEqual((status["state"], status["refcount"]), ("stopped", 0))

    def test_hard_dependents_holding_it_are_stopped_first_and_named(self):
        self.armctl("start", "web", check=0)
        self.armctl("start", "db", check=0)
        self.armctl("start", "metrics", check=0)
        result = self.armctl("stop", "--force", "db", check=0)
        self.assertEqual(result.stdout.strip(), "db: stopped; also stopped its dependents: web")
        seen = self.events_seen()
        self.assertLess(seen.index("stop web"), seen.index("stop db"))
        self.assertEqual(self.status("web")["state"], "stopped")
        self.assertEqual(self.status("metrics")["state"], "running")  # only wants db

    def test_force_is_a_protocol_field_of_stop(self):
        self.armctl("start", "nginx", check=0)
        with self.connect() as conn:
            conn.read_line()
            conn.request(id=1, method="stop", service="nginx", force=True)
            reply = conn.read_line()
        self.assertEqual((reply["outcome"], reply["refcount"]), ("stopped", 0))


class EveryService(ArmctlTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(self.service("api", depends_on=["web"]) +
                          self.service("web", depends_on=["db"]) + self.service("db") +
                          self.service("lone"))
        self.start_armd()

    def running_order(self):
        return [line.split()[3].rstrip(":") for line in self.log().splitlines()
                if ": running (pid " in line]

    def test_start_all_starts_every_service_dependencies_first(self):
        result = self.armctl("start", "--all", check=0)
        self.assertEqual(len(result.stdout.splitlines()), 4, result.stdout)
        states = {name: s["state"] for name, s in self.status().items()}
        self.assertEqual(set(states.values()), {"running"}, states)
        order = wait_for(lambda: (lambda o: o if len(o) == 4 else None)(self.running_order()),
                         "armd to log four services running")
        self.assertLess(order.index("db"), order.index("web"))
        self.assertLess(order.index("web"), order.index("api"))

    def test_stop_all_stops_what_runs_dependents_first_whatever_holds_it_and_armd_stays(self):
        self.armctl("start", "--all", check=0)
        self.armctl("start", "db", check=0)  # a second reference: --all drops it too
        wait_for(lambda: len(self.events_seen()) == 4, "four services to log their start")
        result = self.armctl("stop", "--all", check=0)
        self.assertIn("db: stopped", result.stdout)
        seen = self.events_seen()
        self.assertLess(seen.index("stop api"), seen.index("stop web"))
        self.assertLess(seen.index("stop web"), seen.index("stop db"))
        self.assertEqual({s["state"] for s in self.status().values()}, {"stopped"})
        self.assertIsNone(self.armd.poll())  # unlike shutdown
        again = self.armctl("stop", "--all", check=0)
        self.assertEqual(again.stdout.strip(), "armctl: no service to stop")

    def test_restart_all_restarts_what_runs_and_leaves_stopped_services_stopped(self):
        self.armctl("start", "web", check=0)
        before = {name: s["pid"] for name, s in self.status().items()}
        result = self.armctl("restart", "--all", check=0)
        self.assertEqual(sorted(line.split(":")[0] for line in result.stdout.splitlines()),
                         ["db", "web"])
        after = self.status()
        for name in ("db", "web"):
            self.assertEqual(after[name]["state"], "running")
            self.assertNotEqual(after[name]["pid"], before[name])
        self.assertEqual(after["lone"]["state"], "stopped")
        self.assertEqual(after["api"]["state"], "stopped")

    def test_all_and_names_together_are_a_usage_error(self):
        result = self.armctl("start", "--all", "web", check=2)
        self.assertIn("either --all or names", result.stderr)


class EveryServiceEdges(ArmctlTestCase):
    def test_stop_all_cancels_a_pending_re_arm_so_nothing_comes_back(self):
        crash = self.script("crash.sh", "exit 1\n")
        self.write_config(f"""
            [services.crashy]
            binary = "{crash}"
            backoff_initial = "10ms"
            backoff_max = "10ms"
            max_restarts = 1
            retry_failed_after = "1s"
            """)
        self.start_armd()
        self.armctl("start", "crashy")
        status = self.wait_state("crashy", "failed")
        self.assertIsNotNone(status["next_restart_in_ms"])  # it would come back on its own
        self.armctl("stop", "--all", check=0)
        status = self.status("crashy")
        self.assertIsNone(status["next_restart_in_ms"], status)
        self.assertEqual(status["state"], "stopped")

    def test_a_service_a_reload_removed_is_not_an_unknown_name_to_all(self):
        self.write_config(self.service("web") + f"""
            [services.term_ignorer]
            binary = "{self.term_ignorer}"
            stop_timeout = "5s"
            """)
        self.start_armd()
        self.armctl("start", "web", check=0)
        self.armctl("start", "term_ignorer", check=0)
        self.wait_term_ignored()
        self.write_config(self.service("web"))
        self.armctl("reload", check=0)  # it stays in status, stopping, for its stop_timeout
        self.assertEqual(self.status()["term_ignorer"]["state"], "stopping")
        for command in ("restart", "start", "stop"):
            result = self.armctl(command, "--all", check=0)
            self.assertNotIn("unknown service", result.stdout + result.stderr, command)


class EveryServiceOfMany(ArmdTestCase):
    """More services than armd lets one connection wait for at once (256): armctl sends the
    requests past its window as answers come, so none is refused with too_many_requests."""

    COUNT = 300

    def setUp(self):
        super().setUp()
        # Each start waits a second for readiness, so the requests pile up in armd unanswered.
        self.write_config("".join(
            f'[services.s{i:03}]\nbinary = "/bin/sleep"\noptions = "100000"\n'
            f'stdout = "null"\nstderr = "null"\nreadiness = "after:1s"\n'
            for i in range(self.COUNT)))
        self.start_armd()

    def states(self):
        return {s["state"] for s in self.status().values()}

    def test_start_all_then_stop_all_reach_every_service(self):
        started = self.armctl("start", "--all", check=0, timeout=120)
        self.assertEqual(len(started.stdout.splitlines()), self.COUNT, started.stdout)
        self.assertNotIn("too_many_requests", started.stdout + started.stderr)
        self.assertEqual(self.states(), {"running"})

        stopped = self.armctl("stop", "--all", check=0, timeout=120)
        self.assertEqual(len(stopped.stdout.splitlines()), self.COUNT, stopped.stdout)
        self.assertEqual(self.states(), {"stopped"})


class KilledReported(ArmctlTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(f"""
            [services.term_ignorer]
            binary = "{self.term_ignorer}"
            stop_timeout = "300ms"
            """)
        self.start_armd()
        self.armctl("start", "term_ignorer", check=0)
        self.wait_term_ignored()

    def test_a_stop_that_needed_sigkill_says_so(self):
        result = self.armctl("stop", "term_ignorer", check=0)
        self.assertEqual(result.stdout.strip(),
                         "term_ignorer: stopped; killed with SIGKILL: it did not exit within "
                         "stop_timeout 300ms of SIGTERM")

    def test_the_json_reply_carries_killed(self):
        result = self.armctl("stop", "term_ignorer", json_output=True, check=0)
        reply = json.loads(result.stdout)[0]
        self.assertIs(reply["killed"], True)

    def test_a_restart_that_needed_sigkill_says_so(self):
        result = self.armctl("restart", "term_ignorer", check=0)
        self.assertRegex(result.stdout.strip(),
                         r"^term_ignorer: restarted \(pid \d+\); killed with SIGKILL: it did not exit "
                         r"within stop_timeout 300ms of SIGTERM$")

    def test_shutdown_names_the_services_that_needed_sigkill(self):
        result = self.armctl("shutdown", check=0)
        self.assertIn("killed with SIGKILL", result.stdout)
        self.assertIn(": term_ignorer", result.stdout)


class Durations(ArmctlTestCase):
    def test_the_status_table_has_an_uptime_column(self):
        self.write_config(self.service("web"))
        self.start_armd()
        self.armctl("start", "web", check=0)
        lines = self.armctl("status", check=0).stdout.splitlines()
        header = lines[0].split()
        self.assertEqual(header[:4], ["NAME", "STATE", "PID", "UPTIME"])
        self.assertRegex(lines[1].split()[3], r"^\d+(\.\d)?(ms|s)$|^\d+m(\d\ds)?$")
        self.assertIsInstance(self.status("web")["running_for_ms"], int)  # --json keeps ms

    def test_messages_print_durations_as_configured(self):
        crash = self.script("crash.sh", "exit 1\n")
        self.write_config(f"""
            [services.crashy]
            binary = "{crash}"
            backoff_initial = "10ms"
            backoff_max = "10ms"
            max_restarts = 2
            restart_window = "60s"
            """)
        self.start_armd()
        self.armctl("start", "crashy")
        status = self.wait_state("crashy", "failed")
        self.assertIn("restarted 2 times within 60s, not restarting", status["last_error"])
        self.assertIn("restarting in 10ms", self.log())


class UnknownCommand(unittest.TestCase):
    def test_an_unknown_command_is_named_with_the_list_of_commands(self):
        result = subprocess.run([ARMCTL, "frobnicate"], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 2)
        lines = result.stderr.splitlines()
        self.assertEqual(lines[0], "armctl: unknown command 'frobnicate'")
        self.assertRegex(lines[1], r"^commands: start, stop, restart, reset, reload-service, status, ")

    def test_a_bad_option_without_a_command_is_named_not_taken_for_a_missing_command(self):
        result = subprocess.run([ARMCTL, "--socket"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--socket", result.stderr)
        self.assertNotIn("a command is required", result.stderr)

    def test_no_command_at_all_lists_the_commands(self):
        result = subprocess.run([ARMCTL], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr.splitlines()[0], "armctl: a command is required")


if __name__ == "__main__":
    unittest.main()
