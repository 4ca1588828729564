#include "armctl_health.hpp"

#include <fmt/format.h>

#include "armctl_output.hpp"

namespace armctl {

namespace {

using nlohmann::json;

const json* health_of(const json& service) {
  if (!service.is_object()) return nullptr;
  auto found = service.find("health");
  if (found == service.end() || !found->is_string()) return nullptr;
  return &*found;
}

}  // namespace

std::string health_cell(const json& service) {
  const json* health = health_of(service);
  return health ? health->get<std::string>() : "-";
}

bool any_health(const json& services) {
  if (!services.is_array()) return false;
  for (const json& service : services)
    if (health_of(service)) return true;
  return false;
}

std::string format_health_details(const json& services) {
  std::string out;
  if (!services.is_array()) return out;
  for (const json& service : services) {
    const json* health = health_of(service);
    if (!health) continue;
    std::string line =
        fmt::format("{}: health {}", service.value("name", "?"), health->get<std::string>());
    if (auto failures = service.find("health_failures");
        failures != service.end() && failures->is_number_unsigned() && *failures != 0)
      line += fmt::format(" ({} failed in a row)", failures->get<unsigned long long>());
    if (auto ago = service.find("health_checked_ms_ago"); ago != service.end() && ago->is_number())
      line += fmt::format(", checked {} ago", format_duration(*ago));
    if (auto detail = service.find("health_detail"); detail != service.end() &&
                                                     detail->is_string() &&
                                                     !detail->get_ref<const std::string&>().empty())
      line += ": " + detail->get<std::string>();
    out += line + '\n';
  }
  return out;
}

}  // namespace armctl
