#include "arm/config.hpp"
#include "launch.hpp"

ARM_BEGIN_NAMESPACE

namespace detail {

// The original ARM's order: prefix... binary [-c config] [-L DEBUG] options...
// Services written for ARM parse exactly this, so it is part of the contract; config_arg moves
// the config file for programs that take it otherwise (issue 14). Words are assigned over what
// `argv` held, so a buffer reused from spawn to spawn allocates nothing.
namespace {
std::string_view text(const std::string& text) {
  return text;
}
std::string_view text(const SharedText& text) {
  return *text;
}

const std::vector<std::string> default_config_arg{"-c", "{config}"};

}  // namespace

void substitute_placeholders(std::string& out, std::string_view word, std::string_view config,
                             std::string_view name, std::string_view pid) {
  out.clear();
  while (!word.empty()) {
    auto brace = word.find('{');
    out.append(word.substr(0, brace));
    if (brace == std::string_view::npos) break;
    word.remove_prefix(brace);
    auto replace = [&](std::string_view placeholder, std::string_view value) {
      if (!word.starts_with(placeholder)) return false;
      out.append(value);
      word.remove_prefix(placeholder.size());
      return true;
    };
    if (replace("{config}", config) || replace("{name}", name) ||
        (!pid.empty() && replace("{pid}", pid)))
      continue;
    out.push_back('{');
    word.remove_prefix(1);
  }
}

template <class Who>
void compose_argv_into(std::vector<std::string>& argv, const Who& who, const ServiceSpec& settings,
                       const ArmSettings& arm) {
  std::size_t count = 0;
  auto slot = [&]() -> std::string& {
    if (count == argv.size()) argv.emplace_back();
    return argv[count++];
  };
  auto put = [&](std::string_view word) { slot().assign(word); };
  std::string_view config = who.config_file ? std::string_view(*who.config_file) : "";
  auto put_substituted = [&](std::string_view word) {
    if (word.find('{') == std::string_view::npos) return put(word);
    substitute_placeholders(slot(), word, config, who.name);
  };
  for (const auto& word : settings.prefix ? *settings.prefix : arm.global_prefix) put(word);
  put(text(who.binary));
  if (who.config_file) {
    for (const auto& word : settings.config_arg ? *settings.config_arg : default_config_arg)
      put_substituted(word);
  }
  if (settings.debug) {
    put("-L");
    put("DEBUG");
  }
  for (std::string_view option : who.options) put_substituted(option);
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

ARM_END_NAMESPACE
