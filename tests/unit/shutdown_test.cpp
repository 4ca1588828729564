// Shutdown: new starts refused, everything stopped, answered once every process is reaped.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
Config with_slow_service() {
  auto slow = testing::service("slow");
  slow.stop_timeout = 3s;
  return testing::config_with({testing::service("a"), testing::service("b"), slow});
}

// a, b and slow running; slow ignores SIGTERM.
struct ThreeRunning : SupervisorRig {
  ThreeRunning() : SupervisorRig(with_slow_service()) {
    spawner.ignore_terminate("slow");
    for (auto name : {"a", "b", "slow"}) supervisor.start(request(), name);
  }
};
}  // namespace

TEST_CASE("shutdown stops every service and is answered once all are reaped") {
  SupervisorRig rig(testing::config_with({testing::service("a"), testing::service("b")}));
  rig.supervisor.start(rig.request(), "a");
  rig.supervisor.start(rig.request(), "b");
  auto shutdown = rig.request(9);
  rig.supervisor.shutdown(shutdown);
  CHECK(rig.state_of("a") == ServiceState::stopping);
  CHECK(rig.state_of("b") == ServiceState::stopping);
  CHECK_FALSE(rig.notifier.reply_to(shutdown));
  CHECK_FALSE(rig.supervisor.finished());

  rig.settle();
  CHECK(rig.notifier.reply_to(shutdown)->outcome == Outcome::shutdown_complete);
  CHECK(rig.supervisor.finished());
  CHECK(rig.spawner.live().empty());
}

TEST_CASE("a service that ignores SIGTERM holds shutdown up only until its stop_timeout") {
  ThreeRunning rig;
  ProcessId slow = *rig.pid_of("slow");
  auto shutdown = rig.request();
  rig.supervisor.shutdown(shutdown);
  rig.settle();
  CHECK(rig.spawner.process(slow)->alive);
  CHECK_FALSE(rig.notifier.reply_to(shutdown));
  rig.advance(2999ms);
  rig.settle();
  CHECK_FALSE(rig.notifier.reply_to(shutdown));
  rig.advance(1ms);
  rig.settle();
  CHECK(rig.notifier.reply_to(shutdown));
  CHECK(rig.supervisor.finished());
  CHECK(rig.spawner.signals_after_exit() == 0);
}

TEST_CASE("shutdown's reply names the services that needed SIGKILL") {
  ThreeRunning rig;
  auto shutdown = rig.request();
  rig.supervisor.shutdown(shutdown);
  rig.settle();
  rig.advance(3s);
  rig.settle();
  auto reply = rig.notifier.reply_to(shutdown);
  REQUIRE(reply);
  CHECK(reply->killed);
  CHECK(reply->message ==
        "every service is stopped; killed with SIGKILL (did not exit within their stop_timeout "
        "of SIGTERM): slow");
}

TEST_CASE("shutdown's reply claims no SIGKILL when every service left on SIGTERM") {
  SupervisorRig rig(testing::config_with({testing::service("a")}));
  rig.supervisor.start(rig.request(), "a");
  auto shutdown = rig.request();
  rig.supervisor.shutdown(shutdown);
  rig.settle();
  CHECK_FALSE(rig.notifier.reply_to(shutdown)->killed);
  CHECK(rig.notifier.reply_to(shutdown)->message == "every service is stopped");
}

TEST_CASE("shutdown refuses new starts and restarts") {
  ThreeRunning rig;
  rig.supervisor.shutdown(rig.request());
  auto start = rig.request();
  rig.supervisor.start(start, "a");
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::shutting_down);
  auto restart = rig.request();
  rig.supervisor.restart(restart, "b");
  CHECK(rig.notifier.reply_to(restart)->outcome == Outcome::shutting_down);
}

TEST_CASE("crashes during shutdown are not restarted, and backoffs are dropped") {
  SupervisorRig rig(testing::config_with({testing::service("a"), testing::service("b")}));
  rig.supervisor.start(rig.request(), "a");
  rig.supervisor.start(rig.request(), "b");
  rig.exit("b");  // b is in backoff
  auto shutdown = rig.request();
  rig.supervisor.shutdown(shutdown);
  CHECK(rig.state_of("b") == ServiceState::stopped);
  rig.exit("a", ExitStatus::signaled(11));
  CHECK(rig.state_of("a") == ServiceState::stopped);
  CHECK(rig.notifier.reply_to(shutdown));
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("a client waiting for a start during shutdown is told it will not happen") {
  SupervisorRig rig(testing::config_with({testing::service("a")}));
  rig.supervisor.start(rig.request(), "a");
  rig.supervisor.stop(rig.request(), "a");
  auto start = rig.request(2);
  rig.supervisor.start(start, "a");  // waits for the old process to go
  rig.supervisor.shutdown(std::nullopt);
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::shutting_down);
  rig.settle();
  CHECK(rig.spawner.live().empty());
  CHECK(rig.notifier.replies_count_for(start) == 1);
}

TEST_CASE("shutdown with nothing running is complete at once") {
  SupervisorRig rig(testing::config_with({testing::service("a")}));
  auto shutdown = rig.request();
  rig.supervisor.shutdown(shutdown);
  CHECK(rig.notifier.reply_to(shutdown)->outcome == Outcome::shutdown_complete);
  CHECK(rig.supervisor.finished());
}
