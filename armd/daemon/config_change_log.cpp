#include "config_change_log.hpp"

#include <string_view>

#include "log.hpp"

namespace armd {

bool is_rejected_change(const arm::ServiceEvent& event) {
  return event.state == event.previous && (event.detail.starts_with("config check failed: ") ||
                                           event.detail.starts_with("reload failed: "));
}

void log_rejected_change(const arm::ServiceEvent& event) {
  log_service(Level::warning, event.service, "{}", event.detail);
  std::string_view output = event.output;
  int lines = 0;
  while (!output.empty()) {
    std::size_t end = output.find('\n');
    std::string_view line = output.substr(0, end);
    output = end == std::string_view::npos ? std::string_view() : output.substr(end + 1);
    if (++lines > rejected_output_lines) {
      log_service(Level::warning, event.service, "  ... (more output not shown)");
      return;
    }
    log_service(Level::warning, event.service, "  | {}", line);
  }
}

}  // namespace armd
