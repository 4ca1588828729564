// Reading the configuration file: the loader's only system calls, kept apart from the parsing.
#pragma once

#include <cstddef>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>

#include <toml++/toml.h>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

// A configuration is small: bench/'s 10,000-service file is about 1.5 MiB. Anything much
// bigger is the wrong file, and reading it whole would only spend memory.
constexpr std::size_t largest_config_file = 8 * 1024 * 1024;

// The whole file, or why not: strerror's words, or that it is not a regular file (a FIFO, a
// device...) or is larger than largest_config_file. Never blocks.
std::expected<std::string, std::string> read_whole_file(const std::filesystem::path& path);

// The configuration's TOML read again, for the positions a loaded Config does not keep (what
// `armd --check-config` reports after loading); nullopt when it cannot be had (the file changed
// meanwhile): findings then name the file and key without a line.
std::optional<toml::table> reread_for_positions(const std::filesystem::path& path);

}  // namespace config_detail
ARM_END_NAMESPACE
