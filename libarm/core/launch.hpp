// What a service is started with, derived from its spec and the [arm] settings when it is
// needed (at each spawn, and by reload to see whether a restart is due) rather than stored with
// every service: fill_launch() writes it over a request reused from spawn to spawn.
// readiness and watchdog are part of it: the process learns both when it is executed
// ($NOTIFY_SOCKET, the readiness descriptor, $WATCHDOG_USEC), so a change needs a new process.
#pragma once

#include "arm/config.hpp"
#include "arm/effects.hpp"
#include "stored_spec.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

// `word` with `{config}` and `{name}` (and, when `pid` is not empty, `{pid}`) replaced, into
// `out`; any other `{...}` is kept as written. For config_arg, options and the reload commands.
void substitute_placeholders(std::string& out, std::string_view word, std::string_view config,
                             std::string_view name, std::string_view pid = {});

// `who` holds the identity fields (the service's Identity, or a whole ServiceSpec), `settings`
// the rest (its SharedSettings, or that same ServiceSpec).
template <class Who>
void compose_argv_into(std::vector<std::string>& argv, const Who& who, const ServiceSpec& settings,
                       const ArmSettings& arm);

inline void fill_launch(SpawnRequest& launch, const StoredSpec& spec, const ArmSettings& arm) {
  const Identity& who = spec.identity();
  const ServiceSpec& settings = spec.settings();
  launch.service.assign(who.name);
  compose_argv_into(launch.argv, who, settings, arm);
  launch.environment.resize(settings.environment.size());
  auto variable = launch.environment.begin();
  for (const auto& [name, value] : settings.environment) {
    variable->first.assign(name);
    variable->second.assign(value);
    ++variable;
  }
  launch.working_directory.assign(who.working_directory ? *who.working_directory : "");
  launch.required_files.resize(who.config_file ? 1 : 0);
  if (who.config_file) launch.required_files[0].assign(*who.config_file);
  launch.standard_output = settings.standard_output;
  launch.standard_error = settings.standard_error;
  launch.readiness = settings.readiness;
  launch.watchdog = settings.watchdog;
  launch.execution = settings.execution;
}

inline SpawnRequest make_launch(const StoredSpec& spec, const ArmSettings& arm) {
  SpawnRequest launch;
  fill_launch(launch, spec, arm);
  return launch;
}

inline bool same_launch(const SpawnRequest& a, const SpawnRequest& b) {
  return a.argv == b.argv && a.environment == b.environment &&
         a.working_directory == b.working_directory && a.required_files == b.required_files &&
         a.standard_output == b.standard_output && a.standard_error == b.standard_error &&
         a.readiness == b.readiness && a.watchdog == b.watchdog && a.execution == b.execution;
}

}  // namespace detail
ARM_END_NAMESPACE
