// The names of the signals a reload may send (ServiceSpec::reload, issue 14). Pure: the POSIX
// spawner maps them to numbers.
#include <array>
#include <utility>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE

namespace {

constexpr std::array<std::pair<ReloadSignal, std::string_view>, 7> signal_names{{
    {ReloadSignal::hangup, "SIGHUP"},
    {ReloadSignal::user1, "SIGUSR1"},
    {ReloadSignal::user2, "SIGUSR2"},
    {ReloadSignal::interrupt, "SIGINT"},
    {ReloadSignal::quit, "SIGQUIT"},
    {ReloadSignal::terminate, "SIGTERM"},
    {ReloadSignal::window_change, "SIGWINCH"},
}};

}  // namespace

std::optional<ReloadSignal> parse_reload_signal(std::string_view name) {
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (const auto& [signal, full] : signal_names) {
    if (full.substr(3) == name) return signal;
  }
  return std::nullopt;
}

std::string_view to_string(ReloadSignal signal) {
  for (const auto& [known, full] : signal_names) {
    if (known == signal) return full;
  }
  return "SIG?";
}

ARM_END_NAMESPACE
