// Reload: only what changed is touched.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
Config three_services() {
  return testing::config_with(
      {testing::service("keep"), testing::service("change"), testing::service("drop")});
}
struct ThreeRunning : SupervisorRig {
  ThreeRunning() : SupervisorRig(three_services()) {
    for (auto name : {"keep", "change", "drop"}) supervisor.start(request(), name);
  }
};
}  // namespace

TEST_CASE("reload restarts only services whose launch settings changed") {
  ThreeRunning rig;
  ProcessId keep = *rig.pid_of("keep");
  ProcessId change = *rig.pid_of("change");
  auto next = three_services();
  next.services["change"].options = {"--new"};

  auto summary = rig.supervisor.reload(next).value();
  rig.settle();
  CHECK(summary.restarted == std::vector<std::string>{"change"});
  CHECK(*rig.pid_of("keep") == keep);
  CHECK(*rig.pid_of("change") != change);
  CHECK(rig.spawner.latest("change")->request.argv ==
        std::vector<std::string>{"/usr/bin/change", "--new"});
  CHECK(rig.supervisor.status("change")->refcount == 1);
}

TEST_CASE("reload adds new services stopped and stops removed ones") {
  ThreeRunning rig;
  auto next = three_services();
  next.services.erase("drop");
  next.services.emplace("fresh", testing::service("fresh"));

  auto summary = rig.supervisor.reload(next).value();
  CHECK(summary.added == std::vector<std::string>{"fresh"});
  CHECK(summary.removed == std::vector<std::string>{"drop"});
  CHECK(rig.state_of("fresh") == ServiceState::stopped);
  CHECK(rig.state_of("drop") == ServiceState::stopping);
  rig.settle();
  CHECK_FALSE(rig.supervisor.status("drop"));
  CHECK(rig.spawner.live().size() == 2);
}

TEST_CASE("settings that need no new process are applied without a restart") {
  ThreeRunning rig;
  ProcessId keep = *rig.pid_of("keep");
  auto next = three_services();
  next.services["keep"].stop_timeout = 9s;
  next.services["keep"].restart = RestartPolicy::never;

  auto summary = rig.supervisor.reload(next).value();
  CHECK(summary.updated == std::vector<std::string>{"keep"});
  CHECK(summary.restarted.empty());
  CHECK(*rig.pid_of("keep") == keep);
  rig.exit("keep", ExitStatus::exited(1));
  CHECK(rig.state_of("keep") == ServiceState::failed);  // the new policy is in force
}

TEST_CASE("a new global prefix restarts the services that use it") {
  ThreeRunning rig;
  auto next = three_services();
  next.arm.global_prefix = {"nice"};
  next.services["keep"].prefix = std::vector<std::string>{};
  auto summary = rig.supervisor.reload(next).value();
  CHECK(summary.restarted == std::vector<std::string>{"change", "drop"});
}

TEST_CASE("reloading the same configuration changes nothing") {
  ThreeRunning rig;
  auto summary = rig.supervisor.reload(three_services()).value();
  CHECK(summary.added.empty());
  CHECK(summary.removed.empty());
  CHECK(summary.restarted.empty());
  CHECK(summary.updated.empty());
  CHECK(rig.spawner.spawn_count() == 3);
}

TEST_CASE("a service newly listed as default is started by the reload") {
  ThreeRunning rig;
  auto next = three_services();
  next.services.emplace("fresh", testing::service("fresh"));
  next.arm.default_services = {"fresh"};
  REQUIRE(rig.supervisor.reload(next));
  CHECK(rig.state_of("fresh") == ServiceState::running);
}

TEST_CASE("a reload moves the watch to a service's new configuration file") {
  auto config = three_services();
  config.services["keep"].config_file = "/etc/old.conf";
  SupervisorRig rig(config);
  auto next = config;
  next.services["keep"].config_file = "/etc/new.conf";
  REQUIRE(rig.supervisor.reload(next));
  CHECK_FALSE(rig.watcher.watching("/etc/old.conf"));
  CHECK(rig.watcher.watching("/etc/new.conf"));
}

TEST_CASE("config() puts the running configuration back together; settings() and the count agree") {
  auto first = testing::config_with({testing::service("web"), testing::service("db")});
  first.arm.default_services = {"web"};
  SupervisorRig rig(first);
  CHECK(rig.supervisor.config() == first);
  CHECK(rig.supervisor.service_count() == 2);

  auto second = testing::config_with({testing::service("web")});
  second.arm.socket = "/run/other.sock";
  REQUIRE(rig.supervisor.reload(second));
  CHECK(rig.supervisor.config() == second);
  CHECK(rig.supervisor.settings().socket == "/run/other.sock");
  CHECK(rig.supervisor.service_count() == 1);
}

// The supervisor's index by name views each service's own name: a reload that replaces the
// settings must leave that view valid, also for names too long to be stored inline.
TEST_CASE("a service with a long name is still found after reloads replace its settings") {
  const std::string name = "a-service-name-far-too-long-for-a-small-string-buffer";
  SupervisorRig rig(testing::config_with({testing::service(name)}));
  rig.supervisor.start(rig.request(), name);
  for (int round = 1; round <= 3; ++round) {
    auto next = testing::config_with({testing::service(name)});
    next.services[name].stop_timeout = std::chrono::seconds(round);
    CHECK(rig.supervisor.reload(next).value().updated == std::vector<std::string>{name});
  }
  CHECK(rig.state_of(name) == ServiceState::running);
  CHECK(rig.supervisor.status(name)->name == name);
  rig.supervisor.stop(rig.request(), name);
  rig.settle();
  CHECK(rig.state_of(name) == ServiceState::stopped);
}

TEST_CASE("a new readiness or watchdog restarts the service; a new start_timeout does not") {
  // The process learns its readiness channel and watchdog interval when it is executed
  // ($NOTIFY_SOCKET, the readiness descriptor, $WATCHDOG_USEC): a change needs a new process.
  ThreeRunning rig;
  ProcessId keep = *rig.pid_of("keep");
  auto next = three_services();
  next.services["change"].readiness = {.kind = Readiness::Kind::fd, .fd = 3};
  next.services["drop"].start_timeout = 5s;
  auto summary = rig.supervisor.reload(next).value();
  CHECK(summary.restarted == std::vector<std::string>{"change"});
  CHECK(summary.updated == std::vector<std::string>{"drop"});
  CHECK(*rig.pid_of("keep") == keep);
  rig.settle();
  CHECK(rig.spawner.latest("change")->request.readiness ==
        Readiness{.kind = Readiness::Kind::fd, .fd = 3});

  auto watched = next;
  watched.services["keep"].readiness.kind = Readiness::Kind::notify;
  rig.supervisor.reload(watched).value();
  rig.settle();
  auto with_watchdog = watched;
  with_watchdog.services["keep"].watchdog = 10s;
  summary = rig.supervisor.reload(with_watchdog).value();
  CHECK(summary.restarted == std::vector<std::string>{"keep"});
  rig.settle();
  CHECK(rig.spawner.latest("keep")->request.watchdog == 10s);
}

// Services whose settings are equal share one block of them in the core (issue 9): a reload
// that changes one service's settings gives it a block of its own and leaves the others' alone.
TEST_CASE("a reload that changes one of several services with equal settings changes only it") {
  SupervisorRig rig(three_services());
  rig.spawner.ignore_terminate("keep");
  rig.spawner.ignore_terminate("change");
  for (auto name : {"keep", "change"}) rig.supervisor.start(rig.request(), name);
  ProcessId change = *rig.pid_of("change");
  auto next = three_services();
  next.services["change"].stop_timeout = 1s;  // applied without a restart

  auto summary = rig.supervisor.reload(next).value();
  CHECK(summary.updated == std::vector<std::string>{"change"});
  CHECK(*rig.pid_of("change") == change);
  CHECK(rig.supervisor.config() == next);

  // Both ignore SIGTERM: change is killed after its new 1 s, keep after the 5 s it had.
  rig.supervisor.stop(rig.request(), "keep");
  rig.supervisor.stop(rig.request(), "change");
  rig.advance(1100ms, testing::Exits::delivered);
  CHECK(rig.state_of("change") == ServiceState::stopped);
  CHECK(rig.state_of("keep") == ServiceState::stopping);
  rig.advance(4000ms, testing::Exits::delivered);
  CHECK(rig.state_of("keep") == ServiceState::stopped);
}
