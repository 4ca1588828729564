#include "restart_intensity.hpp"

#include <algorithm>

namespace arm::detail {

std::size_t RestartIntensity::count(TimePoint now) const {
  return static_cast<std::size_t>(
      std::ranges::count_if(recent_, [&](TimePoint at) { return now - at < window_; }));
}

bool RestartIntensity::exhausted(TimePoint now) const {
  return max_restarts_ && count(now) >= *max_restarts_;
}

void RestartIntensity::record(TimePoint now) {
  if (!max_restarts_) return;
  std::erase_if(recent_, [&](TimePoint at) { return now - at >= window_; });
  recent_.push_back(now);
}

void RestartIntensity::retune(const ServiceSpec& spec) {
  max_restarts_ = spec.max_restarts;
  window_ = spec.restart_window;  // the history is kept, as the limit may come back
}

}  // namespace arm::detail
