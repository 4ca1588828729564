// Durations as people write them, for messages, logs and armctl's table. The units are those
// parse_duration (libarm/config/duration.cpp) reads, so a value that is a whole number of one
// unit prints as a configuration would say it ("250ms", "5s", "60s", "5m", "2h") and reads back
// the same; the compound and fractional forms ("1.5s", "2m05s", "1h02m") are for reading only.
#include <fmt/compile.h>
#include <fmt/format.h>

#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE

namespace {

// The magnitude, unsigned: -ms would overflow for the most negative value (armctl prints what
// armd's JSON holds, whatever it is).
std::string unsigned_duration(unsigned long long ms) {
  constexpr unsigned long long second = 1000, minute = 60 * second, hour = 60 * minute;
  if (ms < second) return fmt::format(FMT_COMPILE("{}ms"), ms);
  // Below ten seconds a tenth is still worth reading (a stop_timeout of 1.5s); above, not.
  if (ms < 10 * second && ms % second >= 100)
    return fmt::format(FMT_COMPILE("{}.{}s"), ms / second, ms % second / 100);
  // Up to two minutes, seconds read best: "60s" and "90s" rather than "1m" and "1m30s".
  if (ms < 2 * minute) return fmt::format(FMT_COMPILE("{}s"), ms / second);
  if (ms < hour) {
    unsigned long long seconds = ms % minute / second;
    return seconds == 0 ? fmt::format(FMT_COMPILE("{}m"), ms / minute)
                        : fmt::format(FMT_COMPILE("{}m{:02}s"), ms / minute, seconds);
  }
  unsigned long long minutes = ms % hour / minute;
  return minutes == 0 ? fmt::format(FMT_COMPILE("{}h"), ms / hour)
                      : fmt::format(FMT_COMPILE("{}h{:02}m"), ms / hour, minutes);
}

}  // namespace

std::string human_duration(Milliseconds duration) {
  long long ms = duration.count();
  if (ms >= 0) return unsigned_duration(static_cast<unsigned long long>(ms));
  return "-" + unsigned_duration(0ULL - static_cast<unsigned long long>(ms));
}

ARM_END_NAMESPACE
