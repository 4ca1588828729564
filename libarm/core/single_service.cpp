// Adding or removing one service without the host building a whole Config: the current
// configuration with that one change, applied by reload(). So the checks and the outcomes are
// reload's own, by construction; the price is O(services) per call (config() copies every spec),
// which a host adding a handful of services at a time does not feel.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

namespace {

Error about_service(std::string_view name, std::string message) {
  return Error::at("", 0, 0, fmt::format("services.{}", name), std::move(message));
}

// The services whose depends_on or wants names `name`, by name.
std::vector<std::string> dependents_of(const Config& config, std::string_view name) {
  std::vector<std::string> dependents;
  for (const auto& [other, spec] : config.services) {
    if (std::ranges::find(spec.depends_on, name) != spec.depends_on.end() ||
        std::ranges::find(spec.wants, name) != spec.wants.end())
      dependents.push_back(other);
  }
  return dependents;
}

}  // namespace

std::expected<ReloadSummary, std::vector<Error>> ServiceSupervisor::add_service(ServiceSpec spec) {
  Config next = config();
  std::string name = spec.name;
  if (next.services.contains(name))
    return std::unexpected(std::vector<Error>{about_service(
        name,
        fmt::format("a service named '{}' is configured already (reload() replaces one)", name))});
  next.services.emplace(std::move(name), std::move(spec));
  return reload(std::move(next));
}

std::expected<ReloadSummary, std::vector<Error>> ServiceSupervisor::remove_service(
    std::string_view name) {
  Config next = config();
  auto found = next.services.find(std::string(name));
  if (found == next.services.end())
    return std::unexpected(
        std::vector<Error>{about_service(name, impl_->unknown_service_message(name))});
  // reload() would refuse these too, as dependencies on an unknown service; said here in the
  // words of a removal.
  std::vector<Error> errors;
  if (auto dependents = dependents_of(next, name); !dependents.empty())
    errors.push_back(about_service(
        name, fmt::format("cannot remove '{}': {} depend{} on it (remove {} first)", name,
                          fmt::join(dependents, ", "), dependents.size() == 1 ? "s" : "",
                          dependents.size() == 1 ? "it" : "them")));
  if (std::ranges::find(next.arm.default_services, name) != next.arm.default_services.end())
    errors.push_back(about_service(
        name, fmt::format("cannot remove '{}': arm.default_services names it", name)));
  if (!errors.empty()) return std::unexpected(std::move(errors));
  next.services.erase(found);
  return reload(std::move(next));
}

ARM_END_NAMESPACE
