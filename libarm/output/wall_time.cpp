// Stamps and stream names for output lines.
#include <chrono>

#include "arm/output.hpp"

namespace arm {

std::string format_rfc3339_ms(WallTime time) {
  auto milliseconds = std::chrono::floor<std::chrono::milliseconds>(time);
  auto seconds = std::chrono::floor<std::chrono::seconds>(milliseconds);
  auto days = std::chrono::floor<std::chrono::days>(seconds);
  std::chrono::year_month_day date{days};
  std::chrono::hh_mm_ss clock{seconds - days};
  // Digits by hand: it runs once per captured line (once per log-file line too), where
  // fmt::format's parsing of the pattern was a tenth of armd's time writing to a file.
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&out](std::size_t end, long long value, int digits) {
    for (int i = 1; i <= digits; ++i, value /= 10)
      out[end - static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(4, static_cast<int>(date.year()), 4);
  put(7, static_cast<unsigned>(date.month()), 2);
  put(10, static_cast<unsigned>(date.day()), 2);
  put(13, clock.hours().count(), 2);
  put(16, clock.minutes().count(), 2);
  put(19, clock.seconds().count(), 2);
  put(23, (milliseconds - seconds).count(), 3);
  return out;
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
