// armd's log of configuration changes a service's config_check refused, or its reload command
// failed on (issue 14): the reason, then what the command printed.
#pragma once

#include "arm/supervisor.hpp"

namespace armd {

// Lines of a failed check's output logged at most: the Prober keeps its first 4 KiB, and the
// reason (nginx's "[emerg] ... in /etc/nginx/nginx.conf:12") comes first.
inline constexpr int rejected_output_lines = 40;

// True when `event` says a change was refused (ServiceSupervisor's wording for it).
bool is_rejected_change(const arm::ServiceEvent& event);
// One warning with the reason, then one line per line of the command's output.
void log_rejected_change(const arm::ServiceEvent& event);

}  // namespace armd
