#include <charconv>
#include <limits>

#include "arm/config.hpp"

namespace arm {

// "250ms", "5s", "30m", "2h", or a bare integer meaning milliseconds. Anything else ("5 sec",
// "-1s", "1.5s") is refused rather than guessed at.
std::expected<Milliseconds, std::string> parse_duration(std::string_view text) {
  auto refuse = [&] {
    return std::unexpected("'" + std::string(text) +
                           "': expected an integer followed by ms, s, m or h (e.g. \"500ms\", "
                           "\"5s\")");
  };
  std::uint64_t amount = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (error == std::errc::result_out_of_range)
    return std::unexpected("'" + std::string(text) + "': too large");
  if (error != std::errc() || end == text.data()) return refuse();
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
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
    return refuse();
  // Keep far from the limits of the clock's representation: a hundred years is plenty.
  constexpr std::uint64_t limit = 100ULL * 365 * 24 * 60 * 60 * 1000;
  if (amount > limit / scale) return std::unexpected("'" + std::string(text) + "': too large");
  return Milliseconds(static_cast<Milliseconds::rep>(amount * scale));
}

}  // namespace arm
