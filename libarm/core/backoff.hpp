// Backoff: how long a crashed service waits before it is restarted. A value of its own so the
// policy can be read and tested apart from the supervisor: the delay starts at `initial`,
// doubles on every crash up to `max`, is moved by up to ± `jitter` of itself so services that
// crash together do not restart in lockstep, and starts over after a run of `reset_after`. With
// unlimited restarts and an initial delay of 0, no delay is shorter than
// minimum_unlimited_restart_delay (restart_delay_floor).
//
// It keeps only its progress; the settings are the service's spec, passed to each call rather
// than copied (40 bytes per service became 8; a reload's new settings apply at once).
#pragma once

#include <algorithm>

#include "arm/config.hpp"
#include "arm/effects.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

// The shortest delay `settings` allow: minimum_unlimited_restart_delay when backoff_initial is
// 0 and the restarts are unlimited (nothing else would pace them), else 0.
inline Milliseconds restart_delay_floor(const ServiceSpec& settings) {
  return settings.backoff_initial.count() == 0 && !settings.max_restarts
             ? minimum_unlimited_restart_delay
             : Milliseconds(0);
}

class Backoff {
 public:
  Backoff() = default;
  explicit Backoff(const ServiceSpec& settings) : current_(settings.backoff_initial) {}

  // The delay the next crash will wait, before jitter and the floor.
  Milliseconds next() const { return current_; }
  // The delay for this crash, jittered (a draw from `random` only when jitter is set, so
  // deterministic runs stay so); the one after doubles.
  Milliseconds take(const ServiceSpec& settings, Random& random);
  // A process that ran for `ran_for` died: a healthy run starts the delays over.
  void note_run(const ServiceSpec& settings, Duration ran_for);
  void reset(const ServiceSpec& settings) { current_ = settings.backoff_initial; }
  // New settings (a reload): the current delay keeps its progress but not beyond the new cap.
  void retune(const ServiceSpec& settings);
  // The progress as it is, for a live re-exec's handover (handover.cpp): the delay the next
  // crash waits is all there is.
  void restore(Milliseconds current) { current_ = current; }

 private:
  Milliseconds current_{0};
};

}  // namespace detail
ARM_END_NAMESPACE
