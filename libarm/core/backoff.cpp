#include "backoff.hpp"

#include <algorithm>
#include <cmath>

ARM_BEGIN_NAMESPACE
namespace detail {

Milliseconds Backoff::take(const ServiceSpec& settings, Random& random) {
  Milliseconds delay = current_;
  current_ = std::min(current_ * 2, settings.backoff_max);
  double jitter = settings.backoff_jitter;
  Milliseconds floor = restart_delay_floor(settings);
  if (jitter <= 0.0) return std::max(delay, floor);
  double factor = 1.0 + jitter * (2.0 * random.unit() - 1.0);
  auto moved = Milliseconds(std::llround(static_cast<double>(delay.count()) * factor));
  return std::max(std::clamp(moved, Milliseconds(0), settings.backoff_max), floor);
}

void Backoff::note_run(const ServiceSpec& settings, Duration ran_for) {
  if (ran_for >= settings.backoff_reset_after) current_ = settings.backoff_initial;
}

void Backoff::retune(const ServiceSpec& settings) {
  current_ = std::min(current_, settings.backoff_max);
}

}  // namespace detail
ARM_END_NAMESPACE
