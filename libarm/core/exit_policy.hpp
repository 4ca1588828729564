// What an unexpected exit of a service's process means: the restart policy, the exit-code
// classes and the restart intensity, decided by one pure function.
#pragma once

#include "arm/config.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

enum class ExitClass {
  clean,             // exit code 0, or one of success_exit_codes
  failure,           // any other code, a signal, or a lost status (reaped by someone else)
  permanent_failure  // one of permanent_failure_exit_codes: restarting will not help
};
ExitClass classify_exit(const ServiceSpec& spec, const ExitStatus& status);

enum class ExitVerdict {
  back_off,        // restart after the backoff delay
  give_up,         // restart wanted, but the restart intensity is exhausted: failed
  settle_stopped,  // not restarted, and the exit was clean
  settle_failed    // not restarted, and the exit was a failure
};

// The verdict on a process that exited while the service was meant to run. `shutting_down`:
// the supervisor restarts nothing any more; `intensity_exhausted`: one more restart would
// exceed max_restarts within restart_window.
ExitVerdict decide_exit(RestartPolicy policy, ExitClass exit, bool shutting_down,
                        bool intensity_exhausted);

// What a change of a running service's configuration file leads to. It is an automatic restart
// like a crash's: it counts in the restart intensity and in `restarts`, and it waits out the
// backoff unless the process had been up for backoff_reset_after, so a service that rewrites
// its own file cannot restart in a tight loop.
enum class ConfigChangeVerdict {
  restart_now,  // a healthy run: stop it and start it again as soon as it is reaped
  back_off,     // it (re)started recently: stop it and start it again after the backoff delay
  give_up       // one more restart would exceed max_restarts within restart_window: failed
};
ConfigChangeVerdict decide_config_change(bool intensity_exhausted, bool healthy_run);

}  // namespace detail
ARM_END_NAMESPACE
