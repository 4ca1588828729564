#include "arm/config.hpp"
#include "launch.hpp"

namespace arm {

namespace detail {

// The original ARM's order: prefix... binary [-c config] [-L DEBUG] options...
// Services written for ARM parse exactly this, so it is part of the contract. Words are
// assigned over what `argv` held, so a buffer reused from spawn to spawn allocates nothing.
namespace {
std::string_view text(const std::string& text) {
  return text;
}
std::string_view text(const SharedText& text) {
  return *text;
}
}  // namespace

template <class Who>
void compose_argv_into(std::vector<std::string>& argv, const Who& who, const ServiceSpec& settings,
                       const ArmSettings& arm) {
  std::size_t count = 0;
  auto put = [&](std::string_view word) {
    if (count < argv.size()) {
      argv[count].assign(word);
    } else {
      argv.emplace_back(word);
    }
    ++count;
  };
  for (const auto& word : settings.prefix ? *settings.prefix : arm.global_prefix) put(word);
  put(text(who.binary));
  if (who.config_file) {
    put("-c");
    put(*who.config_file);
  }
  if (settings.debug) {
    put("-L");
    put("DEBUG");
  }
  for (std::string_view option : who.options) put(option);
  argv.resize(count);
}

template void compose_argv_into(std::vector<std::string>&, const Identity&, const ServiceSpec&,
                                const ArmSettings&);
template void compose_argv_into(std::vector<std::string>&, const ServiceSpec&, const ServiceSpec&,
                                const ArmSettings&);

}  // namespace detail

std::vector<std::string> compose_argv(const ServiceSpec& spec, const ArmSettings& arm) {
  std::vector<std::string> argv;
  detail::compose_argv_into(argv, spec, spec, arm);
  return argv;
}

}  // namespace arm
