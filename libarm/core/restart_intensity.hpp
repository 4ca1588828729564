// RestartIntensity: at most `max_restarts` automatic restarts within `window` (Erlang/OTP's
// MaxR in MaxT, systemd's StartLimitBurst in StartLimitIntervalSec). A value of its own, with
// the algorithm in two functions: exhausted() asks whether one more restart would be too many,
// record() counts one. Without max_restarts it records nothing and is never exhausted.
#pragma once

#include <optional>
#include <vector>

#include "arm/config.hpp"
#include "arm/types.hpp"

namespace arm::detail {

class RestartIntensity {
 public:
  RestartIntensity() = default;
  explicit RestartIntensity(const ServiceSpec& spec)
      : max_restarts_(spec.max_restarts), window_(spec.restart_window) {}

  // Would one more restart at `now` exceed max_restarts within the window?
  bool exhausted(TimePoint now) const;
  // Counts a restart at `now`; forgets those that have left the window.
  void record(TimePoint now);
  // Restarts counted within the window ending at `now`.
  std::size_t count(TimePoint now) const;
  void reset() { recent_.clear(); }
  // New settings (a reload); the history is kept.
  void retune(const ServiceSpec& spec);

  Milliseconds window() const { return window_; }

 private:
  std::optional<unsigned> max_restarts_;
  Milliseconds window_{0};
  // Oldest first. A vector, not a deque: libstdc++'s deque allocates over half a KiB even
  // when empty, and most services never restart.
  std::vector<TimePoint> recent_;
};

}  // namespace arm::detail
