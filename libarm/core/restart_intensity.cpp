#include "restart_intensity.hpp"

#include <algorithm>

ARM_BEGIN_NAMESPACE
namespace detail {

std::size_t RestartIntensity::count(const ServiceSpec& settings, TimePoint now) const {
  return static_cast<std::size_t>(std::ranges::count_if(
      recent_, [&](TimePoint at) { return now - at < settings.restart_window; }));
}

bool RestartIntensity::exhausted(const ServiceSpec& settings, TimePoint now) const {
  return settings.max_restarts && count(settings, now) >= *settings.max_restarts;
}

void RestartIntensity::record(const ServiceSpec& settings, TimePoint now) {
  if (!settings.max_restarts) return;
  std::erase_if(recent_, [&](TimePoint at) { return now - at >= settings.restart_window; });
  recent_.push_back(now);
}

}  // namespace detail
ARM_END_NAMESPACE
