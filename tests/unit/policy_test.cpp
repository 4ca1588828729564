// The restart policy's values, tested without a supervisor: Backoff, RestartIntensity and the
// verdict on an exit.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"
#include "backoff.hpp"
#include "exit_policy.hpp"
#include "restart_intensity.hpp"

using namespace arm;
using namespace arm::detail;
using namespace std::chrono_literals;

namespace {
ServiceSpec spec_with(Milliseconds initial, Milliseconds max, double jitter = 0.0) {
  ServiceSpec spec = testing::service("web");
  spec.backoff_initial = initial;
  spec.backoff_max = max;
  spec.backoff_reset_after = 10s;
  spec.backoff_jitter = jitter;
  return spec;
}
}  // namespace

TEST_CASE("backoff doubles from its initial delay up to the cap") {
  testing::FakeRandom random;
  ServiceSpec settings = spec_with(100ms, 350ms);
  Backoff backoff(settings);
  CHECK(backoff.take(settings, random) == 100ms);
  CHECK(backoff.take(settings, random) == 200ms);
  CHECK(backoff.take(settings, random) == 350ms);
  CHECK(backoff.take(settings, random) == 350ms);
  CHECK(backoff.next() == 350ms);
}

TEST_CASE("backoff starts over after a healthy run, not after a short one") {
  testing::FakeRandom random;
  ServiceSpec settings = spec_with(100ms, 1s);
  Backoff backoff(settings);
  backoff.take(settings, random);
  backoff.take(settings, random);
  backoff.note_run(settings, 9999ms);
  CHECK(backoff.next() == 400ms);
  backoff.note_run(settings, 10s);
  CHECK(backoff.next() == 100ms);
}

TEST_CASE("backoff jitter moves the delay by up to its fraction and draws only when set") {
  testing::FakeRandom random;
  random.queued = {0.0, 0.999999};
  ServiceSpec jittery = spec_with(1000ms, 10s, 0.2);
  Backoff jittered(jittery);
  CHECK(jittered.take(jittery, random) == 800ms);
  CHECK(jittered.take(jittery, random) == 2400ms);

  random.queued = {0.0};
  ServiceSpec steady = spec_with(1000ms, 10s);
  Backoff plain(steady);
  CHECK(plain.take(steady, random) == 1000ms);
  CHECK(random.queued.size() == 1);  // nothing drawn
}

TEST_CASE("backoff jitter never goes beyond the cap") {
  testing::FakeRandom random;
  random.queued = {0.999999};
  ServiceSpec settings = spec_with(1000ms, 1000ms, 1.0);
  Backoff backoff(settings);
  CHECK(backoff.take(settings, random) == 1000ms);
}

TEST_CASE("a retuned backoff keeps its progress under the new cap") {
  testing::FakeRandom random;
  ServiceSpec before = spec_with(100ms, 10s);
  Backoff backoff(before);
  for (int i = 0; i < 4; ++i) backoff.take(before, random);
  CHECK(backoff.next() == 1600ms);
  ServiceSpec after = spec_with(50ms, 1s);
  backoff.retune(after);
  CHECK(backoff.next() == 1s);
  CHECK(backoff.take(after, random) == 1s);  // and doubles no further than the new cap
  backoff.reset(after);
  CHECK(backoff.next() == 50ms);
}

TEST_CASE("restart intensity allows max_restarts within the window, then is exhausted") {
  ServiceSpec spec = testing::service("web");
  spec.max_restarts = 2;
  spec.restart_window = 60s;
  RestartIntensity intensity;
  TimePoint t0 = TimePoint{} + 1h;
  CHECK_FALSE(intensity.exhausted(spec, t0));
  intensity.record(spec, t0);
  intensity.record(spec, t0 + 10s);
  CHECK(intensity.exhausted(spec, t0 + 20s));
  CHECK(intensity.count(spec, t0 + 20s) == 2);
  SUBCASE("restarts that left the window no longer count") {
    CHECK_FALSE(intensity.exhausted(spec, t0 + 60s));
    CHECK(intensity.count(spec, t0 + 60s) == 1);
  }
  SUBCASE("reset forgets them") {
    intensity.reset();
    CHECK_FALSE(intensity.exhausted(spec, t0 + 20s));
  }
  SUBCASE("a higher limit from a reload applies to the history kept") {
    spec.max_restarts = 3;
    CHECK_FALSE(intensity.exhausted(spec, t0 + 20s));
  }
}

TEST_CASE("restart intensity without max_restarts records nothing and is never exhausted") {
  auto unlimited = testing::service("web");
  unlimited.max_restarts = std::nullopt;  // "unlimited"; the default is 5
  RestartIntensity intensity;
  TimePoint t0 = TimePoint{} + 1h;
  for (int i = 0; i < 1000; ++i) intensity.record(unlimited, t0);
  CHECK_FALSE(intensity.exhausted(unlimited, t0));
  CHECK(intensity.count(unlimited, t0) == 0);
}

TEST_CASE("exits are classified by the success and permanent failure codes") {
  ServiceSpec spec = testing::service("web");
  spec.success_exit_codes = {0, 143};
  spec.permanent_failure_exit_codes = {78};
  CHECK(classify_exit(spec, ExitStatus::exited(0)) == ExitClass::clean);
  CHECK(classify_exit(spec, ExitStatus::exited(143)) == ExitClass::clean);
  CHECK(classify_exit(spec, ExitStatus::exited(78)) == ExitClass::permanent_failure);
  CHECK(classify_exit(spec, ExitStatus::exited(1)) == ExitClass::failure);
  CHECK(classify_exit(spec, ExitStatus::signaled(15)) == ExitClass::failure);
}

TEST_CASE("the verdict on an exit follows the policy, the exit class and the intensity") {
  using enum ExitVerdict;
  auto decide = [](RestartPolicy policy, ExitClass exit, bool exhausted = false) {
    return decide_exit(policy, exit, false, exhausted);
  };
  CHECK(decide(RestartPolicy::always, ExitClass::clean) == back_off);
  CHECK(decide(RestartPolicy::always, ExitClass::failure) == back_off);
  CHECK(decide(RestartPolicy::always, ExitClass::failure, true) == give_up);
  CHECK(decide(RestartPolicy::always, ExitClass::permanent_failure) == settle_failed);
  CHECK(decide(RestartPolicy::on_failure, ExitClass::clean) == settle_stopped);
  CHECK(decide(RestartPolicy::on_failure, ExitClass::failure) == back_off);
  CHECK(decide(RestartPolicy::on_failure, ExitClass::failure, true) == give_up);
  CHECK(decide(RestartPolicy::never, ExitClass::clean) == settle_stopped);
  CHECK(decide(RestartPolicy::never, ExitClass::failure) == settle_failed);
  CHECK(decide_exit(RestartPolicy::always, ExitClass::failure, true, false) == settle_failed);
  CHECK(decide_exit(RestartPolicy::always, ExitClass::clean, true, false) == settle_stopped);
}

TEST_CASE("decide_config_change: a healthy run restarts at once, a recent start backs off") {
  using arm::detail::ConfigChangeVerdict;
  using arm::detail::decide_config_change;
  CHECK(decide_config_change(false, true) == ConfigChangeVerdict::restart_now);
  CHECK(decide_config_change(false, false) == ConfigChangeVerdict::back_off);
  CHECK(decide_config_change(true, true) == ConfigChangeVerdict::give_up);
  CHECK(decide_config_change(true, false) == ConfigChangeVerdict::give_up);
}
