// RestartIntensity: at most `max_restarts` automatic restarts within `window` (Erlang/OTP's
// MaxR in MaxT, systemd's StartLimitBurst in StartLimitIntervalSec). A value of its own, with
// the algorithm in two functions: exhausted() asks whether one more restart would be too many,
// record() counts one. Without max_restarts it records nothing and is never exhausted.
//
// It keeps only the history; the settings are the service's spec, passed to each call rather
// than copied, so a reload's new limit applies at once and the history is kept across it.
#pragma once

#include <utility>
#include <vector>

#include "arm/config.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

class RestartIntensity {
 public:
  // Would one more restart at `now` exceed max_restarts within the window?
  bool exhausted(const ServiceSpec& settings, TimePoint now) const;
  // Counts a restart at `now`; forgets those that have left the window.
  void record(const ServiceSpec& settings, TimePoint now);
  // Restarts counted within the window ending at `now`.
  std::size_t count(const ServiceSpec& settings, TimePoint now) const;
  void reset() { recent_.clear(); }
  // The restarts counted, oldest first, as they are: for a live re-exec's handover (handover.cpp).
  const std::vector<TimePoint>& recent() const { return recent_; }
  void restore(std::vector<TimePoint> recent) { recent_ = std::move(recent); }

 private:
  // Oldest first. A vector, not a deque: libstdc++'s deque allocates over half a KiB even
  // when empty, and most services never restart.
  std::vector<TimePoint> recent_;
};

}  // namespace detail
ARM_END_NAMESPACE
