// The restart controls: intensity limit with re-arm, exit-code classes, jitter, reset.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
// "web" restarts after 100 ms (no doubling), at most 3 times within 10 s.
Config limited(std::optional<Milliseconds> retry_failed_after = std::nullopt) {
  auto spec = testing::service("web");
  spec.backoff_initial = 100ms;
  spec.backoff_max = 100ms;
  spec.max_restarts = 3;
  spec.restart_window = 10s;
  spec.retry_failed_after = retry_failed_after;
  return testing::config_with({spec});
}

void crash_and_wait(SupervisorRig& rig) {
  rig.exit("web");
  rig.advance(100ms);
}
}  // namespace

TEST_CASE("more crashes than max_restarts within the window leave the service failed") {
  SupervisorRig rig(limited());
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.start(rig.request(), "web");  // two references
  for (int i = 0; i < 3; ++i) crash_and_wait(rig);
  CHECK(rig.state_of("web") == ServiceState::running);
  rig.exit("web");
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::failed);
  CHECK(status.refcount == 0);
  CHECK(status.last_error.find("restarted 3 times within 10s") != std::string::npos);
  CHECK_FALSE(rig.supervisor.next_deadline());  // no restart loop
  rig.advance(1h);
  CHECK(rig.state_of("web") == ServiceState::failed);
}

TEST_CASE("automatic restarts that cannot spawn count towards max_restarts like crashes") {
  SupervisorRig rig(limited());
  rig.supervisor.start(rig.request(), "web");
  // The binary is gone: every automatic restart fails to spawn.
  rig.spawner.fail_service("web", Error::system(2, "cannot execute /usr/bin/web: gone"));
  rig.exit("web");  // the crash: 1 restart
  for (int i = 0; i < 10 && rig.state_of("web") == ServiceState::backoff; ++i) rig.advance(100ms);
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::failed);
  CHECK(status.last_error.starts_with("cannot execute /usr/bin/web: gone"));
  CHECK(status.last_error.find("restarted 3 times within 10s") != std::string::npos);
  CHECK_FALSE(rig.supervisor.next_deadline());  // not retried forever
}

TEST_CASE("a re-armed service whose binary is still missing fails again at the limit") {
  SupervisorRig rig(limited(1min));
  rig.supervisor.start(rig.request(), "web");
  rig.spawner.fail_service("web", Error::system(2, "cannot execute /usr/bin/web: gone"));
  rig.exit("web");
  for (int i = 0; i < 10 && rig.state_of("web") == ServiceState::backoff; ++i) rig.advance(100ms);
  CHECK(rig.state_of("web") == ServiceState::failed);
  rig.advance(1min);  // the re-arm: the spawn fails again, and backs off within the limit
  for (int i = 0; i < 10 && rig.state_of("web") == ServiceState::backoff; ++i) rig.advance(100ms);
  CHECK(rig.state_of("web") == ServiceState::failed);
  CHECK(rig.supervisor.status("web")->next_restart_at.has_value());
}

TEST_CASE("crashes spread wider than the window never trip the limit") {
  SupervisorRig rig(limited());
  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 10; ++i) {
    crash_and_wait(rig);
    rig.advance(4s);  // at most 3 restarts fall in any 10 s
  }
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE("a failed service re-arms itself after retry_failed_after, with its references") {
  SupervisorRig rig(limited(10min));
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 4; ++i) crash_and_wait(rig);
  CHECK(rig.state_of("web") == ServiceState::failed);
  CHECK(*rig.supervisor.status("web")->next_restart_at == rig.clock.now() + 10min - 100ms);
  rig.advance(10min);
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::running);
  CHECK(status.refcount == 2);
  // The limit starts counting afresh.
  for (int i = 0; i < 3; ++i) crash_and_wait(rig);
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE("an explicit start or a reset clears the failure; stop cancels a re-arm") {
  SupervisorRig rig(limited(10min));
  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 4; ++i) crash_and_wait(rig);
  auto reset = rig.request();
  rig.supervisor.reset(reset, "web");
  CHECK(rig.notifier.reply_to(reset)->outcome == Outcome::reset);
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK_FALSE(rig.supervisor.next_deadline());

  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 4; ++i) crash_and_wait(rig);
  CHECK(rig.state_of("web") == ServiceState::failed);
  auto start = rig.request();
  rig.supervisor.start(start, "web");
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::started);
  CHECK_FALSE(rig.supervisor.next_deadline());

  for (int i = 0; i < 4; ++i) crash_and_wait(rig);
  rig.supervisor.stop(rig.request(), "web");
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("success exit codes count as clean, permanent failure codes stop restarts at once") {
  auto spec = testing::service("web");
  spec.restart = RestartPolicy::on_failure;
  spec.success_exit_codes = {0, 143};
  spec.permanent_failure_exit_codes = {78};
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("web", ExitStatus::exited(143));
  CHECK(rig.state_of("web") == ServiceState::stopped);

  rig.supervisor.start(rig.request(), "web");
  rig.exit("web", ExitStatus::exited(1));
  CHECK(rig.state_of("web") == ServiceState::backoff);
  rig.advance(100ms);
  rig.exit("web", ExitStatus::exited(78));
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::failed);
  CHECK(status.last_error == "exited with exit code 78 (a permanent failure exit code)");
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("a permanent failure code stops even an always-restarted service") {
  auto spec = testing::service("web");
  spec.permanent_failure_exit_codes = {78};
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("web", ExitStatus::exited(78));
  CHECK(rig.state_of("web") == ServiceState::failed);
}

TEST_CASE("jitter moves each delay by up to the configured fraction, from injected randomness") {
  auto spec = testing::service("web");
  spec.backoff_initial = 1000ms;
  spec.backoff_max = 60s;
  spec.backoff_jitter = 0.2;
  SupervisorRig rig(testing::config_with({spec}));
  rig.random.queued = {0.0, 1.0, 0.5};
  rig.supervisor.start(rig.request(), "web");
  for (auto expected : {800ms, 2400ms, 4000ms}) {  // 1 s -20 %, 2 s +20 %, 4 s exactly
    CAPTURE(expected.count());
    rig.exit("web");
    CHECK(*rig.supervisor.status("web")->next_restart_at == rig.clock.now() + expected);
    rig.advance(expected);
    CHECK(rig.state_of("web") == ServiceState::running);
  }
}

TEST_CASE("by default a service that keeps crashing is failed after 5 restarts within 60 s") {
  auto spec = testing::service("web");  // nothing about restarts set: the defaults
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 5; ++i) {
    rig.exit("web");
    rig.advance(*rig.supervisor.status("web")->next_restart_at - rig.clock.now());
    CHECK(rig.state_of("web") == ServiceState::running);
  }
  rig.exit("web");
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::failed);
  CHECK(status.last_error.find("restarted 5 times within 60s") != std::string::npos);
}

TEST_CASE("unlimited restarts with backoff_initial 0 wait the minimum delay each time") {
  auto spec = testing::service("web");
  spec.max_restarts = std::nullopt;
  spec.backoff_initial = 0ms;
  spec.backoff_jitter = 0.5;  // jitter cannot take it below the minimum either
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 50; ++i) {
    rig.exit("web");
    CHECK(rig.state_of("web") == ServiceState::backoff);
    CHECK(*rig.supervisor.status("web")->next_restart_at >=
          rig.clock.now() + minimum_unlimited_restart_delay);
    rig.advance(2 * minimum_unlimited_restart_delay);
    CHECK(rig.state_of("web") == ServiceState::running);
  }
}

TEST_CASE("backoff_initial 0 with a restart limit restarts at once: the limit bounds the loop") {
  auto spec = testing::service("web");
  spec.backoff_initial = 0ms;  // max_restarts: the default 5
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("web");
  rig.advance(0ms);
  CHECK(rig.state_of("web") == ServiceState::running);
}
