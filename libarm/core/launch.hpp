// What a service is started with, derived from its spec and the [arm] settings when it is
// needed (at each spawn, and by reload to see whether a restart is due) rather than stored.
#pragma once

#include "arm/config.hpp"
#include "arm/effects.hpp"

namespace arm::detail {

inline SpawnRequest make_launch(const ServiceSpec& spec, const ArmSettings& arm) {
  SpawnRequest launch;
  launch.service = spec.name;
  launch.argv = compose_argv(spec, arm);
  launch.environment.assign(spec.environment.begin(), spec.environment.end());
  launch.working_directory = spec.working_directory.value_or("");
  if (spec.config_file) launch.required_files.push_back(*spec.config_file);
  return launch;
}

inline bool same_launch(const SpawnRequest& a, const SpawnRequest& b) {
  return a.argv == b.argv && a.environment == b.environment &&
         a.working_directory == b.working_directory && a.required_files == b.required_files;
}

}  // namespace arm::detail
