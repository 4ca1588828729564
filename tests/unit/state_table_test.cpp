// The state table of include/arm/supervisor.hpp, executed: one test case per input, one subcase
// per row. Each subcase drives the service `web` into that row, applies the input and checks the
// cell. `web` depends on `db`. The `starting` row (issue 13: web with readiness = notify, not
// ready yet) has one test case of its own, a subcase per input, at the end; for a service ready
// at exec, starting lasts only for the spawn (the last test).
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::Exits;
using testing::SupervisorRig;

namespace {

enum class Row { stopped, waiting, starting, running, stopping, backoff, failed, failed_rearm };

// `probed`: web has a health check (a probe every 10 s, unhealthy at the first failure).
Config table_config(Row row, bool probed = false) {
  ServiceSpec db = testing::service("db");
  db.backoff_initial = 1s;
  ServiceSpec web = testing::service("web");
  web.depends_on = {"db"};
  web.backoff_initial = 1s;
  web.stop_timeout = 5s;
  web.config_file = "/etc/web.conf";
  if (row == Row::starting) {
    web.readiness.kind = Readiness::Kind::notify;
    web.start_timeout = 20s;
  }
  if (row == Row::failed_rearm) {
    web.max_restarts = 0;
    web.retry_failed_after = 30s;
  }
  if (probed) {
    HealthCheck check;
    check.kind = HealthCheck::Kind::tcp;
    check.address = {"127.0.0.1", 8080, false};
    check.failures = 1;
    web.health = check;
  }
  return testing::config_with({db, web});
}

// A rig with `web` in `row`. In `stopping`, web ignores SIGTERM so that it stays there.
struct Table {
  explicit Table(Row row, bool probed = false) : rig(table_config(row, probed)) {
    auto& s = rig.supervisor;
    switch (row) {
      case Row::stopped:
        break;
      case Row::waiting:
        s.start(std::nullopt, "db");
        rig.exit("db");  // db backs off for 1 s
        s.start(std::nullopt, "web");
        break;
      case Row::starting:
      case Row::running:
        s.start(std::nullopt, "web");
        break;
      case Row::stopping:
        rig.spawner.ignore_terminate("web");
        s.start(std::nullopt, "web");
        stop_request = rig.request(9);
        s.stop(*stop_request, "web");
        break;
      case Row::backoff:
        s.start(std::nullopt, "web");
        rig.exit("web");
        break;
      case Row::failed:
        rig.spawner.fail_service("web", Error::system(2, "no web"));
        s.start(std::nullopt, "web");
        rig.spawner.allow_service("web");
        rig.settle();  // db, no longer needed, stops
        break;
      case Row::failed_rearm:
        s.start(std::nullopt, "web");
        rig.exit("web");  // max_restarts = 0: gives up at once, retry in 30 s
        rig.settle();
        break;
    }
    REQUIRE(rig.state_of("web") == expected_state(row));
    first_pid = rig.pid_of("web");
  }

  static ServiceState expected_state(Row row) {
    switch (row) {
      case Row::stopped:
        return ServiceState::stopped;
      case Row::waiting:
        return ServiceState::waiting;
      case Row::starting:
        return ServiceState::starting;
      case Row::running:
        return ServiceState::running;
      case Row::stopping:
        return ServiceState::stopping;
      case Row::backoff:
        return ServiceState::backoff;
      case Row::failed:
      case Row::failed_rearm:
        return ServiceState::failed;
    }
    return ServiceState::stopped;
  }

  // Sends `request` and returns its reply, if it was answered yet.
  template <class Input>
  std::optional<Reply> ask(Input input) {
    RequestRef ref = rig.request();
    input(ref);
    return rig.notifier.reply_to(ref);
  }
  bool has_deadline() { return rig.supervisor.status("web")->next_restart_at.has_value(); }
  bool new_process() { return rig.pid_of("web") && rig.pid_of("web") != first_pid; }

  SupervisorRig rig;
  std::optional<RequestRef> stop_request;
  std::optional<ProcessId> first_pid;
};

}  // namespace

TEST_CASE("start, in every state") {
  auto start = [](Table& t) {
    RequestRef ref = t.rig.request();
    t.rig.supervisor.start(ref, "web");
    return ref;
  };
  SUBCASE("stopped: activate, answered started once it runs") {
    Table t(Row::stopped);
    auto ref = start(t);
    CHECK(t.rig.state_of("db") == ServiceState::running);
    CHECK(t.rig.state_of("web") == ServiceState::running);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::started);
  }
  SUBCASE("waiting: a reference more, and the answer waits for the dependency") {
    Table t(Row::waiting);
    auto ref = start(t);
    CHECK(t.rig.state_of("web") == ServiceState::waiting);
    CHECK_FALSE(t.rig.notifier.reply_to(ref));
    CHECK(t.rig.supervisor.status("web")->refcount == 2);
    t.rig.advance(1s);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::started);
  }
  SUBCASE("running: already_running, a reference more") {
    Table t(Row::running);
    auto ref = start(t);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::already_running);
    CHECK(t.rig.supervisor.status("web")->refcount == 2);
  }
  SUBCASE("stopping: starts again once reaped") {
    Table t(Row::stopping);
    auto ref = start(t);
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    CHECK_FALSE(t.rig.notifier.reply_to(ref));
    t.rig.advance(5s, Exits::delivered);  // SIGKILL ends it
    CHECK(t.rig.state_of("web") == ServiceState::running);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::started);
    CHECK(t.rig.notifier.reply_to(*t.stop_request)->outcome == Outcome::stopped);
  }
  SUBCASE("backoff: spawns now") {
    Table t(Row::backoff);
    auto ref = start(t);
    CHECK(t.rig.state_of("web") == ServiceState::running);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::started);
    CHECK_FALSE(t.has_deadline());
  }
  SUBCASE("failed: activate") {
    Table t(Row::failed);
    auto ref = start(t);
    CHECK(t.rig.state_of("web") == ServiceState::running);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::started);
  }
  SUBCASE("failed with a re-arm pending: activate now, the re-arm goes") {
    Table t(Row::failed_rearm);
    auto ref = start(t);
    CHECK(t.rig.state_of("web") == ServiceState::running);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::started);
    CHECK_FALSE(t.has_deadline());
  }
}

TEST_CASE("stop of the last reference, in every state") {
  auto stop = [](Table& t) {
    RequestRef ref = t.rig.request();
    t.rig.supervisor.stop(ref, "web");
    return ref;
  };
  SUBCASE("stopped: not_running") {
    Table t(Row::stopped);
    CHECK(t.rig.notifier.reply_to(stop(t))->outcome == Outcome::not_running);
  }
  SUBCASE("waiting: stopped at once") {
    Table t(Row::waiting);
    CHECK(t.rig.notifier.reply_to(stop(t))->outcome == Outcome::stopped);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
  }
  SUBCASE("running: SIGTERM, answered once reaped") {
    Table t(Row::running);
    auto ref = stop(t);
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    CHECK_FALSE(t.rig.notifier.reply_to(ref));
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::stopped);
  }
  SUBCASE("stopping: answered once reaped, with the first stop") {
    Table t(Row::stopping);
    auto ref = stop(t);
    CHECK_FALSE(t.rig.notifier.reply_to(ref));
    t.rig.advance(5s, Exits::delivered);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::stopped);
    CHECK(t.rig.notifier.reply_to(*t.stop_request)->outcome == Outcome::stopped);
  }
  SUBCASE("backoff: stopped at once, the restart cancelled") {
    Table t(Row::backoff);
    CHECK(t.rig.notifier.reply_to(stop(t))->outcome == Outcome::stopped);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK_FALSE(t.has_deadline());
  }
  SUBCASE("failed: acknowledged, stopped") {
    Table t(Row::failed);
    CHECK(t.rig.notifier.reply_to(stop(t))->outcome == Outcome::not_running);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
  }
  SUBCASE("failed with a re-arm pending: stopped, the re-arm cancelled") {
    Table t(Row::failed_rearm);
    CHECK(t.rig.notifier.reply_to(stop(t))->outcome == Outcome::not_running);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK_FALSE(t.has_deadline());
  }
}

TEST_CASE("a stop while other references remain only drops one, in every state") {
  for (Row row : {Row::waiting, Row::running, Row::backoff}) {
    Table t(row);
    t.rig.supervisor.start(std::nullopt, "web");  // a second reference
    ServiceState before = t.rig.state_of("web");
    auto reply = t.ask([&](RequestRef ref) { t.rig.supervisor.stop(ref, "web"); });
    CHECK(reply->outcome == Outcome::still_referenced);
    CHECK(t.rig.state_of("web") == before);
  }
}

TEST_CASE("restart, in every state") {
  auto restart = [](Table& t) {
    RequestRef ref = t.rig.request();
    t.rig.supervisor.restart(ref, "web");
    return ref;
  };
  SUBCASE("stopped: started") {
    Table t(Row::stopped);
    CHECK(t.rig.notifier.reply_to(restart(t))->outcome == Outcome::started);
    CHECK(t.rig.state_of("web") == ServiceState::running);
  }
  SUBCASE("waiting: answered restarted once it runs") {
    Table t(Row::waiting);
    auto ref = restart(t);
    CHECK_FALSE(t.rig.notifier.reply_to(ref));
    t.rig.advance(1s);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::restarted);
  }
  SUBCASE("running: a group restart, a new process") {
    Table t(Row::running);
    auto ref = restart(t);
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.new_process());
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::restarted);
  }
  SUBCASE("stopping: starts again once reaped") {
    Table t(Row::stopping);
    auto ref = restart(t);
    t.rig.advance(5s, Exits::delivered);
    CHECK(t.rig.state_of("web") == ServiceState::running);
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::restarted);
  }
  SUBCASE("backoff: spawns now") {
    Table t(Row::backoff);
    CHECK(t.rig.notifier.reply_to(restart(t))->outcome == Outcome::restarted);
    CHECK(t.rig.state_of("web") == ServiceState::running);
  }
  SUBCASE("failed: started") {
    Table t(Row::failed);
    CHECK(t.rig.notifier.reply_to(restart(t))->outcome == Outcome::started);
    CHECK(t.rig.state_of("web") == ServiceState::running);
  }
  SUBCASE("failed with a re-arm pending: started") {
    Table t(Row::failed_rearm);
    CHECK(t.rig.notifier.reply_to(restart(t))->outcome == Outcome::started);
    CHECK_FALSE(t.has_deadline());
  }
}

TEST_CASE("reset, in every state") {
  for (Row row : {Row::stopped, Row::waiting, Row::running, Row::stopping, Row::backoff}) {
    CAPTURE(Table::expected_state(row));
    Table t(row);
    auto reply = t.ask([&](RequestRef ref) { t.rig.supervisor.reset(ref, "web"); });
    CHECK(reply->outcome == Outcome::reset);
    CHECK(t.rig.state_of("web") == Table::expected_state(row));
    CHECK(t.rig.supervisor.status("web")->next_backoff == 1s);
  }
  for (Row row : {Row::failed, Row::failed_rearm}) {
    Table t(row);
    auto reply = t.ask([&](RequestRef ref) { t.rig.supervisor.reset(ref, "web"); });
    CHECK(reply->outcome == Outcome::reset);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK_FALSE(t.has_deadline());
  }
}

TEST_CASE("a process exit, in every state") {
  SUBCASE("states without a process: an unknown pid changes nothing") {
    for (Row row : {Row::stopped, Row::waiting, Row::backoff, Row::failed, Row::failed_rearm}) {
      Table t(row);
      CHECK_FALSE(t.rig.supervisor.on_child_exit(424242, ExitStatus::exited(1)));
      CHECK(t.rig.state_of("web") == Table::expected_state(row));
    }
  }
  SUBCASE("running: decide_exit, here a backoff") {
    Table t(Row::running);
    t.rig.exit("web");
    CHECK(t.rig.state_of("web") == ServiceState::backoff);
  }
  SUBCASE("stopping, settle_stopped: stopped") {
    Table t(Row::stopping);
    t.rig.exit("web", ExitStatus::signaled(9));
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
  }
  SUBCASE("stopping, start_again: running with a new process") {
    Table t(Row::stopping);
    t.rig.supervisor.start(std::nullopt, "web");
    t.rig.exit("web", ExitStatus::signaled(9));
    CHECK(t.rig.state_of("web") == ServiceState::running);
    CHECK(t.new_process());
  }
  SUBCASE("stopping, settle_failed: failed, naming the dependency") {
    Config config = table_config(Row::running);
    config.services["db"].max_restarts = 0;  // its first crash fails it for good
    SupervisorRig rig(config);
    rig.spawner.ignore_terminate("web");
    rig.supervisor.start(std::nullopt, "web");
    rig.exit("db");
    CHECK(rig.state_of("db") == ServiceState::failed);
    CHECK(rig.state_of("web") == ServiceState::stopping);
    rig.exit("web", ExitStatus::signaled(9));
    CHECK(rig.state_of("web") == ServiceState::failed);
    CHECK(rig.supervisor.status("web")->last_error.find("dependency db failed") == 0);
  }
  SUBCASE("stopping, forget: the service is gone, its waiters answered") {
    Table t(Row::stopping);
    RequestRef start = t.rig.request();
    t.rig.supervisor.start(start, "web");
    REQUIRE(t.rig.supervisor.reload(testing::config_with({testing::service("db")})));
    CHECK(t.rig.notifier.reply_to(start)->outcome == Outcome::start_failed);
    t.rig.exit("web", ExitStatus::signaled(9));
    CHECK_FALSE(t.rig.supervisor.status("web"));
    CHECK(t.rig.notifier.reply_to(*t.stop_request)->outcome == Outcome::stopped);
  }
}

TEST_CASE("a deadline, in every state") {
  SUBCASE("states without a deadline of their own") {
    for (Row row : {Row::stopped, Row::running, Row::failed}) {
      Table t(row);
      CHECK_FALSE(t.has_deadline());
      t.rig.advance(1h);
      CHECK(t.rig.state_of("web") == Table::expected_state(row));
    }
  }
  SUBCASE("running with a health check: a probe is due every interval") {
    Table t(Row::running, true);
    t.rig.advance(10s);
    CHECK(t.rig.prober.in_flight("web"));
  }
  SUBCASE("stopping: SIGKILL after stop_timeout") {
    Table t(Row::stopping);
    t.rig.advance(5s);
    CHECK(t.rig.spawner.latest("web")->signals ==
          std::vector<StopSignal>{StopSignal::terminate, StopSignal::kill});
  }
  SUBCASE("backoff: spawn") {
    Table t(Row::backoff);
    t.rig.advance(1s);
    CHECK(t.rig.state_of("web") == ServiceState::running);
  }
  SUBCASE("failed with a re-arm pending: activate") {
    Table t(Row::failed_rearm);
    t.rig.advance(30s);
    CHECK(t.rig.state_of("web") == ServiceState::running);
  }
}

TEST_CASE("a health probe's result, in every state") {
  SUBCASE("running: a failure that makes it unhealthy stops the group, decide_failed follows") {
    Table t(Row::running, true);
    t.rig.advance(10s);
    CHECK(t.rig.probe("web", false, "Connection refused"));
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    CHECK(t.rig.supervisor.status("web")->health == HealthState::unhealthy);
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::backoff);
  }
  SUBCASE("running: a success makes it healthy") {
    Table t(Row::running, true);
    t.rig.advance(10s);
    CHECK(t.rig.probe("web", true));
    CHECK(t.rig.supervisor.status("web")->health == HealthState::healthy);
  }
  SUBCASE("every other row: no probe runs, and a result is refused without a change") {
    for (Row row : {Row::stopped, Row::waiting, Row::starting, Row::stopping, Row::backoff,
                    Row::failed, Row::failed_rearm}) {
      Table t(row, true);
      CHECK(t.rig.prober.started == 0);
      CHECK_FALSE(t.rig.supervisor.on_probe_result(1, {false, "late"}));
      CHECK(t.rig.state_of("web") == Table::expected_state(row));
    }
  }
}

TEST_CASE("a change of the configuration file, in every state") {
  SUBCASE("running after a healthy run: a group restart, counted") {
    Table t(Row::running);
    t.rig.advance(10s);
    t.rig.supervisor.on_file_changed("/etc/web.conf");
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.new_process());
    CHECK(t.rig.supervisor.status("web")->restarts == 1);
  }
  SUBCASE("running, recently started: a group restart after the backoff") {
    Table t(Row::running);
    t.rig.supervisor.on_file_changed("/etc/web.conf");
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::backoff);
    t.rig.advance(1s);
    CHECK(t.new_process());
    CHECK(t.rig.supervisor.status("web")->restarts == 1);
  }
  SUBCASE("running, restart intensity exhausted: stop group, then failed") {
    Table t(Row::failed_rearm);  // max_restarts = 0, re-armed after 30 s
    t.rig.advance(30s);
    REQUIRE(t.rig.state_of("web") == ServiceState::running);
    t.rig.supervisor.on_file_changed("/etc/web.conf");
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::failed);
    CHECK(t.has_deadline());  // the re-arm, as after crashes
  }
  SUBCASE("the other states, backoff included: nothing") {
    for (Row row : {Row::stopped, Row::waiting, Row::stopping, Row::backoff, Row::failed,
                    Row::failed_rearm}) {
      Table t(row);
      t.rig.supervisor.on_file_changed("/etc/web.conf");
      CHECK(t.rig.state_of("web") == Table::expected_state(row));
    }
  }
}

TEST_CASE("a hard dependency going down, in every state") {
  auto stop_db = [](Table& t) { t.rig.supervisor.stop(std::nullopt, "db"); };
  SUBCASE("waiting, backoff: stopped") {
    for (Row row : {Row::waiting, Row::backoff}) {
      Table t(row);
      stop_db(t);
      CHECK(t.rig.state_of("web") == ServiceState::stopped);
    }
  }
  SUBCASE("running: stopped first, then the dependency") {
    Table t(Row::running);
    stop_db(t);
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK(t.rig.state_of("db") == ServiceState::stopped);
  }
  SUBCASE("running, the dependency crashes: a group restart after it") {
    Table t(Row::running);
    t.rig.exit("db");
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::waiting);
    t.rig.advance(1s);
    CHECK(t.rig.state_of("web") == ServiceState::running);
    CHECK(t.new_process());
  }
  SUBCASE("stopping: it settles stopped") {
    Table t(Row::stopping);
    t.rig.supervisor.start(std::nullopt, "web");  // would start again ...
    stop_db(t);                                   // ... but its dependency is going
    t.rig.advance(5s, Exits::delivered);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
  }
  SUBCASE("stopped, failed, failed with a re-arm: nothing (they hold no dependency)") {
    for (Row row : {Row::stopped, Row::failed, Row::failed_rearm}) {
      Table t(row);
      t.rig.supervisor.start(std::nullopt, "db");
      stop_db(t);
      CHECK(t.rig.state_of("web") == Table::expected_state(row));
    }
  }
}

TEST_CASE("shutdown, in every state") {
  for (Row row : {Row::stopped, Row::waiting, Row::running, Row::stopping, Row::backoff}) {
    CAPTURE(Table::expected_state(row));
    Table t(row);
    t.rig.supervisor.shutdown(std::nullopt);
    t.rig.advance(10s, Exits::delivered);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK(t.rig.supervisor.finished());
  }
  for (Row row : {Row::failed, Row::failed_rearm}) {
    Table t(row);
    t.rig.supervisor.shutdown(std::nullopt);
    CHECK(t.rig.state_of("web") == ServiceState::failed);
    CHECK_FALSE(t.has_deadline());
  }
}

TEST_CASE("starting is the state during the spawn, and lasts only for it") {
  struct Observer final : Notifier {
    void reply(const Reply&) override {}
    void service_event(const ServiceEvent& event) override {
      if (event.service == "web") seen.push_back(event.state);
    }
    std::vector<ServiceState> seen;
  } observer;
  SupervisorRig rig(table_config(Row::stopped), observer);
  rig.supervisor.start(std::nullopt, "web");
  CHECK(observer.seen == std::vector<ServiceState>{ServiceState::starting, ServiceState::running});
}

TEST_CASE("the starting row (not ready yet), for every input") {
  SUBCASE("start: a reference more, answered already_running once it is ready") {
    Table t(Row::starting);
    RequestRef ref = t.rig.request();
    t.rig.supervisor.start(ref, "web");
    CHECK_FALSE(t.rig.notifier.reply_to(ref));
    t.rig.ready("web");
    CHECK(t.rig.notifier.reply_to(ref)->outcome == Outcome::already_running);
    CHECK(t.rig.supervisor.status("web")->refcount == 2);
  }
  SUBCASE("stop of the last reference: SIGTERM; its pending starts fail once it is reaped") {
    Table t(Row::starting);
    RequestRef start = t.rig.request();
    t.rig.supervisor.start(start, "web");
    t.rig.supervisor.stop_all_references(std::nullopt, "web");
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK(t.rig.notifier.reply_to(start)->outcome == Outcome::start_failed);
  }
  SUBCASE("stop with other references: one dropped, still starting") {
    Table t(Row::starting);
    t.rig.supervisor.start(std::nullopt, "web");
    auto reply = t.ask([&](RequestRef ref) { t.rig.supervisor.stop(ref, "web"); });
    CHECK(reply->outcome == Outcome::still_referenced);
    CHECK(t.rig.state_of("web") == ServiceState::starting);
  }
  SUBCASE("restart: a group restart; answered restarted when the new process is ready") {
    Table t(Row::starting);
    auto ref = t.ask([&](RequestRef r) { t.rig.supervisor.restart(r, "web"); });
    CHECK_FALSE(ref);
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::starting);
    CHECK(t.new_process());
    t.rig.ready("web");
    CHECK(t.rig.notifier.replies.back().outcome == Outcome::restarted);
  }
  SUBCASE("reset: only the history") {
    Table t(Row::starting);
    CHECK(t.ask([&](RequestRef r) { t.rig.supervisor.reset(r, "web"); })->outcome ==
          Outcome::reset);
    CHECK(t.rig.state_of("web") == ServiceState::starting);
  }
  SUBCASE("a process exit: its starts fail naming it; decide_exit, here a backoff") {
    Table t(Row::starting);
    t.rig.exit("web");
    CHECK(t.rig.state_of("web") == ServiceState::backoff);
  }
  SUBCASE("a deadline: not ready within start_timeout, stopped, then the restart policy") {
    Table t(Row::starting);
    t.rig.advance(20s, Exits::delivered);
    CHECK(t.rig.state_of("web") == ServiceState::backoff);
    CHECK(t.rig.supervisor.status("web")->last_error == "not ready within 20s");
  }
  SUBCASE("a change of the configuration file: as running (recently started: after a backoff)") {
    Table t(Row::starting);
    t.rig.supervisor.on_file_changed("/etc/web.conf");
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::backoff);
  }
  SUBCASE("a hard dependency stops: stopped first, then the dependency") {
    Table t(Row::starting);
    t.rig.supervisor.stop(std::nullopt, "db");
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
  }
  SUBCASE("a hard dependency crashes: a group restart after it") {
    Table t(Row::starting);
    t.rig.exit("db");
    CHECK(t.rig.state_of("web") == ServiceState::stopping);
    t.rig.settle();
    CHECK(t.rig.state_of("web") == ServiceState::waiting);
  }
  SUBCASE("shutdown: stopped") {
    Table t(Row::starting);
    t.rig.supervisor.shutdown(std::nullopt);
    t.rig.advance(10s, Exits::delivered);
    CHECK(t.rig.state_of("web") == ServiceState::stopped);
    CHECK(t.rig.supervisor.finished());
  }
  SUBCASE("ready: running") {
    Table t(Row::starting);
    t.rig.ready("web");
    CHECK(t.rig.state_of("web") == ServiceState::running);
  }
}

// The `listening` row (issue 14): web with start = on-demand and a socket, at rest. It is the
// stopped row, but for the client that starts it and for shutdown.
TEST_CASE("the listening row, input by input") {
  auto rig_listening = [] {
    ServiceSpec web = testing::service("web");
    web.listen = {*parse_listen_socket("tcp:127.0.0.1:8080")};
    web.start = StartMode::on_demand;
    web.config_file = "/etc/web.conf";
    return testing::config_with({web});
  };
  SupervisorRig rig(rig_listening());
  REQUIRE(rig.state_of("web") == ServiceState::listening);
  SUBCASE("start: activate, answered started once it runs") {
    auto start = rig.request();
    rig.supervisor.start(start, "web");
    CHECK(rig.notifier.reply_to(start)->outcome == Outcome::started);
    CHECK(rig.state_of("web") == ServiceState::running);
  }
  SUBCASE("stop: not_running, still listening") {
    auto stop = rig.request();
    rig.supervisor.stop(stop, "web");
    CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::not_running);
    CHECK(rig.state_of("web") == ServiceState::listening);
  }
  SUBCASE("restart: started") {
    auto restart = rig.request();
    rig.supervisor.restart(restart, "web");
    CHECK(rig.notifier.reply_to(restart)->outcome == Outcome::started);
  }
  SUBCASE("reset: only the history") {
    auto reset = rig.request();
    rig.supervisor.reset(reset, "web");
    CHECK(rig.notifier.reply_to(reset)->outcome == Outcome::reset);
    CHECK(rig.state_of("web") == ServiceState::listening);
  }
  SUBCASE("a change of the configuration file: nothing") {
    rig.supervisor.on_file_changed("/etc/web.conf");
    CHECK(rig.state_of("web") == ServiceState::listening);
    CHECK(rig.spawner.spawn_count() == 0);
  }
  SUBCASE("a client: activate with a reference answered to nobody") {
    CHECK(rig.connect("web"));
    CHECK(rig.state_of("web") == ServiceState::running);
    CHECK(rig.supervisor.status("web")->refcount == 1);
  }
  SUBCASE("shutdown: stopped, no longer listening") {
    rig.supervisor.shutdown(std::nullopt);
    CHECK(rig.state_of("web") == ServiceState::stopped);
    CHECK_FALSE(rig.listeners.watching("web"));
  }
}
