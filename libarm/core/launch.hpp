// What a service is started with, derived from its spec and the [arm] settings when it is
// needed (at each spawn, and by reload to see whether a restart is due) rather than stored with
// every service: fill_launch() writes it over a request reused from spawn to spawn.
// readiness and watchdog are part of it: the process learns both when it is executed
// ($NOTIFY_SOCKET, the readiness descriptor, $WATCHDOG_USEC), so a change needs a new process.
#pragma once

#include "arm/config.hpp"
#include "arm/effects.hpp"

namespace arm::detail {

void compose_argv_into(std::vector<std::string>& argv, const ServiceSpec& spec,
                       const ArmSettings& arm);

inline void fill_launch(SpawnRequest& launch, const ServiceSpec& spec, const ArmSettings& arm) {
  launch.service.assign(spec.name);
  compose_argv_into(launch.argv, spec, arm);
  launch.environment.resize(spec.environment.size());
  auto variable = launch.environment.begin();
  for (const auto& [name, value] : spec.environment) {
    variable->first.assign(name);
    variable->second.assign(value);
    ++variable;
  }
  launch.working_directory.assign(spec.working_directory ? *spec.working_directory : "");
  launch.required_files.resize(spec.config_file ? 1 : 0);
  if (spec.config_file) launch.required_files[0].assign(*spec.config_file);
  launch.standard_output = spec.standard_output;
  launch.standard_error = spec.standard_error;
  launch.readiness = spec.readiness;
  launch.watchdog = spec.watchdog;
}

inline SpawnRequest make_launch(const ServiceSpec& spec, const ArmSettings& arm) {
  SpawnRequest launch;
  fill_launch(launch, spec, arm);
  return launch;
}

inline bool same_launch(const SpawnRequest& a, const SpawnRequest& b) {
  return a.argv == b.argv && a.environment == b.environment &&
         a.working_directory == b.working_directory && a.required_files == b.required_files &&
         a.standard_output == b.standard_output && a.standard_error == b.standard_error &&
         a.readiness == b.readiness && a.watchdog == b.watchdog;
}

}  // namespace arm::detail
