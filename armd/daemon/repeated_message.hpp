// A log message that can repeat many times a second — accept() failing every 100 ms while armd
// is out of descriptors, a client sending garbage in a loop — would drown the rest of the log.
// The first occurrence is logged; after that at most one line per interval, which says how many
// occurrences it stands for.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace armd {

class RepeatedMessage {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RepeatedMessage(Clock::duration interval) : interval_(interval) {}

  // Call at each occurrence. True when this one is to be logged; `suppressed` then says how many
  // occurrences since the last logged one were not (0 for the first).
  bool due(Clock::time_point now, std::size_t& suppressed) {
    if (last_logged_ && now - *last_logged_ < interval_) {
      ++suppressed_;
      return false;
    }
    last_logged_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

  Clock::duration interval() const { return interval_; }

 private:
  Clock::duration interval_;
  std::optional<Clock::time_point> last_logged_;
  std::size_t suppressed_ = 0;
};

}  // namespace armd
