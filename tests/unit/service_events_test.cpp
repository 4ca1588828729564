// ServiceEvent's structured fields (issue 16 item 5): the pid, the exit status and the restart
// delay an embedder reads without parsing `detail`.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
Config web_with_backoff(Milliseconds backoff) {
  auto spec = testing::service("web");
  spec.backoff_initial = backoff;
  spec.backoff_max = backoff * 4;
  return testing::config_with({spec});
}

// The events since `from` (an index into rig.notifier.events).
std::vector<ServiceEvent> events_since(const SupervisorRig& rig, std::size_t from) {
  return {rig.notifier.events.begin() + static_cast<std::ptrdiff_t>(from),
          rig.notifier.events.end()};
}
}  // namespace

TEST_CASE("a started service's running event carries its new pid, and no exit or delay") {
  SupervisorRig rig(web_with_backoff(100ms));
  rig.supervisor.start(rig.request(), "web");
  const ServiceEvent& running = rig.notifier.events.back();
  CHECK(running.state == ServiceState::running);
  CHECK(running.pid == rig.pid_of("web"));
  CHECK_FALSE(running.exit);
  CHECK_FALSE(running.restart_delay);
}

TEST_CASE("a crash emits an event carrying the exit status, the pid that exited and the delay") {
  SupervisorRig rig(web_with_backoff(100ms));
  rig.supervisor.start(rig.request(), "web");
  ProcessId crashed = *rig.pid_of("web");
  rig.exit("web", ExitStatus::signaled(11));
  const ServiceEvent& backoff = rig.notifier.events.back();
  CHECK(backoff.previous == ServiceState::running);
  CHECK(backoff.state == ServiceState::backoff);
  CHECK(backoff.pid == crashed);
  CHECK(backoff.exit == ExitStatus::signaled(11));
  CHECK(backoff.restart_delay == 100ms);

  // The restart's events are about the new process: nothing of the crash is left in them.
  std::size_t mark = rig.notifier.events.size();
  rig.advance(100ms);
  auto after = events_since(rig, mark);
  REQUIRE(after.size() == 2);
  CHECK(after[0].state == ServiceState::starting);
  CHECK_FALSE(after[0].pid);  // told before the spawn
  CHECK_FALSE(after[0].exit);
  CHECK_FALSE(after[0].restart_delay);
  CHECK(after[1].state == ServiceState::running);
  CHECK(after[1].pid == rig.pid_of("web"));
  CHECK(after[1].pid != crashed);
  CHECK_FALSE(after[1].exit);

  rig.exit("web", ExitStatus::exited(3));  // the backoff doubles
  CHECK(rig.notifier.events.back().restart_delay == 200ms);
  CHECK(rig.notifier.events.back().exit == ExitStatus::exited(3));
}

TEST_CASE("a stop tells the pid it stops, then the exit that ended it") {
  SupervisorRig rig(web_with_backoff(100ms));
  rig.supervisor.start(rig.request(), "web");
  ProcessId pid = *rig.pid_of("web");
  rig.supervisor.stop(rig.request(), "web");
  const ServiceEvent stopping = rig.notifier.events.back();
  CHECK(stopping.state == ServiceState::stopping);
  CHECK(stopping.pid == pid);
  CHECK_FALSE(stopping.exit);
  rig.settle();
  const ServiceEvent& stopped = rig.notifier.events.back();
  CHECK(stopped.previous == ServiceState::stopping);
  CHECK(stopped.state == ServiceState::stopped);
  CHECK(stopped.pid == pid);
  CHECK(stopped.exit == ExitStatus::signaled(15));
  CHECK_FALSE(stopped.restart_delay);
}

TEST_CASE("a restart carries the old process's exit in its first event only") {
  SupervisorRig rig(web_with_backoff(100ms));
  rig.supervisor.start(rig.request(), "web");
  ProcessId old_pid = *rig.pid_of("web");
  rig.supervisor.restart(rig.request(), "web");
  std::size_t mark = rig.notifier.events.size();
  rig.settle();
  auto after = events_since(rig, mark);
  REQUIRE(after.size() == 2);
  CHECK(after[0].state == ServiceState::starting);
  CHECK(after[0].pid == old_pid);
  CHECK(after[0].exit == ExitStatus::signaled(15));
  CHECK(after[1].state == ServiceState::running);
  CHECK(after[1].pid == rig.pid_of("web"));
  CHECK_FALSE(after[1].exit);
}

TEST_CASE("a service that gives up with a re-arm pending tells when it tries again") {
  auto spec = testing::service("web");
  spec.max_restarts = 0;
  spec.retry_failed_after = 5min;
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  ProcessId pid = *rig.pid_of("web");
  rig.exit("web", ExitStatus::exited(1));
  const ServiceEvent& failed = rig.notifier.events.back();
  CHECK(failed.state == ServiceState::failed);
  CHECK(failed.pid == pid);
  CHECK(failed.exit == ExitStatus::exited(1));
  CHECK(failed.restart_delay == 5min);
}

TEST_CASE("a service that fails without a restart carries its exit and no delay") {
  auto spec = testing::service("web");
  spec.restart = RestartPolicy::never;
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("web", ExitStatus::exited(2));
  const ServiceEvent& failed = rig.notifier.events.back();
  CHECK(failed.state == ServiceState::failed);
  CHECK(failed.exit == ExitStatus::exited(2));
  CHECK_FALSE(failed.restart_delay);
}

TEST_CASE("a main process that exits leaving others tells its exit when the stop of them begins") {
  SupervisorRig rig(web_with_backoff(100ms));
  rig.supervisor.start(rig.request(), "web");
  ProcessId pid = *rig.pid_of("web");
  rig.exit_leaving_processes("web", ExitStatus::exited(0));
  const ServiceEvent& stopping = rig.notifier.events.back();
  CHECK(stopping.state == ServiceState::stopping);
  CHECK(stopping.pid == pid);
  CHECK(stopping.exit == ExitStatus::exited(0));
}

TEST_CASE("an exit reaches only the event of the service that exited, not its dependents'") {
  auto db = testing::service("db");
  db.backoff_initial = 100ms;
  auto web = testing::service("web");
  web.depends_on = {"db"};
  SupervisorRig rig(testing::config_with({db, web}));
  rig.supervisor.start(rig.request(), "web");
  std::size_t mark = rig.notifier.events.size();
  rig.exit("db", ExitStatus::exited(1));
  for (const ServiceEvent& event : events_since(rig, mark)) {
    CAPTURE(event.service);
    CAPTURE(event.detail);
    if (event.service == "web") CHECK_FALSE(event.exit);
  }
  CHECK(rig.notifier.events[mark].service == "db");
  CHECK(rig.notifier.events[mark].exit == ExitStatus::exited(1));
}
