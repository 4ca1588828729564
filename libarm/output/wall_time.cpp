// Stamps and stream names for output lines.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "arm/output.hpp"

namespace arm {

std::string format_rfc3339_ms(WallTime time) {
  auto milliseconds = std::chrono::floor<std::chrono::milliseconds>(time);
  auto seconds = std::chrono::floor<std::chrono::seconds>(milliseconds);
  auto days = std::chrono::floor<std::chrono::days>(seconds);
  std::chrono::year_month_day date{days};
  std::chrono::hh_mm_ss clock{seconds - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count(),
                     (milliseconds - seconds).count());
}

std::string_view to_string(OutputStream stream) {
  switch (stream) {
    case OutputStream::standard_output:
      return "stdout";
    case OutputStream::standard_error:
      return "stderr";
  }
  return "?";
}

}  // namespace arm
