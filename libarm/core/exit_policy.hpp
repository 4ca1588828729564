// What an unexpected exit of a service's process means: the restart policy, the exit-code
// classes and the restart intensity, decided by one pure function.
#pragma once

#include "arm/config.hpp"
#include "arm/types.hpp"

namespace arm::detail {

enum class ExitClass {
  clean,             // exit code 0, or one of success_exit_codes
  failure,           // any other code, or a signal
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

}  // namespace arm::detail
