#include "log_line.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "protocol/json_writer.hpp"

namespace armd {

std::string_view to_string(Level level) {
  switch (level) {
    case Level::info:
      return "info";
    case Level::warning:
      return "warning";
    case Level::error:
      return "error";
  }
  return "info";
}

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::text;
  if (name == "json") return LogFormat::json;
  return std::nullopt;
}

void append_without_control_bytes(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
}

namespace {

std::string text_line(LogTime time, Level level, std::string_view service,
                      std::string_view message) {
  // The milliseconds are printed by hand: fmt 9 (Debian 12's) prints whole seconds for `%S`
  // whatever the time point's precision; later versions print the fraction.
  auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  std::string line = fmt::format("{:%Y-%m-%d %H:%M:%S}.{:03} {} ", seconds,
                                 (time - seconds).count(), to_string(level));
  // One event, one line: a control byte in the message (a newline in a configuration key quoted
  // by an error, say) is written \xNN, so that nothing can pass for a line of armd's own.
  auto append = [&line](std::string_view text) { append_without_control_bytes(line, text); };
  if (!service.empty()) {
    append(service);
    line += ": ";
  }
  append(message);
  line += '\n';
  return line;
}

// RFC 3339 in UTC, whatever the zone armd runs in: what log shippers parse without guessing.
std::string utc_timestamp(LogTime time) {
  auto days = std::chrono::floor<std::chrono::days>(time);
  std::chrono::year_month_day date{days};
  std::chrono::hh_mm_ss clock{time - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", int(date.year()),
                     unsigned(date.month()), unsigned(date.day()), clock.hours().count(),
                     clock.minutes().count(), clock.seconds().count(), clock.subseconds().count());
}

std::string json_line(LogTime time, Level level, std::string_view service,
                      std::string_view message) {
  std::string line;
  json_writer::ObjectWriter object(line);
  object.string("time", utc_timestamp(time)).string("level", to_string(level));
  if (!service.empty()) object.string("service", service);
  object.string("message", message).end_line();
  return line;
}

}  // namespace

std::string format_log_line(LogFormat format, LogTime time, Level level, std::string_view service,
                            std::string_view message) {
  if (format == LogFormat::json) return json_line(time, level, service, message);
  return text_line(time, level, service, message);
}

}  // namespace armd
