// What one line of armd's own log looks like: the event's time, its level, the service it is
// about (when it is about one) and the message, as text for people or as JSON for log shippers.
// Pure: log.cpp decides when lines are written, this only how.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace armd {

// The names are syslog's and systemd's (journalctl -p): info (priority 6), warning (4) and
// error (3, "err" there).
enum class Level {
  info,     // what armd did or saw, as planned: listening, a service running, a reload
  warning,  // something went wrong that armd works around: a service exited and restarts, a
            // client sent garbage, log lines were dropped
  error,    // something armd could not do or that needs an operator: a service failed for
            // good, a refused reload, a poll or accept error
};
std::string_view to_string(Level level);

enum class LogFormat {
  text,  // 2026-12-01 20:31:48.123 info web: exited with code 1; restarting in 200ms
  json,  // {"time":"2026-12-01T20:31:48.123Z","level":"info","service":"web","message":"..."}
};
// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view name);

using LogTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

// One line, '\n' included. `service` is empty for a line about armd itself: text then has no
// "name: " before the message, and JSON no "service" field. In JSON the time is UTC (RFC 3339)
// and invalid UTF-8 in the service or message is replaced by U+FFFD, so that every line parses.
std::string format_log_line(LogFormat format, LogTime time, Level level, std::string_view service,
                            std::string_view message);

// Appends `text` with each control byte but tab (a newline, an ESC...) written \xNN: one line
// that nothing can pass for another line of armd's, and nothing a terminal acts on. What a text
// log line and `armd --check-config` print of names and values taken from a file.
void append_without_control_bytes(std::string& out, std::string_view text);

}  // namespace armd
