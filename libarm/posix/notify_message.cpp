// The sd_notify datagram parser: pure, so hostile input is tested without a socket.
#include <charconv>
#include <cstdint>

#include "arm/posix/notify_socket.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

// A decimal number with nothing else around it, or nullopt.
template <typename Number>
std::optional<Number> number_in(std::string_view text) {
  Number value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Microseconds as the milliseconds the core counts in, rounded up: a service that asks for
// 500 µs more is not given none.
std::optional<Milliseconds> microseconds_in(std::string_view text) {
  auto micros = number_in<std::uint64_t>(text);
  if (!micros) return std::nullopt;
  constexpr std::uint64_t most = std::uint64_t{1} << 52;  // far beyond any sane duration
  if (*micros > most) return std::nullopt;
  return Milliseconds((*micros + 999) / 1000);
}

// How many bytes the UTF-8 sequence at `text[at]` takes, or 0 when it is not one.
std::size_t utf8_length(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  std::size_t length = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  if (length == 0 || at + length > text.size()) return 0;
  for (std::size_t i = 1; i < length; ++i)
    if ((byte(at + i) & 0xc0) != 0x80) return 0;
  unsigned char second = byte(at + 1);
  if (lead == 0xe0 && second < 0xa0) return 0;   // overlong
  if (lead == 0xed && second >= 0xa0) return 0;  // a surrogate
  if (lead == 0xf0 && second < 0x90) return 0;   // overlong
  if (lead == 0xf4 && second >= 0x90) return 0;  // beyond U+10FFFF
  return length;
}

// STATUS= text as it may be shown and sent: control bytes and bytes that are not UTF-8 become
// '?'; cut at max_status_bytes (never inside a character).
std::string status_text(std::string_view text) {
  std::string out;
  for (std::size_t at = 0; at < text.size() && out.size() < max_status_bytes;) {
    auto c = static_cast<unsigned char>(text[at]);
    if (c < 0x80) {
      out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
      ++at;
      continue;
    }
    std::size_t length = utf8_length(text, at);
    if (length == 0) {
      out += '?';
      ++at;
      continue;
    }
    if (out.size() + length > max_status_bytes) break;
    out.append(text.substr(at, length));
    at += length;
  }
  return out;
}

}  // namespace

std::optional<ServiceNotification> parse_notification(std::string_view datagram) {
  if (datagram.find('\0') != std::string_view::npos) return std::nullopt;
  ServiceNotification notification;
  while (!datagram.empty()) {
    std::size_t end = datagram.find('\n');
    std::string_view line = datagram.substr(0, end);
    datagram = end == std::string_view::npos ? std::string_view() : datagram.substr(end + 1);
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view key = line.substr(0, equals);
    std::string_view value = line.substr(equals + 1);
    if (key == "READY") {
      if (value == "1") notification.ready = true;
    } else if (key == "RELOADING") {
      if (value == "1") notification.reloading = true;
    } else if (key == "STOPPING") {
      if (value == "1") notification.stopping = true;
    } else if (key == "WATCHDOG") {
      if (value == "1") notification.watchdog = true;
      if (value == "trigger") notification.watchdog_trigger = true;
    } else if (key == "STATUS") {
      notification.status = status_text(value);
    } else if (key == "WATCHDOG_USEC") {
      // 0 is kept: it turns the watchdog off, as systemd's service_start_watchdog() does.
      if (auto interval = microseconds_in(value)) notification.watchdog_timeout = interval;
    } else if (key == "EXTEND_TIMEOUT_USEC") {
      if (auto more = microseconds_in(value)) notification.extend_timeout = more;
    } else if (key == "ERRNO") {
      if (auto number = number_in<int>(value); number && *number >= 0)
        notification.error_number = number;
    }
  }
  return notification;
}

}  // namespace posix
ARM_END_NAMESPACE
