// What `armctl logs` prints, and the output tails `armctl status NAME` adds under its table.
// Lines arrive as armd sends them (protocol/log_lines.hpp); nothing here trusts their shape.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "arm/output.hpp"

namespace armctl {

// "2026-12-01T20:40:00.123Z stdout hello\n", with "NAME " in front when `with_name` (several
// services are followed). The text is the line's exact bytes; a piece of a longer line that the
// next one continues ends with a '\' before its newline.
std::string format_log_line(const nlohmann::json& line, bool with_name);
// "-- web: 42 lines missed (dropped from armd's buffer before they could be sent) --\n"
std::string format_gap(const nlohmann::json& event);
// For each service whose last exit carries output lines: a heading naming the service and the
// exit, then the lines, indented. Empty when none does.
std::string format_output_tails(const nlohmann::json& services);
// "web: 1532 lines dropped from its log file (log_overflow = "drop")\n" for each service whose
// status has output_dropped; empty when none does.
std::string format_output_dropped(const nlohmann::json& services);
// `logs --since`: an RFC 3339 time, or a duration back from `now` with its unit ("90s", "10m",
// "2h", as in the configuration). The error says what was expected.
std::expected<arm::WallTime, std::string> since_time(std::string_view text, arm::WallTime now);

}  // namespace armctl
