// Stamps and stream names for output lines.
#include <chrono>

#include "arm/output.hpp"

ARM_BEGIN_NAMESPACE

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

std::string_view StampCache::stamp(WallTime time) {
  auto milliseconds = std::chrono::floor<std::chrono::milliseconds>(time).time_since_epoch();
  std::int64_t now = milliseconds.count();
  if (now == millisecond_) return {text_, size};
  auto floor_div = [](std::int64_t value, std::int64_t by) {
    return value / by - (value % by < 0 ? 1 : 0);
  };
  if (millisecond_ != INT64_MIN && floor_div(now, 1000) == floor_div(millisecond_, 1000)) {
    // The same second: only the milliseconds' digits ("...:SS.mmmZ") change.
    std::int64_t within = now - floor_div(now, 1000) * 1000;
    text_[20] = static_cast<char>('0' + within / 100);
    text_[21] = static_cast<char>('0' + within / 10 % 10);
    text_[22] = static_cast<char>('0' + within % 10);
  } else {
    std::string full = format_rfc3339_ms(time);
    full.copy(text_, size);
  }
  millisecond_ = now;
  return {text_, size};
}

namespace {

// `count` digits at `at` as a number, or -1.
int digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<WallTime> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return std::nullopt;
  int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(month),
                                   std::chrono::day(day)};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  std::size_t at = 19;
  std::chrono::milliseconds fraction{0};
  if (text[at] == '.') {
    std::size_t first = ++at;
    int scale = 100;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      fraction += std::chrono::milliseconds((text[at] - '0') * scale);
      scale /= 10;
      ++at;
    }
    if (at == first) return std::nullopt;
  }
  std::chrono::minutes offset{0};
  std::string_view zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int hours = digits(zone, 1, 2), minutes = digits(zone, 4, 2);
    if (hours < 0 || minutes < 0 || hours > 23 || minutes > 59) return std::nullopt;
    offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
    if (zone[0] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  auto local = std::chrono::sys_days(date) + std::chrono::hours(hour) +
               std::chrono::minutes(minute) + std::chrono::seconds(second) + fraction;
  // libstdc++'s system clock counts nanoseconds: beyond about 1677 to 2262 it cannot hold the
  // time, and the nearest it can is as good for comparing stamps. (libc++'s counts
  // microseconds and holds every year written with four digits.)
  auto utc = local - offset;
  auto latest = std::chrono::floor<std::chrono::milliseconds>(WallTime::max());
  auto earliest = std::chrono::ceil<std::chrono::milliseconds>(WallTime::min());
  if (utc > latest) return WallTime::max();
  if (utc < earliest) return WallTime::min();
  return std::chrono::time_point_cast<WallTime::duration>(utc);
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

ARM_END_NAMESPACE
