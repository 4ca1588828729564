#include "arm/config.hpp"

namespace arm {

// The original ARM's order: prefix... binary [-c config] [-L DEBUG] options...
// Services written for ARM parse exactly this, so it is part of the contract.
std::vector<std::string> compose_argv(const ServiceSpec& spec, const ArmSettings& arm) {
  const auto& prefix = spec.prefix ? *spec.prefix : arm.global_prefix;
  std::vector<std::string> argv(prefix.begin(), prefix.end());
  argv.push_back(spec.binary);
  if (spec.config_file) {
    argv.push_back("-c");
    argv.push_back(*spec.config_file);
  }
  if (spec.debug) {
    argv.push_back("-L");
    argv.push_back("DEBUG");
  }
  argv.insert(argv.end(), spec.options.begin(), spec.options.end());
  return argv;
}

}  // namespace arm
