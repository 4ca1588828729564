// What the core makes of a host that works against it (issue 16): an exit whose status someone
// else reaped, and a configuration file the FileWatcher cannot watch.
#include <doctest/doctest.h>

#include <string>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"
#include "exit_policy.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
const std::string lost_text =
    "exit status lost (reaped by someone else: is SIGCHLD ignored, or does the host wait for any "
    "child?)";
}  // namespace

TEST_CASE("a lost exit status says so, and is never clean") {
  CHECK(describe(ExitStatus::lost()) == lost_text);
  CHECK_FALSE(ExitStatus::lost().clean());
  CHECK(ExitStatus::lost() != ExitStatus::exited(0));
}

TEST_CASE("a lost exit status is a failure whatever exit codes are listed as success") {
  auto spec = testing::service("web");
  spec.success_exit_codes = {0, 255};
  spec.permanent_failure_exit_codes = {78};
  CHECK(detail::classify_exit(spec, ExitStatus::lost()) == detail::ExitClass::failure);
  // What the spawner reported before it could say "lost": a success code here.
  CHECK(detail::classify_exit(spec, ExitStatus::exited(255)) == detail::ExitClass::clean);
}

TEST_CASE("an on-failure service whose exit status was lost restarts after the backoff") {
  auto spec = testing::service("web");
  spec.restart = RestartPolicy::on_failure;
  spec.backoff_initial = 100ms;
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  ProcessId first = *rig.pid_of("web");

  rig.exit("web", ExitStatus::lost());
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::backoff);
  CHECK(status.last_exit == ExitStatus::lost());
  CHECK(status.last_error == "exited unexpectedly with " + lost_text);
  rig.advance(100ms);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(*rig.pid_of("web") != first);
}

TEST_CASE("a service that is not restarted after a lost exit status is failed, not stopped") {
  auto spec = testing::service("batch");
  spec.restart = RestartPolicy::never;
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "batch");
  rig.exit("batch", ExitStatus::lost());
  CHECK(rig.state_of("batch") == ServiceState::failed);
  CHECK(rig.supervisor.status("batch")->last_error == "exited with " + lost_text);
}

TEST_CASE("a lost exit status survives a handover") {
  auto spec = testing::service("batch");
  spec.restart = RestartPolicy::never;
  Config config = testing::config_with({spec});
  SupervisorRig rig(config);
  rig.supervisor.start(rig.request(), "batch");
  rig.exit("batch", ExitStatus::lost());
  std::string text = rig.supervisor.handover();
  CHECK(text.find("kind = \"lost\"") != std::string::npos);

  testing::FakeClock clock;
  clock.set(rig.clock.now());
  testing::FakeSpawner spawner;
  testing::RecordingNotifier notifier;
  auto resumed = ServiceSupervisor::resume(text, config, clock, spawner, notifier);
  REQUIRE(resumed.has_value());
  CHECK((*resumed)->status("batch")->last_exit == ExitStatus::lost());
}

TEST_CASE("a configuration file that cannot be watched shows in its service's status") {
  auto web = testing::service("web");
  SupervisorRig rig(testing::config_with({web, testing::service("db")}));
  rig.watcher.refuse("/etc/web.conf");
  web.config_file = "/etc/web.conf";
  REQUIRE(rig.supervisor.reload(testing::config_with({web, testing::service("db")})));

  CHECK(rig.watcher.watching("/etc/web.conf"));  // asked all the same: unwatched as usual
  CHECK(rig.supervisor.status("web")->watch_error ==
        "cannot watch /etc/web.conf for changes: Permission denied");
  CHECK(rig.supervisor.status("db")->watch_error.empty());
}

TEST_CASE("a service that reads a watchable file again has no watch error any more") {
  auto web = testing::service("web");
  web.config_file = "/etc/web.conf";
  SupervisorRig rig(testing::config_with({testing::service("web")}));
  rig.watcher.refuse("/etc/web.conf");
  REQUIRE(rig.supervisor.reload(testing::config_with({web})));
  REQUIRE_FALSE(rig.supervisor.status("web")->watch_error.empty());

  web.config_file = "/etc/web-new.conf";
  REQUIRE(rig.supervisor.reload(testing::config_with({web})));
  CHECK(rig.supervisor.status("web")->watch_error.empty());
  CHECK_FALSE(rig.watcher.watching("/etc/web.conf"));
}
