// Backoff: how long a crashed service waits before it is restarted. A value of its own so the
// policy can be read and tested apart from the supervisor: the delay starts at `initial`,
// doubles on every crash up to `max`, is moved by up to ± `jitter` of itself so services that
// crash together do not restart in lockstep, and starts over after a run of `reset_after`. With
// unlimited restarts and an initial delay of 0, no delay is shorter than
// minimum_unlimited_restart_delay.
#pragma once

#include <algorithm>

#include "arm/config.hpp"
#include "arm/effects.hpp"
#include "arm/types.hpp"

namespace arm::detail {

class Backoff {
 public:
  Backoff() = default;
  explicit Backoff(const ServiceSpec& spec);

  // The delay the next crash will wait, before jitter.
  Milliseconds next() const { return std::max(current_, floor_); }
  // The delay for this crash, jittered (a draw from `random` only when jitter is set, so
  // deterministic runs stay so); the one after doubles.
  Milliseconds take(Random& random);
  // A process that ran for `ran_for` died: a healthy run starts the delays over.
  void note_run(Duration ran_for);
  void reset() { current_ = initial_; }
  // New settings (a reload): the current delay keeps its progress but not beyond the new cap.
  void retune(const ServiceSpec& spec);

 private:
  Milliseconds initial_{0};
  Milliseconds max_{0};
  Milliseconds reset_after_{0};
  double jitter_ = 0.0;
  // Every delay is at least this: minimum_unlimited_restart_delay when backoff_initial is 0
  // and the restarts are unlimited (nothing else would pace them), else 0.
  Milliseconds floor_{0};
  Milliseconds current_{0};
};

}  // namespace arm::detail
