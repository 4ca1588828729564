// A main process that exits while other processes of its service still run (workers, a program
// that forked into the background): what it left gets a graceful stop, then the restart policy
// decides on the main process's exit.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
Config web(RestartPolicy policy = RestartPolicy::on_failure) {
  auto spec = testing::service("web");
  spec.restart = policy;
  spec.stop_timeout = 5s;
  spec.backoff_initial = 100ms;
  spec.backoff_max = 100ms;
  return testing::config_with({spec});
}

bool has_text(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("what a crashed main process left gets SIGTERM, and SIGKILL only after stop_timeout") {
  SupervisorRig rig(web());
  rig.supervisor.start(rig.request(), "web");
  rig.spawner.ignore_terminate("web");  // (affects new processes only)
  ProcessId pid = *rig.pid_of("web");
  rig.exit_leaving_processes("web", ExitStatus::exited(3));
  CHECK(rig.state_of("web") == ServiceState::stopping);
  const auto* process = rig.spawner.process(pid);
  REQUIRE(process->signals.size() == 1);
  CHECK(process->signals[0] == StopSignal::terminate);
  rig.advance(4s);  // within the grace: nothing more
  CHECK(rig.spawner.process(pid)->signals.size() == 1);
  rig.settle();  // the workers finish on SIGTERM
  // The policy decided on the main process's exit code 3, not on the workers' SIGTERM.
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::backoff);
  CHECK(status.last_exit == ExitStatus::exited(3));
  CHECK(has_text(status.last_error, "exit code 3 and left processes running"));
  rig.advance(100ms);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.pid_of("web") != pid);
}

TEST_CASE("remains that ignore SIGTERM are killed after stop_timeout") {
  SupervisorRig rig(web());
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(rig.request(), "web");
  ProcessId pid = *rig.pid_of("web");
  rig.exit_leaving_processes("web", ExitStatus::exited(1));
  rig.advance(5s, testing::Exits::delivered);
  const auto* process = rig.spawner.process(pid);
  REQUIRE(process->signals.size() == 2);
  CHECK(process->signals[1] == StopSignal::kill);
  CHECK(rig.state_of("web") == ServiceState::backoff);
  CHECK(rig.supervisor.status("web")->last_exit == ExitStatus::exited(1));
}

TEST_CASE("a program that forks into the background and exits 0 is said to do so") {
  SupervisorRig rig(web());
  rig.supervisor.start(rig.request(), "web");
  rig.exit_leaving_processes("web", ExitStatus::exited(0));
  rig.settle();
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::stopped);  // a clean exit, under on-failure
  CHECK(has_text(status.last_error, "does it fork into the background?"));
  bool told = false;
  for (const auto& event : rig.notifier.events)
    told = told || has_text(event.detail, "does it fork into the background?");
  CHECK(told);
}

TEST_CASE("a stop while the remains are going settles stopped, answered once they are gone") {
  SupervisorRig rig(web(RestartPolicy::always));
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(rig.request(), "web");
  rig.exit_leaving_processes("web", ExitStatus::exited(1));
  auto stop = rig.request();
  rig.supervisor.stop(stop, "web");
  CHECK_FALSE(rig.notifier.reply_to(stop));
  rig.advance(5s, testing::Exits::delivered);
  REQUIRE(rig.notifier.reply_to(stop));
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK(rig.state_of("web") == ServiceState::stopped);
}

TEST_CASE("a main process that exits during a stop does not cut the others' grace") {
  SupervisorRig rig(web());
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(rig.request(), "web");
  ProcessId pid = *rig.pid_of("web");
  auto stop = rig.request();
  rig.supervisor.stop(stop, "web");
  rig.exit_leaving_processes("web", ExitStatus::signaled(15));  // the main obeys SIGTERM
  rig.advance(4s);
  CHECK(rig.spawner.process(pid)->signals.size() == 1);  // no early SIGKILL
  CHECK_FALSE(rig.notifier.reply_to(stop));
  rig.advance(1s, testing::Exits::delivered);
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK(rig.supervisor.status("web")->last_exit == ExitStatus::signaled(15));
}

TEST_CASE("shutdown while the remains are going stops for good") {
  SupervisorRig rig(web(RestartPolicy::always));
  rig.supervisor.start(rig.request(), "web");
  rig.exit_leaving_processes("web", ExitStatus::exited(1));
  rig.supervisor.shutdown(rig.request());
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.supervisor.finished());
}

TEST_CASE("the backoff measures the run to the main process's exit, not to the end of the stop") {
  auto spec = testing::service("web");
  spec.stop_timeout = 5s;
  spec.backoff_initial = 100ms;
  spec.backoff_max = 10s;
  spec.backoff_reset_after = 1s;  // shorter than the stop of what is left
  SupervisorRig rig(testing::config_with({spec}));
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(rig.request(), "web");
  // Each run lasts 100 ms, each stop of the remains the whole 5 s: the backoff must double.
  std::vector<Milliseconds> delays;
  for (int i = 0; i < 3; ++i) {
    rig.advance(100ms);
    rig.exit_leaving_processes("web", ExitStatus::exited(1));
    rig.advance(5s, testing::Exits::delivered);
    REQUIRE(rig.state_of("web") == ServiceState::backoff);
    auto status = *rig.supervisor.status("web");
    delays.push_back(
        std::chrono::duration_cast<Milliseconds>(*status.next_restart_at - rig.clock.now()));
    rig.advance(delays.back(), testing::Exits::delivered);
    REQUIRE(rig.state_of("web") == ServiceState::running);
  }
  CHECK(delays[0] == 100ms);
  CHECK(delays[1] == 200ms);
  CHECK(delays[2] == 400ms);
}

TEST_CASE("a dependent started while its dependency's remains are going starts them both") {
  auto cache = testing::service("cache");
  cache.restart = RestartPolicy::on_failure;
  auto web = testing::service("web");
  web.depends_on = {"cache"};
  SupervisorRig rig(testing::config_with({cache, web}));
  rig.supervisor.start(rig.request(), "cache");
  rig.exit_leaving_processes("cache", ExitStatus::exited(0));  // a clean exit: would settle
  auto start = rig.request();
  rig.supervisor.start(start, "web");
  rig.settle();
  REQUIRE(rig.notifier.reply_to(start));
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::started);
  CHECK(rig.state_of("cache") == ServiceState::running);
  CHECK(rig.state_of("web") == ServiceState::running);
}
