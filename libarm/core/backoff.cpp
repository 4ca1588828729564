#include "backoff.hpp"

#include <algorithm>
#include <cmath>

namespace arm::detail {

Backoff::Backoff(const ServiceSpec& spec)
    : initial_(spec.backoff_initial),
      max_(spec.backoff_max),
      reset_after_(spec.backoff_reset_after),
      jitter_(spec.backoff_jitter),
      floor_(spec.backoff_initial.count() == 0 && !spec.max_restarts
                 ? minimum_unlimited_restart_delay
                 : Milliseconds(0)),
      current_(spec.backoff_initial) {}

Milliseconds Backoff::take(Random& random) {
  Milliseconds delay = current_;
  current_ = std::min(current_ * 2, max_);
  if (jitter_ <= 0.0) return std::max(delay, floor_);
  double factor = 1.0 + jitter_ * (2.0 * random.unit() - 1.0);
  auto moved = Milliseconds(std::llround(static_cast<double>(delay.count()) * factor));
  return std::max(std::clamp(moved, Milliseconds(0), max_), floor_);
}

void Backoff::note_run(Duration ran_for) {
  if (ran_for >= reset_after_) current_ = initial_;
}

void Backoff::retune(const ServiceSpec& spec) {
  Milliseconds progress = std::min(current_, spec.backoff_max);
  *this = Backoff(spec);
  current_ = progress;
}

}  // namespace arm::detail
