#include "key_suggestion.hpp"

#include <fmt/format.h>

ARM_BEGIN_NAMESPACE
namespace config_reading {

std::string unknown_key_message(std::string_view key, std::span<const std::string_view> known) {
  std::string_view best = closest_name(key, known);
  if (best.empty()) return fmt::format("unknown key '{}'", key);
  return fmt::format("unknown key '{}' (did you mean '{}'?)", key, best);
}

}  // namespace config_reading
ARM_END_NAMESPACE
