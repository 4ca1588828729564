// What `armctl monitor` prints: the services' current state, then each change armd reports, one
// line each, stamped with the time armctl received it. The lines come from armd's event stream
// (protocol/events.hpp, docs/protocol.md "subscribe"); nothing here trusts their shape.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace armctl {

// "14:02:11.250": the local time of day, to the millisecond.
std::string receipt_time();
// One line per service of the subscribe answer: "TIME NAME state (pid N)", or with the
// service's last error in the parentheses when it has no process.
std::string format_monitor_snapshot(const nlohmann::json& services, std::string_view time);
// One event, one line:
//   TIME NAME previous -> state (detail)   (or "(pid N)" when there is no detail)
//   TIME NAME exited (code 1, pid 42)
//   TIME NAME added (stopped)
//   TIME NAME removed
//   TIME -- 12 events missed (...) --
// Empty for a line that is not an event.
std::string format_monitor_event(const nlohmann::json& event, std::string_view time);

// After the snapshot: reads event lines from `next_line` until armd closes the connection
// (nullopt), printing each (--json: the line as it came). Returns exit_ok.
int print_events(const std::function<std::optional<std::string>()>& next_line, bool json_output);

// Ctrl-C ends monitor quietly, with exit_ok: it is how a watch is meant to end.
void end_quietly_on_interrupt();

}  // namespace armctl
