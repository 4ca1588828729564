// armctl import (armctl_import.hpp): reads the file, lets libarm convert it, prints.
#include "armctl_import.hpp"

#include <fmt/format.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "arm/config.hpp"
#include "arm/config_import.hpp"
#include "armctl_output.hpp"

namespace armctl {

int import_file(const std::string& path, const std::optional<std::string>& from) {
  std::optional<arm::ImportFormat> format;
  if (from) {
    format = arm::parse_import_format(*from);
    if (!format) {
      fmt::print(stderr, "armctl: import: --from '{}': expected supervisord or systemd\n", *from);
      return exit_usage;
    }
  }
  // Read as armd reads its own file: a regular file of bounded size, never blocking.
  auto text = arm::read_config_file_text(path);
  if (!text) {
    fmt::print(stderr, "armctl: import: {}\n", text.error().to_string());
    return exit_usage;
  }
  if (!format) format = arm::detect_import_format(path, *text);
  if (!format) {
    fmt::print(stderr,
               "armctl: import: {}: cannot tell its format (not a .service file, no "
               "[program:NAME] section): say --from supervisord or --from systemd\n",
               path);
    return exit_usage;
  }
  std::error_code error;
  auto absolute = std::filesystem::absolute(path, error);
  arm::ImportSource source{path, (error ? std::filesystem::path(path) : absolute).parent_path(),
                           std::move(*text), [](const std::string& name) {
                             const char* value = std::getenv(name.c_str());
                             return value ? std::optional<std::string>(value) : std::nullopt;
                           }};
  auto result = arm::import_config(source, *format);
  if (!result) {
    fmt::print(stderr, "armctl: import: {}\n", result.error().to_string());
    return exit_usage;
  }
  for (const auto& note : result->notes) fmt::print(stderr, "{}\n", note);
  // `armctl import X > armd.toml` on a full disk must not leave a cut file behind a success.
  const std::string& toml = result->toml;
  if (std::fwrite(toml.data(), 1, toml.size(), stdout) != toml.size() || std::fflush(stdout) != 0) {
    fmt::print(stderr, "armctl: import: writing the TOML to standard output: {}\n",
               std::strerror(errno));
    return exit_failed;
  }
  return exit_ok;
}

}  // namespace armctl
