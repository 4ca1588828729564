// The filesystem side of reading GNUnet's configuration: the user's file, the defaults
// directory, the files @INLINE@ names, the environment and GNUnet's libexec directory. The
// parsing (gnunet_ini, gnunet_services) reads none of these itself.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>

#include "arm/config.hpp"
#include "read_file_posix.hpp"

ARM_BEGIN_NAMESPACE

namespace {

// Where GNUnet's util looks for its defaults: $GNUNET_BASE_CONFIG, else its data directory.
std::filesystem::path default_defaults_directory() {
  if (const char* base = std::getenv("GNUNET_BASE_CONFIG"); base && *base) return base;
  return "/usr/share/gnunet/config.d";
}

// Debian puts GNUnet's services in /usr/lib/<multiarch>/gnunet/libexec; a build from source in
// /usr/local/lib/gnunet/libexec.
std::string find_libexec_directory() {
  std::error_code ignored;
  std::vector<std::filesystem::path> candidates;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib", ignored))
    candidates.push_back(entry.path() / "gnunet" / "libexec");
  std::sort(candidates.begin(), candidates.end());
  candidates.push_back("/usr/lib/gnunet/libexec");
  candidates.push_back("/usr/local/lib/gnunet/libexec");
  for (const auto& candidate : candidates)
    if (std::filesystem::is_directory(candidate, ignored)) return candidate.string();
  return "/usr/lib/gnunet/libexec";  // named in errors; a spawn there fails with the reason
}

}  // namespace

bool looks_like_gnunet_config(const std::filesystem::path& path) {
  return path.extension() == ".conf";
}

std::expected<GnunetConfig, ConfigError> load_gnunet_config_file(
    const std::filesystem::path& path, const GnunetOptions& options,
    std::vector<std::string>* files_read) {
  std::vector<std::string> files;  // every file read (or tried), for the host to watch
  auto tell_files = [&] {
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    if (files_read) *files_read = files;
  };
  try {
    GnunetSources sources;
    // `-c` and relative includes need the file's absolute path, wherever armd runs from.
    sources.config_file = std::filesystem::absolute(path).lexically_normal();
    auto read = [&files](const std::string& file) {
      files.push_back(file);
      return config_detail::read_whole_file(file);
    };
    auto text = read(sources.config_file.string());
    if (!text) {
      tell_files();
      return std::unexpected(Error::at(path.string(), 0, 0, "", text.error()));
    }
    sources.config_text = std::move(*text);

    std::filesystem::path directory =
        options.defaults_directory ? *options.defaults_directory : default_defaults_directory();
    std::error_code missing;
    std::vector<std::filesystem::path> defaults;
    for (const auto& entry : std::filesystem::directory_iterator(directory, missing))
      if (entry.path().extension() == ".conf") defaults.push_back(entry.path());
    if (missing && options.defaults_directory)
      return std::unexpected(Error::at(directory.string(), 0, 0, "",
                                       fmt::format("the GNUnet defaults directory cannot be "
                                                   "read: {}",
                                                   missing.message())));
    std::sort(defaults.begin(), defaults.end());  // as GNUnet's load_from: in name order
    for (const auto& file : defaults) {
      auto contents = read(file.string());
      if (!contents) {
        tell_files();
        return std::unexpected(Error::at(file.string(), 0, 0, "", contents.error()));
      }
      sources.defaults.push_back({file.string(), std::move(*contents)});
    }
    sources.read_file = read;
    sources.environment = [](const std::string& name) -> std::optional<std::string> {
      const char* value = std::getenv(name.c_str());
      if (!value) return std::nullopt;
      return std::string(value);
    };
    sources.libexec_directory =
        options.libexec_directory ? options.libexec_directory->string() : find_libexec_directory();
    sources.is_config_file = [own = sources.config_file](const std::string& other) {
      std::error_code error;
      return std::filesystem::equivalent(own, other, error) && !error;
    };
    auto parsed = parse_gnunet_config_text(sources);
    tell_files();
    if (!parsed) return parsed;
    parsed->files = files;
    // The services read the configuration themselves: with the defaults armd layered.
    if (options.defaults_directory)
      for (auto& [name, spec] : parsed->config.services)
        spec.environment.insert_or_assign("GNUNET_BASE_CONFIG",
                                          options.defaults_directory->string());
    return parsed;
  } catch (const std::exception& error) {
    return std::unexpected(Error::at(path.string(), 0, 0, "", error.what()));
  }
}

ARM_END_NAMESPACE
