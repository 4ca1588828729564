// Readiness, start_timeout and the watchdog in the core (issue 13): a service not ready at exec
// is `starting` until it says so (or its `after` delay passes); only then are its starts
// answered and its hard dependents started. Not ready in time, or silent past its watchdog, it
// is stopped and its restart policy decides as for a failed exit.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::Exits;
using testing::SupervisorRig;

namespace {

ServiceSpec notify_service(std::string name) {
  ServiceSpec spec = testing::service(std::move(name));
  spec.readiness.kind = Readiness::Kind::notify;
  spec.backoff_initial = 1s;
  return spec;
}

ServiceSpec with_watchdog(ServiceSpec spec, Milliseconds interval) {
  spec.watchdog = interval;
  return spec;
}

}  // namespace

TEST_CASE("a notify service is starting, with its pid, until READY=1 answers its start") {
  SupervisorRig rig(testing::config_with({notify_service("web")}));
  auto request = rig.request();
  rig.supervisor.start(request, "web");

  CHECK(rig.state_of("web") == ServiceState::starting);
  auto status = rig.supervisor.status("web");
  CHECK(status->pid == rig.spawner.latest("web")->pid);
  CHECK(status->waiting_for == "READY=1 on $NOTIFY_SOCKET");
  CHECK(rig.spawner.latest("web")->request.readiness.kind == Readiness::Kind::notify);
  CHECK_FALSE(rig.notifier.reply_to(request));

  CHECK(rig.ready("web"));
  CHECK(rig.state_of("web") == ServiceState::running);
  REQUIRE(rig.notifier.reply_to(request));
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::started);
  CHECK(rig.notifier.reply_to(request)->pid == rig.pid_of("web"));
  const ServiceEvent& last = rig.notifier.events.back();
  CHECK(last.previous == ServiceState::starting);
  CHECK(last.state == ServiceState::running);
}

TEST_CASE("an fd service is ready when its line is reported, the same way") {
  ServiceSpec web = testing::service("web");
  web.readiness = {.kind = Readiness::Kind::fd, .fd = 3};
  SupervisorRig rig(testing::config_with({web}));
  auto request = rig.request();
  rig.supervisor.start(request, "web");
  CHECK(rig.supervisor.status("web")->waiting_for == "a line on its descriptor 3");
  CHECK(rig.spawner.latest("web")->request.readiness.fd == 3);
  CHECK_FALSE(rig.notifier.reply_to(request));
  rig.ready("web");
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::started);
}

TEST_CASE("an after service is ready once it has stayed up its delay") {
  ServiceSpec web = testing::service("web");
  web.readiness = {.kind = Readiness::Kind::after, .after = 2s};
  SupervisorRig rig(testing::config_with({web}));
  auto request = rig.request();
  TimePoint spawned = rig.clock.now();
  rig.supervisor.start(request, "web");
  CHECK(rig.supervisor.next_deadline() == spawned + 2s);
  rig.advance(1999ms);
  CHECK(rig.state_of("web") == ServiceState::starting);
  CHECK_FALSE(rig.notifier.reply_to(request));
  rig.advance(1ms);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::started);
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("services ready at exec without a watchdog schedule nothing") {
  SupervisorRig rig(testing::config_with({testing::service("web"), notify_service("db")}));
  rig.supervisor.start(rig.request(), "web");
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK_FALSE(rig.supervisor.next_deadline());
  rig.supervisor.start(rig.request(), "db");
  rig.ready("db");
  CHECK_FALSE(rig.supervisor.next_deadline());  // notify, but no watchdog
}

TEST_CASE("hard dependents wait while their dependency is starting") {
  ServiceSpec web = testing::service("web");
  web.depends_on = {"db"};
  SupervisorRig rig(testing::config_with({notify_service("db"), web}));
  auto request = rig.request();
  rig.supervisor.start(request, "web");
  CHECK(rig.state_of("db") == ServiceState::starting);
  CHECK(rig.state_of("web") == ServiceState::waiting);
  CHECK(rig.supervisor.status("web")->waiting_for == "dependency db (starting)");
  CHECK_FALSE(rig.notifier.reply_to(request));

  rig.ready("db");
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::started);
}

TEST_CASE("a start while starting is answered already_running once it is ready") {
  SupervisorRig rig(testing::config_with({notify_service("web")}));
  rig.supervisor.start(rig.request(), "web");
  auto second = rig.request(2);
  rig.supervisor.start(second, "web");
  CHECK_FALSE(rig.notifier.reply_to(second));
  rig.ready("web");
  CHECK(rig.notifier.reply_to(second)->outcome == Outcome::already_running);
  CHECK(rig.supervisor.status("web")->refcount == 2);
  CHECK(rig.spawner.spawn_count() == 1);
}

TEST_CASE("not ready within start_timeout: the start fails, the process is stopped, it backs off") {
  ServiceSpec web = notify_service("web");
  web.start_timeout = 10s;
  web.stop_timeout = 3s;
  SupervisorRig rig(testing::config_with({web}));
  rig.spawner.ignore_terminate("web");
  auto request = rig.request();
  rig.supervisor.start(request, "web");
  ProcessId first = *rig.pid_of("web");

  rig.advance(9999ms);
  CHECK_FALSE(rig.notifier.reply_to(request));
  rig.advance(1ms);
  REQUIRE(rig.notifier.reply_to(request));
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::start_failed);
  CHECK(rig.notifier.reply_to(request)->message == "not ready within 10s");
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(rig.spawner.process(first)->signals == std::vector{StopSignal::terminate});

  rig.advance(3s, Exits::delivered);  // SIGKILL after stop_timeout, then the restart policy
  CHECK(rig.spawner.process(first)->signals ==
        std::vector{StopSignal::terminate, StopSignal::kill});
  CHECK(rig.state_of("web") == ServiceState::backoff);
  CHECK(rig.supervisor.status("web")->last_error == "not ready within 10s");
  CHECK(rig.supervisor.status("web")->refcount == 1);  // still wanted: it is retried

  rig.advance(1s);
  CHECK(rig.state_of("web") == ServiceState::starting);
  CHECK(rig.spawner.spawn_count() == 2);
}

TEST_CASE("a clean exit after a start timeout still counts as a failure") {
  ServiceSpec web = notify_service("web");
  web.start_timeout = 10s;
  web.restart = RestartPolicy::never;
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(10s);
  rig.exit("web", ExitStatus::exited(0));  // it caught SIGTERM and exited 0
  CHECK(rig.state_of("web") == ServiceState::failed);
  CHECK(rig.supervisor.status("web")->last_error == "not ready within 10s");
}

TEST_CASE("start_timeout = 0 waits for ever") {
  ServiceSpec web = notify_service("web");
  web.start_timeout = 0ms;
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  CHECK_FALSE(rig.supervisor.next_deadline());
  rig.advance(1000h);
  CHECK(rig.state_of("web") == ServiceState::starting);
}

TEST_CASE("an exit before ready fails the start naming the exit, then backs off as a crash") {
  SupervisorRig rig(testing::config_with({notify_service("web")}));
  auto request = rig.request();
  rig.supervisor.start(request, "web");
  rig.exit("web", ExitStatus::exited(1));
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::start_failed);
  CHECK(rig.notifier.reply_to(request)->message == "exited with exit code 1 before it was ready");
  CHECK(rig.state_of("web") == ServiceState::backoff);
  CHECK_FALSE(rig.supervisor.on_notify(1000, {.ready = true}));  // its pid is no longer known
  rig.advance(1s);
  CHECK(rig.state_of("web") == ServiceState::starting);
  rig.ready("web");
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE("the watchdog: WATCHDOG=1 keeps it alive; a missing one aborts it and it backs off") {
  ServiceSpec web = with_watchdog(notify_service("web"), 10s);
  web.restart = RestartPolicy::on_failure;
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  CHECK(rig.spawner.latest("web")->request.watchdog == 10s);
  rig.advance(30s);  // no watchdog before ready
  rig.ready("web");
  ProcessId pid = *rig.pid_of("web");
  rig.advance(9s);
  rig.notify("web", {.watchdog = true});
  rig.advance(9s);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.spawner.process(pid)->signals.empty());

  rig.advance(1s);
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(rig.spawner.process(pid)->signals == std::vector{StopSignal::abort});
  CHECK(rig.supervisor.status("web")->last_error == "watchdog timeout (no WATCHDOG=1 within 10s)");
  rig.exit("web", ExitStatus::exited(0));  // even a clean exit: on-failure restarts it
  CHECK(rig.state_of("web") == ServiceState::backoff);
  CHECK(rig.supervisor.status("web")->last_error == "watchdog timeout (no WATCHDOG=1 within 10s)");
}

TEST_CASE("a watchdog abort that is ignored ends in SIGKILL after stop_timeout") {
  ServiceSpec web = with_watchdog(notify_service("web"), 1s);
  web.stop_timeout = 2s;
  SupervisorRig rig(testing::config_with({web}));
  rig.spawner.ignore_terminate("web");  // the fake: SIGABRT ends it unless... see below
  rig.supervisor.start(rig.request(), "web");
  rig.ready("web");
  ProcessId pid = *rig.pid_of("web");
  rig.advance(1s);  // held: the SIGABRT's exit is not delivered, as if it ignored it
  rig.advance(2s);
  CHECK(rig.spawner.process(pid)->signals == std::vector{StopSignal::abort, StopSignal::kill});
}

TEST_CASE("WATCHDOG=trigger acts at once; WATCHDOG_USEC= replaces the interval") {
  SupervisorRig rig(testing::config_with({with_watchdog(notify_service("web"), 10s)}));
  rig.supervisor.start(rig.request(), "web");
  rig.ready("web");
  rig.notify("web", {.watchdog_timeout = 2s});
  CHECK(rig.supervisor.next_deadline() == rig.clock.now() + 2s);
  rig.advance(1s);
  rig.notify("web", {.watchdog = true});
  rig.advance(1999ms);
  CHECK(rig.state_of("web") == ServiceState::running);
  ProcessId pid = *rig.pid_of("web");
  rig.notify("web", {.watchdog_trigger = true});
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(rig.spawner.process(pid)->signals == std::vector{StopSignal::abort});
  CHECK(rig.supervisor.status("web")->last_error ==
        "watchdog triggered by the service (WATCHDOG=trigger)");
  rig.settle();
  rig.advance(1s);  // the backoff: the new process has the configured interval again
  rig.ready("web");
  CHECK(rig.supervisor.next_deadline() == rig.clock.now() + 10s);
}

TEST_CASE("EXTEND_TIMEOUT_USEC= while starting moves the start deadline only later") {
  ServiceSpec web = notify_service("web");
  web.start_timeout = 10s;
  SupervisorRig rig(testing::config_with({web}));
  auto request = rig.request();
  rig.supervisor.start(request, "web");
  rig.advance(8s);
  rig.notify("web", {.extend_timeout = 1s});  // now + 1 s is before the deadline: no change
  rig.notify("web", {.extend_timeout = 5s});  // to 13 s after the spawn
  rig.advance(4999ms);
  CHECK(rig.state_of("web") == ServiceState::starting);
  rig.advance(1ms);
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::start_failed);
  CHECK(rig.notifier.reply_to(request)->message == "not ready within 13s");
}

TEST_CASE("STATUS= and ERRNO= are kept for status, and cleared at the next spawn") {
  SupervisorRig rig(testing::config_with({notify_service("web")}));
  rig.supervisor.start(rig.request(), "web");
  rig.notify("web", {.status = "loading 3 of 10", .error_number = 2});
  CHECK(rig.supervisor.status("web")->status_text == "loading 3 of 10");
  CHECK(rig.supervisor.status("web")->error_number == 2);
  rig.notify("web", {.ready = true, .status = std::string("serving")});
  CHECK(rig.supervisor.status("web")->status_text == "serving");
  rig.notify("web", {.reloading = true});  // ignored: the text stays the service's own
  rig.notify("web", {.stopping = true});
  CHECK(rig.supervisor.status("web")->status_text == "serving");
  CHECK(rig.state_of("web") == ServiceState::running);
  rig.exit("web");
  rig.advance(1s);
  CHECK(rig.supervisor.status("web")->status_text.empty());
  CHECK_FALSE(rig.supervisor.status("web")->error_number);
}

TEST_CASE(
    "notifications from unknown or stale pids are refused; while stopping they are harmless") {
  ServiceSpec web = notify_service("web");
  SupervisorRig rig(testing::config_with({web}));
  CHECK_FALSE(rig.supervisor.on_notify(4242, {.ready = true}));
  rig.supervisor.start(rig.request(), "web");
  rig.ready("web");
  ProcessId old = *rig.pid_of("web");
  rig.spawner.ignore_terminate("web");
  rig.supervisor.restart(rig.request(), "web");  // the old process is stopping
  CHECK(rig.notify("web", {.ready = true, .watchdog_trigger = true}));
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(rig.spawner.process(old)->signals == std::vector{StopSignal::terminate});
  rig.exit("web", ExitStatus::signaled(15));
  CHECK(rig.state_of("web") == ServiceState::starting);
  CHECK_FALSE(rig.supervisor.on_notify(old, {.ready = true}));
  CHECK(rig.state_of("web") == ServiceState::starting);
}

TEST_CASE("a config-file restart while starting keeps the reference of the start it fails") {
  ServiceSpec web = notify_service("web");
  web.config_file = "/etc/web.conf";
  Config config = testing::config_with({web});
  config.arm.default_services = {"web"};
  SupervisorRig rig(config);
  rig.supervisor.start_default_services();
  rig.supervisor.on_file_changed("/etc/web.conf");  // just started: restarts after the backoff
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::backoff);
  CHECK(rig.supervisor.status("web")->refcount == 1);
  rig.advance(1s);
  rig.ready("web");
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE(
    "a start timeout with restart never fails the hard dependents waiting for it, once each") {
  ServiceSpec db = notify_service("db");
  db.start_timeout = 5s;
  db.restart = RestartPolicy::never;
  ServiceSpec web = testing::service("web");
  web.depends_on = {"db"};
  SupervisorRig rig(testing::config_with({db, web}));
  auto start_web = rig.request();
  auto start_db = rig.request(2);
  rig.supervisor.start(start_web, "web");
  rig.supervisor.start(start_db, "db");
  rig.advance(5s, Exits::delivered);
  CHECK(rig.state_of("db") == ServiceState::failed);
  CHECK(rig.state_of("web") == ServiceState::failed);
  CHECK(rig.notifier.replies_count_for(start_db) == 1);
  CHECK(rig.notifier.reply_to(start_db)->message == "not ready within 5s");
  CHECK(rig.notifier.replies_count_for(start_web) == 1);
  CHECK(rig.notifier.reply_to(start_web)->message == "dependency db failed: not ready within 5s");
  CHECK(rig.supervisor.status("db")->refcount == 0);
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("start timeouts count in the restart intensity") {
  ServiceSpec web = notify_service("web");
  web.start_timeout = 2s;
  web.max_restarts = 1;
  web.restart_window = 1h;
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(2s, Exits::delivered);
  CHECK(rig.state_of("web") == ServiceState::backoff);
  rig.advance(1s + 2s, Exits::delivered);  // the backoff, then a second start timeout
  CHECK(rig.state_of("web") == ServiceState::failed);
  CHECK(rig.supervisor.status("web")->last_error ==
        "not ready within 2s; restarted 1 times within 1h, not restarting");
}

TEST_CASE("once stopped for a start timeout, what it says cannot move its SIGKILL deadline") {
  ServiceSpec web = notify_service("web");
  web.start_timeout = 2s;
  web.stop_timeout = 3s;
  SupervisorRig rig(testing::config_with({web}));
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(rig.request(), "web");
  ProcessId pid = *rig.pid_of("web");
  rig.advance(2s);
  CHECK(rig.state_of("web") == ServiceState::stopping);
  rig.notify("web", {.extend_timeout = 100s});
  rig.notify("web", {.ready = true, .watchdog = true, .watchdog_timeout = 50s});
  CHECK(rig.supervisor.next_deadline() == rig.clock.now() + 3s);
  rig.advance(3s);
  CHECK(rig.spawner.process(pid)->signals == std::vector{StopSignal::terminate, StopSignal::kill});
}

TEST_CASE("a reload that removes a starting service fails its start and forgets it once reaped") {
  SupervisorRig rig(testing::config_with({notify_service("web"), testing::service("other")}));
  auto start = rig.request();
  rig.supervisor.start(start, "web");
  CHECK(rig.supervisor.reload(testing::config_with({testing::service("other")})));
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::start_failed);
  CHECK(rig.notifier.reply_to(start)->message == "removed from the configuration");
  rig.settle();
  CHECK_FALSE(rig.supervisor.status("web"));
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("WATCHDOG_USEC=0 turns the watchdog off until the next spawn") {
  ServiceSpec web = with_watchdog(notify_service("web"), 10s);
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  rig.ready("web");
  rig.notify("web", {.watchdog_timeout = 0ms});
  CHECK_FALSE(rig.supervisor.next_deadline());
  rig.notify("web", {.watchdog = true});
  CHECK_FALSE(rig.supervisor.next_deadline());
  rig.supervisor.restart(rig.request(), "web");
  rig.settle();
  rig.ready("web");
  CHECK(rig.supervisor.next_deadline() == rig.clock.now() + 10s);
}
