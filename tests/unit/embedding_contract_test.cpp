// The embedder's contract: callbacks that call back, the deadline listener, re-entry refused,
// configurations checked, and every request answered exactly once.
#include <doctest/doctest.h>

#include <stdexcept>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

TEST_CASE("a notifier may call back into the supervisor: a stop from inside a starting event") {
  struct StopWhenStarting final : Notifier {
    void reply(const Reply&) override {}
    void service_event(const ServiceEvent& event) override {
      if (event.state == ServiceState::starting && supervisor)
        supervisor->stop(std::nullopt, "web");
    }
    ServiceSupervisor* supervisor = nullptr;
  } notifier;
  SupervisorRig rig(testing::config_with({testing::service("web")}), notifier);
  notifier.supervisor = &rig.supervisor;
  rig.supervisor.start(std::nullopt, "web");
  // The stop ran after the start had finished: a consistent stopping service, never a running
  // one with refcount 0.
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(rig.supervisor.status("web")->refcount == 0);
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.spawner.live().empty());
}

TEST_CASE("notifications arrive in order, including those of calls made from a notifier") {
  struct Restarter final : Notifier {
    void reply(const Reply& reply) override {
      order.push_back(std::string("reply ") + std::string(to_string(reply.outcome)));
      if (reply.outcome == Outcome::started) supervisor->restart(RequestRef{7, 1}, "web");
    }
    void service_event(const ServiceEvent& event) override {
      order.push_back(std::string("event ") + std::string(to_string(event.state)));
    }
    ServiceSupervisor* supervisor = nullptr;
    std::vector<std::string> order;
  } notifier;
  SupervisorRig rig(testing::config_with({testing::service("web")}), notifier);
  notifier.supervisor = &rig.supervisor;
  rig.supervisor.start(rig.request(), "web");
  rig.settle();
  CHECK(notifier.order == std::vector<std::string>{
                              "event starting", "event running", "reply started", "event stopping",
                              "event starting", "event running", "reply restarted"});
}

TEST_CASE("a spawner that calls back into the supervisor is refused") {
  struct ReenteringSpawner final : Spawner {
    std::expected<ProcessId, SpawnError> spawn(const SpawnRequest&) override {
      supervisor->stop(std::nullopt, "web");
      return 1;
    }
    void signal_group(ProcessId, StopSignal) override {}
    void signal_process(ProcessId, ReloadSignal) override {}
    ServiceSupervisor* supervisor = nullptr;
  } spawner;
  testing::FakeClock clock;
  testing::RecordingNotifier notifier;
  ServiceSupervisor supervisor(testing::config_with({testing::service("web")}), clock, spawner,
                               notifier);
  spawner.supervisor = &supervisor;
  CHECK_THROWS_AS(supervisor.start(std::nullopt, "web"), std::logic_error);
}

TEST_CASE("the deadline listener hears every change of the earliest deadline") {
  SupervisorRig rig(testing::config_with({testing::service("web")}));
  std::vector<std::optional<TimePoint>> told;
  rig.supervisor.set_deadline_listener([&](std::optional<TimePoint> at) { told.push_back(at); });
  REQUIRE(told.size() == 1);  // the current one, when set
  CHECK_FALSE(told[0]);

  rig.supervisor.start(std::nullopt, "web");
  CHECK(told.size() == 1);  // no deadline came or went
  rig.supervisor.stop(std::nullopt, "web");
  REQUIRE(told.size() == 2);  // SIGKILL due after stop_timeout
  CHECK(told[1] == rig.clock.now() + 5s);
  rig.settle();
  REQUIRE(told.size() == 3);
  CHECK_FALSE(told[2]);
}

TEST_CASE("a host driven only by the listener sends the SIGKILL on time") {
  SupervisorRig rig(testing::config_with({testing::service("web")}));
  std::optional<TimePoint> timer;  // the host's one timer, armed only by the listener
  rig.supervisor.set_deadline_listener([&](std::optional<TimePoint> at) { timer = at; });
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(std::nullopt, "web");
  rig.supervisor.stop(std::nullopt, "web");
  REQUIRE(timer);
  rig.clock.set(*timer);
  rig.supervisor.on_timer();
  CHECK(rig.spawner.latest("web")->signals.back() == StopSignal::kill);
}

TEST_CASE("a configuration whose names disagree is refused with every problem at once") {
  Config config = testing::config_with({testing::service("web"), testing::service("db")});
  config.services["web"].name = "";
  config.services["db"].binary = "";
  config.services["db"].depends_on = {"nosuch"};
  config.arm.default_services = {"ghost"};
  testing::FakeClock clock;
  testing::FakeSpawner spawner;
  testing::RecordingNotifier notifier;

  auto created = ServiceSupervisor::create(config, clock, spawner, notifier);
  REQUIRE_FALSE(created);
  std::vector<std::string> keys;
  for (const auto& error : created.error()) keys.push_back(error.key);
  CHECK(keys == std::vector<std::string>{"services.db.binary", "services.web.name",
                                         "arm.default_services[0]", "services.db.depends_on[0]"});
  CHECK_THROWS_AS(ServiceSupervisor(config, clock, spawner, notifier), std::invalid_argument);
}

TEST_CASE("a reload with a bad configuration changes nothing and says why") {
  SupervisorRig rig(testing::config_with({testing::service("web")}));
  rig.supervisor.start(std::nullopt, "web");
  Config bad = testing::config_with({testing::service("web")});
  bad.services["web"].name = "other";
  auto result = rig.supervisor.reload(bad);
  REQUIRE_FALSE(result);
  CHECK(result.error().front().key == "services.web.name");
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE("requests naming a service a reload removed are answered, while it stops and after") {
  SupervisorRig rig(testing::config_with({testing::service("web"), testing::service("db")}));
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(std::nullopt, "web");
  REQUIRE(rig.supervisor.reload(testing::config_with({testing::service("db")})));
  REQUIRE(rig.state_of("web") == ServiceState::stopping);

  for (auto request : {&ServiceSupervisor::start, &ServiceSupervisor::restart,
                       &ServiceSupervisor::stop, &ServiceSupervisor::reset}) {
    RequestRef ref = rig.request();
    (rig.supervisor.*request)(ref, "web");
    CHECK(rig.notifier.replies_count_for(ref) == 1);
    CHECK(rig.notifier.reply_to(ref)->outcome == Outcome::unknown_service);
  }
  rig.advance(5s, testing::Exits::delivered);
  RequestRef after = rig.request();
  rig.supervisor.start(after, "web");
  CHECK(rig.notifier.reply_to(after)->outcome == Outcome::unknown_service);
}

TEST_CASE("a start waiting on a service stopping for a reload is answered when it is removed") {
  SupervisorRig rig(testing::config_with({testing::service("web")}));
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(std::nullopt, "web");
  rig.supervisor.stop(std::nullopt, "web");
  RequestRef start = rig.request();
  rig.supervisor.start(start, "web");  // waits for the old process
  REQUIRE(rig.supervisor.reload(testing::config_with({})));
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::start_failed);
  rig.advance(5s, testing::Exits::delivered);
  CHECK(rig.notifier.replies_count_for(start) == 1);
}

TEST_CASE("replies queued for a client that goes away from inside a notifier are dropped") {
  struct Disconnecter final : Notifier {
    void reply(const Reply& reply) override {
      delivered.push_back(reply.to);
      if (reply.to.client == 1) supervisor->client_gone(2);
    }
    void service_event(const ServiceEvent&) override {}
    ServiceSupervisor* supervisor = nullptr;
    std::vector<RequestRef> delivered;
  } notifier;
  SupervisorRig rig(testing::config_with({testing::service("web")}), notifier);
  notifier.supervisor = &rig.supervisor;
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(std::nullopt, "web");
  rig.supervisor.stop(std::nullopt, "web");
  RequestRef one{1, 1};
  RequestRef two{2, 1};
  rig.supervisor.start(one, "web");
  rig.supervisor.start(two, "web");
  rig.advance(5s, testing::Exits::delivered);  // both answered by one exit: 1 first, then 2
  CHECK(notifier.delivered == std::vector<RequestRef>{one});
}

TEST_CASE("outcomes that mean failure") {
  CHECK(is_failure(Outcome::unknown_service));
  CHECK(is_failure(Outcome::start_failed));
  CHECK(is_failure(Outcome::shutting_down));
  CHECK_FALSE(is_failure(Outcome::not_running));
  CHECK_FALSE(is_failure(Outcome::still_referenced));
}

TEST_CASE("a notifier may destroy the supervisor, on shutdown_complete say") {
  struct Owner final : Notifier {
    void reply(const Reply& reply) override {
      if (reply.outcome == Outcome::shutdown_complete) supervisor.reset();
    }
    void service_event(const ServiceEvent&) override {}
    std::unique_ptr<ServiceSupervisor> supervisor;
  } owner;
  testing::FakeClock clock;
  testing::FakeSpawner spawner;
  owner.supervisor = std::make_unique<ServiceSupervisor>(
      testing::config_with({testing::service("web")}), clock, spawner, owner);
  owner.supervisor->set_deadline_listener([](std::optional<TimePoint>) {});
  owner.supervisor->shutdown(RequestRef{1, 1});  // ASan would see a use after free
  CHECK_FALSE(owner.supervisor);
}

TEST_CASE("a call made while an unrelated exception unwinds still delivers its notifications") {
  SupervisorRig rig(testing::config_with({testing::service("web")}));
  std::vector<std::optional<TimePoint>> told;
  rig.supervisor.set_deadline_listener([&](std::optional<TimePoint> at) { told.push_back(at); });
  rig.supervisor.start(std::nullopt, "web");
  struct StopOnUnwind {
    ServiceSupervisor& supervisor;
    ~StopOnUnwind() { supervisor.stop(std::nullopt, "web"); }
  };
  try {
    StopOnUnwind guard{rig.supervisor};
    throw 42;
  } catch (int) {
  }
  CHECK(told.size() == 2);
  CHECK(rig.notifier.events.back().state == ServiceState::stopping);
}

TEST_CASE("a deadline listener that calls back ends up told the current deadline") {
  auto crashy = testing::service("crashy");
  crashy.backoff_initial = 0ms;
  SupervisorRig rig(testing::config_with({crashy, testing::service("slow")}));
  rig.spawner.ignore_terminate("slow");
  rig.supervisor.start(std::nullopt, "slow");
  rig.supervisor.start(std::nullopt, "crashy");
  std::optional<TimePoint> timer;
  rig.supervisor.set_deadline_listener([&](std::optional<TimePoint> at) {
    if (at && *at <= rig.clock.now()) rig.supervisor.on_timer();  // due already: handle it now
    timer = at;
  });
  rig.supervisor.stop(std::nullopt, "slow");  // SIGKILL due in 5 s
  rig.exit("crashy");                         // a restart due now, handled from the listener
  CHECK(rig.state_of("crashy") == ServiceState::running);
  CHECK(rig.supervisor.next_deadline() == rig.clock.now() + 5s);
  CHECK(timer == rig.supervisor.next_deadline());
}

TEST_CASE("a deadline listener may replace itself") {
  SupervisorRig rig(testing::config_with({testing::service("web")}));
  int first = 0;
  int second = 0;
  rig.supervisor.set_deadline_listener([&](std::optional<TimePoint>) {
    ++first;
    rig.supervisor.set_deadline_listener([&](std::optional<TimePoint>) { ++second; });
  });
  rig.supervisor.start(std::nullopt, "web");
  rig.supervisor.stop(std::nullopt, "web");
  CHECK(first == 1);
  CHECK(second >= 1);
}
