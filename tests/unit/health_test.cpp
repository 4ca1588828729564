// Health probes in the core (issue 13): once a service is ready, the supervisor asks its Prober
// for a probe every `interval`, gives each `timeout`, and counts failures in a row; `failures` of
// them make the service unhealthy, and (on_unhealthy = restart) it is stopped and its restart
// policy decides as for a failed exit.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::Exits;
using testing::SupervisorRig;

namespace {

ServiceSpec probed(std::string name, HealthCheck::Kind kind = HealthCheck::Kind::tcp) {
  ServiceSpec spec = testing::service(std::move(name));
  HealthCheck check;
  check.kind = kind;
  if (kind == HealthCheck::Kind::exec) {
    check.command = {"check"};
  } else {
    check.address = {"127.0.0.1", 8080, false};
  }
  check.interval = 10s;
  check.timeout = 2s;
  check.failures = 3;
  spec.health = check;
  spec.backoff_initial = 1s;
  return spec;
}

HealthState health_of(const SupervisorRig& rig, std::string_view name) {
  return rig.supervisor.status(name)->health;
}

// Moves time to the next probe and answers it.
void probe_after_interval(SupervisorRig& rig, std::string_view name, bool healthy,
                          std::string detail = {}) {
  rig.advance(10s);
  REQUIRE(rig.prober.in_flight(name));
  rig.probe(name, healthy, std::move(detail));
}

}  // namespace

TEST_CASE("a service without a health check has health none and is never probed") {
  SupervisorRig rig(testing::config_with({testing::service("web")}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(60s);
  CHECK(health_of(rig, "web") == HealthState::none);
  CHECK(rig.prober.started == 0);
}

TEST_CASE("the first probe runs one interval after ready; its result sets the health") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  CHECK(health_of(rig, "web") == HealthState::unknown);
  rig.advance(9s);
  CHECK(rig.prober.started == 0);
  rig.advance(1s);
  auto probe = rig.prober.in_flight("web");
  REQUIRE(probe);
  CHECK(probe->kind == HealthCheck::Kind::tcp);
  CHECK(probe->main_pid == *rig.pid_of("web"));

  CHECK(rig.probe("web", true, "connected"));
  auto status = rig.supervisor.status("web");
  CHECK(status->health == HealthState::healthy);
  CHECK(status->health_detail == "connected");
  CHECK(status->health_checked_at == rig.clock.now());
  const ServiceEvent& event = rig.notifier.events.back();
  CHECK(event.health == HealthState::healthy);
  CHECK(event.state == ServiceState::running);
  CHECK(event.previous == ServiceState::running);
}

TEST_CASE("probes run one at a time, start to start every interval") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(10s);
  rig.advance(1s);
  rig.probe("web", true);  // answered 1 s after it started
  rig.advance(8s);
  CHECK_FALSE(rig.prober.in_flight("web"));
  rig.advance(1s);  // 10 s after the previous start
  CHECK(rig.prober.in_flight("web"));
  CHECK(rig.prober.started == 2);
}

TEST_CASE("failures in a row make it unhealthy, then it is restarted by its restart policy") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  ProcessId first = *rig.pid_of("web");
  probe_after_interval(rig, "web", false, "Connection refused");
  probe_after_interval(rig, "web", false, "Connection refused");
  CHECK(rig.supervisor.status("web")->health_failures == 2);
  CHECK(health_of(rig, "web") == HealthState::unknown);  // not yet: 2 of 3
  CHECK(rig.state_of("web") == ServiceState::running);

  probe_after_interval(rig, "web", false, "Connection refused");
  CHECK(health_of(rig, "web") == HealthState::unhealthy);
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(rig.spawner.process(first)->signals.back() == StopSignal::terminate);
  auto status = rig.supervisor.status("web");
  CHECK(status->last_error ==
        "unhealthy: 3 health checks failed in a row (last: Connection refused)");

  rig.settle();  // SIGTERM ends it: a failure, whatever its exit code
  CHECK(rig.state_of("web") == ServiceState::backoff);
  rig.advance(1s);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(*rig.pid_of("web") != first);
  CHECK(rig.supervisor.status("web")->restarts == 1);
  CHECK(health_of(rig, "web") == HealthState::unknown);  // ready again, not probed yet
}

TEST_CASE("a success in between starts the count again") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  probe_after_interval(rig, "web", false);
  probe_after_interval(rig, "web", false);
  probe_after_interval(rig, "web", true);
  probe_after_interval(rig, "web", false);
  probe_after_interval(rig, "web", false);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.supervisor.status("web")->health_failures == 2);
}

TEST_CASE("a probe that does not answer within its timeout is cancelled and counts as failed") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(10s);
  auto probe = rig.prober.in_flight("web");
  REQUIRE(probe);
  rig.advance(2s);
  CHECK_FALSE(rig.prober.in_flight("web"));
  CHECK(rig.prober.cancelled == std::vector<ProbeId>{probe->id});
  auto status = rig.supervisor.status("web");
  CHECK(status->health_failures == 1);
  CHECK(status->health_detail == "timed out after 2s");
  // Its late answer is ignored.
  CHECK_FALSE(rig.supervisor.on_probe_result(probe->id, {true, {}}));
  CHECK(rig.supervisor.status("web")->health_failures == 1);
  rig.advance(8s);  // the next one is due 10 s after the late one started
  CHECK(rig.prober.in_flight("web"));
}

TEST_CASE("on_unhealthy = ignore only reports it, and a success makes it healthy again") {
  ServiceSpec web = probed("web");
  web.health->on_unhealthy = HealthCheck::OnUnhealthy::ignore;
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 4; ++i) probe_after_interval(rig, "web", false, "HTTP 503");
  CHECK(health_of(rig, "web") == HealthState::unhealthy);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.supervisor.status("web")->health_failures == 4);
  probe_after_interval(rig, "web", true, "HTTP 200");
  CHECK(health_of(rig, "web") == HealthState::healthy);
}

TEST_CASE("failures within start_period do not count until a probe succeeds") {
  ServiceSpec web = probed("web");
  web.health->start_period = 35s;
  web.health->failures = 1;
  SupervisorRig rig(testing::config_with({web}));

  SUBCASE("failing inside the period: not counted; after it: counted") {
    rig.supervisor.start(rig.request(), "web");
    probe_after_interval(rig, "web", false);  // 10 s
    probe_after_interval(rig, "web", false);  // 20 s
    probe_after_interval(rig, "web", false);  // 30 s
    CHECK(rig.state_of("web") == ServiceState::running);
    CHECK(rig.supervisor.status("web")->health_failures == 0);
    probe_after_interval(rig, "web", false);  // 40 s: past the period
    CHECK(health_of(rig, "web") == HealthState::unhealthy);
    CHECK(rig.state_of("web") == ServiceState::stopping);
  }
  SUBCASE("a success ends the period early") {
    rig.supervisor.start(rig.request(), "web");
    probe_after_interval(rig, "web", true);   // 10 s
    probe_after_interval(rig, "web", false);  // 20 s: counted
    CHECK(rig.state_of("web") == ServiceState::stopping);
  }
}

TEST_CASE("a notify service is probed only once it is ready") {
  ServiceSpec web = probed("web");
  web.readiness.kind = Readiness::Kind::notify;
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(30s);
  CHECK(rig.prober.started == 0);
  rig.ready("web");
  rig.advance(10s);
  CHECK(rig.prober.in_flight("web"));
}

TEST_CASE("a probe in flight is cancelled when the service stops, crashes or restarts") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(10s);
  auto probe = rig.prober.in_flight("web");
  REQUIRE(probe);

  SUBCASE("stop") {
    rig.supervisor.stop(rig.request(), "web");
  }
  SUBCASE("crash") {
    rig.exit("web");
  }
  SUBCASE("restart") {
    rig.supervisor.restart(rig.request(), "web");
  }

  CHECK(rig.prober.cancelled == std::vector<ProbeId>{probe->id});
  CHECK_FALSE(rig.supervisor.on_probe_result(probe->id, {false, {}}));
}

TEST_CASE("healthy is forgotten when it stops; unhealthy is kept to say why it restarts") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  probe_after_interval(rig, "web", true);
  rig.supervisor.stop(rig.request(), "web");
  CHECK(health_of(rig, "web") == HealthState::unknown);
}

TEST_CASE("the watchdog and the probes share the running service's deadline") {
  ServiceSpec web = probed("web");
  web.readiness.kind = Readiness::Kind::notify;
  web.watchdog = 3s;
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  rig.ready("web");
  for (int i = 0; i < 4; ++i) {  // keep-alives every 2.5 s: 10 s in all
    rig.advance(2500ms);
    rig.notify("web", {.watchdog = true});
  }
  REQUIRE(rig.prober.in_flight("web"));  // the probe came due between two keep-alives
  rig.probe("web", true);
  rig.advance(3s);  // no keep-alive: the watchdog still fires
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(rig.supervisor.status("web")->last_error.starts_with("watchdog timeout"));
}

TEST_CASE("a reload that changes the check probes afresh without a restart; removing it stops") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  ProcessId pid = *rig.pid_of("web");
  rig.advance(10s);
  auto probe = rig.prober.in_flight("web");
  REQUIRE(probe);

  SUBCASE("changed") {
    ServiceSpec changed = probed("web");
    changed.health->interval = 20s;
    auto summary = rig.supervisor.reload(testing::config_with({changed}));
    REQUIRE(summary);
    CHECK(summary->updated == std::vector<std::string>{"web"});
    CHECK(*rig.pid_of("web") == pid);
    CHECK(rig.prober.cancelled == std::vector<ProbeId>{probe->id});
    rig.advance(19s);
    CHECK_FALSE(rig.prober.in_flight("web"));
    rig.advance(1s);
    CHECK(rig.prober.in_flight("web"));
  }
  SUBCASE("removed") {
    auto summary = rig.supervisor.reload(testing::config_with({testing::service("web")}));
    REQUIRE(summary);
    CHECK(*rig.pid_of("web") == pid);
    CHECK(rig.prober.cancelled == std::vector<ProbeId>{probe->id});
    CHECK(health_of(rig, "web") == HealthState::none);
    rig.advance(60s);
    CHECK(rig.prober.started == 1);
    CHECK_FALSE(rig.supervisor.next_deadline());
  }
}

TEST_CASE("without a prober, health checks are not run and health stays unknown") {
  testing::FakeClock clock;
  testing::FakeSpawner spawner;
  testing::RecordingNotifier notifier;
  ServiceSupervisor supervisor(testing::config_with({probed("web")}), clock, spawner, notifier);
  supervisor.start(std::nullopt, "web");
  CHECK(supervisor.status("web")->health == HealthState::unknown);
  CHECK_FALSE(supervisor.next_deadline());
}

TEST_CASE("a service dropped by a reload and brought back without its check is not probed") {
  // Dropped while it runs, it is still stopping when the next reload brings it back, without a
  // health check: the record of its old probes must not set the deadline of its next run.
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  probe_after_interval(rig, "web", true);
  REQUIRE(rig.supervisor.reload(testing::config_with({})));
  REQUIRE(rig.state_of("web") == ServiceState::stopping);
  REQUIRE(rig.supervisor.reload(testing::config_with({testing::service("web")})));
  rig.settle();
  REQUIRE(rig.state_of("web") == ServiceState::stopped);

  rig.supervisor.start(rig.request(), "web");
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(health_of(rig, "web") == HealthState::none);
  REQUIRE_FALSE(rig.supervisor.next_deadline());  // (else on_timer below would spin)
  rig.advance(60s);  // the old probes' next start passes: nothing to do then
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.prober.started == 1);
}

TEST_CASE("a reload that changes the check of a running service says so, not that it stopped") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  probe_after_interval(rig, "web", true);
  REQUIRE(health_of(rig, "web") == HealthState::healthy);
  std::size_t before = rig.notifier.events.size();

  ServiceSpec changed = probed("web");
  HealthState expected = HealthState::unknown;
  SUBCASE("changed") {
    changed.health->interval = 20s;
  }
  SUBCASE("removed") {
    changed.health.reset();
    expected = HealthState::none;
  }
  REQUIRE(rig.supervisor.reload(testing::config_with({changed})));
  REQUIRE(rig.notifier.events.size() == before + 1);
  const ServiceEvent& event = rig.notifier.events.back();
  CHECK(event.state == ServiceState::running);
  CHECK(event.health == expected);
  CHECK(event.detail.find("not running") == std::string::npos);
  CHECK(event.detail.find("health check") != std::string::npos);
  CHECK(health_of(rig, "web") == expected);
}

TEST_CASE("a probe result delivered from inside a Notifier callback is taken, its events after") {
  ServiceSpec web = probed("web");
  web.health->failures = 1;
  SupervisorRig rig(testing::config_with({web, testing::service("db")}));
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.start(rig.request(), "db");
  rig.advance(10s);
  auto probe = rig.prober.in_flight("web");
  REQUIRE(probe);

  struct AnswersOnDbEvent final : Notifier {
    SupervisorRig* rig = nullptr;
    ProbeId id = 0;
    bool answered = false;
    bool taken = false;
    void reply(const Reply&) override {}
    void service_event(const ServiceEvent& event) override {
      if (event.service != "db" || answered) return;
      answered = true;
      rig->prober.answered(id);
      taken = rig->supervisor.on_probe_result(id, {false, "refused"});
    }
  } host;
  host.rig = &rig;
  host.id = probe->id;
  rig.notifier.forward_to = &host;
  rig.exit("db");
  CHECK(host.taken);
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(health_of(rig, "web") == HealthState::unhealthy);
  CHECK(rig.notifier.events.back().service == "web");
  CHECK(rig.prober.cancelled.empty());
  CHECK_FALSE(rig.supervisor.on_probe_result(probe->id, {true, {}}));
}

TEST_CASE("a service removed by a reload with a probe in flight: cancelled once, then forgotten") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(10s);
  auto probe = rig.prober.in_flight("web");
  REQUIRE(probe);
  REQUIRE(rig.supervisor.reload(testing::config_with({})));
  CHECK(rig.prober.cancelled == std::vector<ProbeId>{probe->id});
  rig.settle();
  CHECK_FALSE(rig.supervisor.status("web"));
  CHECK_FALSE(rig.supervisor.on_probe_result(probe->id, {false, {}}));
  rig.advance(60s);
  CHECK(rig.prober.cancelled == std::vector<ProbeId>{probe->id});
  CHECK(rig.prober.started == 1);
}

TEST_CASE("on_probe_result during shutdown is ignored: every probe was cancelled") {
  SupervisorRig rig(testing::config_with({probed("web")}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(10s);
  auto probe = rig.prober.in_flight("web");
  REQUIRE(probe);
  rig.supervisor.shutdown(rig.request());
  CHECK(rig.prober.cancelled == std::vector<ProbeId>{probe->id});
  CHECK_FALSE(rig.supervisor.on_probe_result(probe->id, {false, {}}));
  rig.settle();
  CHECK(rig.supervisor.finished());
  CHECK(rig.prober.started == 1);
}

TEST_CASE("a probe the host could not run counts neither way: the next one is due as usual") {
  ServiceSpec web = probed("web");
  web.health->failures = 1;
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  rig.advance(10s);
  auto probe = rig.prober.in_flight("web");
  REQUIRE(probe);
  rig.prober.answered(probe->id);
  CHECK(rig.supervisor.on_probe_result(
      probe->id, {.healthy = false, .detail = "socket: Too many open files", .ran = false}));
  CHECK(rig.state_of("web") == ServiceState::running);
  auto status = rig.supervisor.status("web");
  CHECK(status->health == HealthState::unknown);
  CHECK(status->health_failures == 0);
  CHECK(status->health_detail == "socket: Too many open files");
  rig.advance(10s);
  CHECK(rig.prober.in_flight("web"));
}
