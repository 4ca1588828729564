#include <charconv>
#include <cstdint>
#include <string>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE

// "250ms", "5s", "30m", "2h", or a bare integer meaning milliseconds. Anything else ("5 sec",
// "-1s", "1.5s", "5S") is refused rather than guessed at: a guessed unit is a service killed a
// thousand times too early.
std::expected<Milliseconds, std::string> parse_duration(std::string_view text) {
  auto quoted = "'" + std::string(text) + "'";
  std::uint64_t amount = 0;
  // from_chars on an unsigned type takes digits only: no sign, no spaces, no fraction.
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (error == std::errc::result_out_of_range) return std::unexpected(quoted + ": too large");
  if (error != std::errc())
    return std::unexpected(quoted +
                           ": expected an integer followed by ms, s, m or h (e.g. \"500ms\", "
                           "\"5s\")");
  std::string_view unit = text.substr(static_cast<std::size_t>(end - text.data()));
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60 * 1000;
  else if (unit == "h")
    scale = 60 * 60 * 1000;
  else
    return std::unexpected(quoted +
                           ": expected an integer followed by ms, s, m or h (e.g. \"500ms\", "
                           "\"5s\")");
  // Far from the limits of the clock's representation (nanoseconds in 64 bits, about 292
  // years), so adding a duration to a time point can never overflow. A century is plenty.
  constexpr std::uint64_t longest = 100ULL * 365 * 24 * 60 * 60 * 1000;
  if (amount > longest / scale) return std::unexpected(quoted + ": too large (at most 100 years)");
  return Milliseconds(static_cast<Milliseconds::rep>(amount * scale));
}

ARM_END_NAMESPACE
