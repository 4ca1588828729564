// What armctl prints of a service's health (issue 13), from status's health fields.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace armctl {

// The status table's HEALTH cell: "healthy", "unhealthy", "unknown"; "-" without a health check.
std::string health_cell(const nlohmann::json& service);
// Whether any of `services` has a health check (the table shows its HEALTH column only then,
// so the table of a configuration without probes is what it was).
bool any_health(const nlohmann::json& services);
// For `armctl status NAME`: a line per service with a health check, "web: health unhealthy
// (3 failed in a row), checked 2s ago: exit code 1: not ready". Empty when none has one.
std::string format_health_details(const nlohmann::json& services);

}  // namespace armctl
