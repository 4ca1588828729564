// Which loader reads armd's configuration file: TOML (armd's own format) or GNUnet's INI
// (issue 17), chosen once from the command line and used again at every reload.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/config.hpp"

namespace armd {

enum class ConfigFormat { toml, gnunet };

struct ConfigSource {
  std::string path;
  ConfigFormat format = ConfigFormat::toml;
  arm::GnunetOptions gnunet;  // only for ConfigFormat::gnunet

  // A configuration and what is worth telling about it (GNUnet keys not applied).
  struct Loaded {
    arm::Config config;
    std::vector<std::string> warnings;
    // The files it was read from, when armd reloads on their change itself (GNUnet's: its
    // services' config_digest says which of them a change concerns). Empty for TOML.
    std::vector<std::string> files;
  };
  // `tried`, when given, gets the files read or tried also when the load fails (GNUnet's; for
  // TOML nothing): a reload refused for a missing include tries again when it appears.
  std::expected<Loaded, arm::ConfigError> load(std::vector<std::string>* tried = nullptr) const;
};

// --config-format: "toml", "gnunet", or "auto" (a ".conf" file is GNUnet's, anything else
// TOML). nullopt for any other word.
std::optional<ConfigFormat> choose_config_format(std::string_view flag, const std::string& path);

}  // namespace armd
