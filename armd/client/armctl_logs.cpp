#include "armctl_logs.hpp"

#include <fmt/format.h>

#include "arm/config.hpp"
#include "armctl_output.hpp"
#include "protocol/log_lines.hpp"

namespace armctl {

namespace {
using nlohmann::json;

std::string text_of(const json& object, const char* key) {
  if (!object.is_object()) return "?";
  auto value = object.find(key);
  return value != object.end() && value->is_string() ? value->get<std::string>() : "?";
}
}  // namespace

std::string format_log_line(const json& line, bool with_name) {
  std::string out;
  if (with_name) out += text_of(line, "service") + " ";
  if (line.is_object() && line.value("unparsed", false) == true)  // read back from a file
    return out + armd::protocol::line_bytes(line) + '\n';
  out += text_of(line, "time") + " " + text_of(line, "stream") + " ";
  out += armd::protocol::line_bytes(line);
  if (line.is_object() && line.value("continues", false) == true) out += '\\';
  out += '\n';
  return out;
}

std::string format_gap(const json& event) {
  long long missed = 0;
  if (auto count = event.find("missed"); count != event.end() && count->is_number())
    missed = count->get<long long>();
  return fmt::format(
      "-- {}: {} line{} missed (dropped from armd's buffer before they could be sent) --\n",
      text_of(event, "service"), missed, missed == 1 ? "" : "s");
}

std::string format_output_tails(const json& services) {
  std::string out;
  if (!services.is_array()) return out;
  for (const json& service : services) {
    if (!service.is_object()) continue;
    auto last_exit = service.find("last_exit");
    if (last_exit == service.end() || !last_exit->is_object()) continue;
    auto tail = last_exit->find("output_tail");
    if (tail == last_exit->end() || !tail->is_array() || tail->empty()) continue;
    std::string how = "exit";
    if (auto signal = last_exit->find("signal"); signal != last_exit->end() && signal->is_number())
      how = fmt::format("signal {}", signal->get<long long>());
    else if (auto code = last_exit->find("code"); code != last_exit->end() && code->is_number())
      how = fmt::format("code {}", code->get<long long>());
    else if (auto lost = last_exit->find("lost");
             lost != last_exit->end() && lost->is_boolean() && lost->get<bool>())
      how = "status lost";
    out += fmt::format("\n{}: last output before its exit ({}):\n", text_of(service, "name"), how);
    for (const json& line : *tail) out += "  " + format_log_line(line, false);
  }
  return out;
}

std::string format_output_dropped(const json& services) {
  std::string out;
  if (!services.is_array()) return out;
  for (const json& service : services) {
    if (!service.is_object()) continue;
    auto dropped = service.find("output_dropped");
    if (dropped == service.end() || !dropped->is_number_unsigned()) continue;
    auto count = dropped->get<unsigned long long>();
    out += fmt::format("{}: {} line{} dropped from its log file (log_overflow = \"drop\")\n",
                       text_of(service, "name"), count, count == 1 ? "" : "s");
  }
  return out;
}

std::expected<arm::WallTime, std::string> since_time(std::string_view text, arm::WallTime now) {
  if (auto time = arm::parse_rfc3339(text)) return *time;
  // A bare number would be milliseconds in the configuration's syntax: surely not what was meant.
  bool has_unit = !text.empty() && (text.back() < '0' || text.back() > '9');
  if (auto back = arm::parse_duration(text); back && has_unit) return now - *back;
  return std::unexpected(fmt::format(
      "--since '{}': expected an RFC 3339 time (\"2026-12-01T20:40:00Z\") or a duration with "
      "its unit (\"30s\", \"10m\", \"2h\")",
      text));
}

}  // namespace armctl
