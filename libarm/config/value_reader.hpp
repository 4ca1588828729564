// Typed reading of single TOML values: each reader checks one value's type and contents and, when
// they are wrong, returns a ConfigError that points at that value (file, line, column, key).
//
// The readers know nothing of which key holds what; that is the tables' business
// (service_table.cpp, config_loader.cpp). Keeping the two apart lets every key of the same kind
// (all durations, all paths) be checked, and worded, the same way.
#pragma once

#include <toml++/toml.h>

#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

template <class T>
using Read = std::expected<T, ConfigError>;
using Failure = std::unexpected<ConfigError>;

class ValueReader {
 public:
  // `file` names the source in errors. Relative paths are resolved against `base_directory`;
  // when it is empty (text that came from no file) they are kept as written.
  ValueReader(std::string file, std::filesystem::path base_directory);

  const std::string& file() const { return file_; }

  ConfigError error_at(const toml::source_region& where, std::string key,
                       std::string message) const;
  ConfigError error_at(const toml::node& node, std::string key, std::string message) const;
  // "expected a string, got integer"
  ConfigError wrong_type(const toml::node& node, std::string key, std::string_view expected) const;

  Read<std::string> string(const toml::node& node, const std::string& key) const;
  Read<bool> boolean(const toml::node& node, const std::string& key) const;
  Read<const toml::table*> table(const toml::node& node, const std::string& key) const;

  // A file or directory: not empty; relative ones resolved against the base directory.
  Read<std::string> path(const toml::node& node, const std::string& key) const;
  // A program to run: not blank; one without a slash is left for PATH lookup, any other is a
  // path.
  Read<std::string> program(const toml::node& node, const std::string& key) const;
  // A string split on runs of whitespace, or an array of strings taken as they are (which is how
  // an argument containing a space is written).
  Read<std::vector<std::string>> words(const toml::node& node, const std::string& key) const;
  // Words put in front of a command line ("valgrind -q"): the first is a program.
  Read<std::vector<std::string>> command_prefix(const toml::node& node,
                                                const std::string& key) const;
  // An integer of milliseconds or a string such as "5s" (see parse_duration).
  Read<Milliseconds> duration(const toml::node& node, const std::string& key) const;
  // Where output goes: "log", "inherit", "null" or "file:PATH" (PATH resolved like any path);
  // for a key ending in ".stderr", also "stdout" (merged into stdout).
  Read<OutputTarget> output_target(const toml::node& node, const std::string& key) const;
  // An array of process exit codes, 0 to 255.
  Read<std::vector<int>> exit_codes(const toml::node& node, const std::string& key) const;

 private:
  std::string resolve(const std::string& path) const;

  std::string file_;
  std::filesystem::path base_directory_;
};

}  // namespace config_reading
ARM_END_NAMESPACE
