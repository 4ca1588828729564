// Crashes: exact backoff timing, doubling to the cap, the reset after a healthy run, and the
// restart policies.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
Config crashing_config(RestartPolicy policy) {
  auto spec = testing::service("web");
  spec.restart = policy;
  spec.backoff_initial = 100ms;
  spec.backoff_max = 350ms;
  spec.backoff_reset_after = 10s;
  return testing::config_with({spec});
}

// "web" running, with a 100 ms backoff that doubles up to 350 ms.
struct CrashingRig : SupervisorRig {
  explicit CrashingRig(RestartPolicy policy = RestartPolicy::always)
      : SupervisorRig(crashing_config(policy)) {
    supervisor.start(request(), "web");
  }
};
}  // namespace

TEST_CASE("a crash restarts the service after exactly the backoff, which doubles to the cap") {
  CrashingRig rig;
  for (auto delay : {100ms, 200ms, 350ms, 350ms}) {
    CAPTURE(delay.count());
    rig.exit("web", ExitStatus::signaled(11));
    CHECK(rig.state_of("web") == ServiceState::backoff);
    CHECK(*rig.supervisor.status("web")->next_restart_at == rig.clock.now() + delay);
    rig.advance(delay - 1ms);
    CHECK(rig.state_of("web") == ServiceState::backoff);
    rig.advance(1ms);
    CHECK(rig.state_of("web") == ServiceState::running);
  }
  CHECK(rig.supervisor.status("web")->restarts == 4);
  CHECK(rig.supervisor.status("web")->last_exit == ExitStatus::signaled(11));
}

TEST_CASE("after a healthy run the backoff starts over, so one crash a day stays one blip") {
  CrashingRig rig;
  rig.exit("web");
  rig.advance(100ms);
  rig.exit("web");
  rig.advance(200ms);
  CHECK(rig.supervisor.status("web")->next_backoff == 350ms);
  rig.advance(10s);  // stays up past backoff_reset_after
  rig.exit("web");
  CHECK(*rig.supervisor.status("web")->next_restart_at == rig.clock.now() + 100ms);
}

TEST_CASE("a stop during backoff removes the pending restart at once") {
  CrashingRig rig;
  rig.exit("web");
  auto stop = rig.request();
  rig.supervisor.stop(stop, "web");
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK_FALSE(rig.supervisor.next_deadline());
  rig.advance(1h);
  CHECK(rig.spawner.live().empty());
}

TEST_CASE("a start during backoff runs the service now instead of waiting") {
  CrashingRig rig;
  rig.exit("web");
  auto start = rig.request(2);
  rig.supervisor.start(start, "web");
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::started);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.supervisor.status("web")->refcount == 2);
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("a service backing off says why until it runs again") {
  CrashingRig rig;
  rig.exit("web", ExitStatus::signaled(9));
  CHECK(rig.state_of("web") == ServiceState::backoff);
  CHECK(rig.supervisor.status("web")->last_error == "exited unexpectedly with signal 9");
  rig.advance(100ms);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.supervisor.status("web")->last_error.empty());
}

TEST_CASE("an automatic restart that cannot spawn is retried with a growing backoff") {
  CrashingRig rig;
  rig.spawner.fail_service(
      "web", arm::Error::system(2, "cannot execute /usr/bin/web: No such file or directory"));
  rig.exit("web");
  rig.advance(100ms);
  CHECK(rig.state_of("web") == ServiceState::backoff);
  CHECK(rig.supervisor.status("web")->last_error ==
        "cannot execute /usr/bin/web: No such file or directory");
  CHECK(*rig.supervisor.status("web")->next_restart_at == rig.clock.now() + 200ms);

  rig.spawner.allow_service("web");
  rig.advance(200ms);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.supervisor.status("web")->restarts == 2);
  CHECK(rig.supervisor.status("web")->last_error.empty());
}

TEST_CASE("on-failure restarts after a failure but not after a clean exit") {
  CrashingRig rig(RestartPolicy::on_failure);
  rig.exit("web", ExitStatus::exited(2));
  CHECK(rig.state_of("web") == ServiceState::backoff);
  rig.advance(100ms);
  rig.exit("web", ExitStatus::exited(0));
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.supervisor.status("web")->refcount == 0);
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("never: a failure leaves the service failed, with the exit as its reason") {
  CrashingRig rig(RestartPolicy::never);
  rig.exit("web", ExitStatus::exited(3));
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::failed);
  CHECK(status.last_error == "exited with exit code 3");
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("the next deadline is never in the past after the timer has run") {
  CrashingRig rig;
  rig.exit("web");
  rig.clock.advance(5s);  // the host was late
  rig.supervisor.on_timer();
  CHECK(rig.state_of("web") == ServiceState::running);
  auto next = rig.supervisor.next_deadline();
  CHECK((!next || *next > rig.clock.now()));
}
