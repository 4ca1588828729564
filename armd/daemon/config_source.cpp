#include "config_source.hpp"

namespace armd {

std::expected<ConfigSource::Loaded, arm::ConfigError> ConfigSource::load(
    std::vector<std::string>* tried) const {
  switch (format) {
    case ConfigFormat::toml: {
      auto config = arm::load_config_file(path);
      if (!config) return std::unexpected(std::move(config.error()));
      return Loaded{std::move(*config), {}, {}};
    }
    case ConfigFormat::gnunet: {
      auto config = arm::load_gnunet_config_file(path, gnunet, tried);
      if (!config) return std::unexpected(std::move(config.error()));
      return Loaded{std::move(config->config), std::move(config->warnings),
                    std::move(config->files)};
    }
  }
  return std::unexpected(arm::Error::at(path, 0, 0, "", "unknown configuration format"));
}

std::optional<ConfigFormat> choose_config_format(std::string_view flag, const std::string& path) {
  if (flag == "toml") return ConfigFormat::toml;
  if (flag == "gnunet") return ConfigFormat::gnunet;
  if (flag == "auto")
    return arm::looks_like_gnunet_config(path) ? ConfigFormat::gnunet : ConfigFormat::toml;
  return std::nullopt;
}

}  // namespace armd
