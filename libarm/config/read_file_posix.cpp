#include "read_file_posix.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "../posix/regular_file.hpp"
#include "nesting_limits.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

// Opening is non-blocking (read_regular_file): on SIGHUP, a FIFO put where the configuration
// was froze armd. Only a regular file is read at all.
std::expected<std::string, std::string> read_whole_file(const std::filesystem::path& path) {
  using arm::posix::detail::FileRefusal;
  auto text = arm::posix::detail::read_regular_file(path.string(), largest_config_file);
  if (text) return std::move(*text);
  const FileRefusal& refusal = text.error();
  switch (refusal.why) {
    case FileRefusal::Why::system:
      return std::unexpected(std::strerror(refusal.error_number));
    case FileRefusal::Why::not_regular:
      if (S_ISDIR(refusal.mode)) return std::unexpected(std::strerror(EISDIR));
      return std::unexpected(
          fmt::format("{}; armd reads its configuration only from a regular file",
                      arm::posix::detail::kind_of(refusal.mode)));
    case FileRefusal::Why::too_large:
      break;
  }
  return std::unexpected(fmt::format("larger than {} MiB; not a configuration file",
                                     largest_config_file / (1024 * 1024)));
}

std::optional<toml::table> reread_for_positions(const std::filesystem::path& path) {
  auto text = read_whole_file(path);
  if (!text) return std::nullopt;
  if (config_reading::find_excessive_nesting(*text, path.string())) return std::nullopt;
  try {
    return toml::parse(*text, path.string());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace config_detail
ARM_END_NAMESPACE
