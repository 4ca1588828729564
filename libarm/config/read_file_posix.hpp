// Reading the configuration file: the loader's only system calls, kept apart from the parsing.
#pragma once

#include <expected>
#include <filesystem>
#include <string>

namespace arm::config_detail {

// The whole file, or strerror's words for why not.
std::expected<std::string, std::string> read_whole_file(const std::filesystem::path& path);

}  // namespace arm::config_detail
