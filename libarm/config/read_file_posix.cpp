#include "read_file_posix.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "arm/posix/unique_fd.hpp"
#include "nesting_limits.hpp"

namespace arm::config_detail {

namespace {

// What a file that is not a regular one is, in the words of ls and stat(1).
std::string_view kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

std::string too_large() {
  return fmt::format("larger than {} MiB; not a configuration file",
                     largest_config_file / (1024 * 1024));
}

}  // namespace

// POSIX calls rather than a stream so that errno is exact. Opening is non-blocking: opening a
// FIFO for reading otherwise waits for a writer, and reading it waits for data — on SIGHUP that
// froze armd. Only a regular file is read at all.
std::expected<std::string, std::string> read_whole_file(const std::filesystem::path& path) {
  arm::posix::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return std::unexpected(std::strerror(errno));
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) return std::unexpected(std::strerror(errno));
  if (S_ISDIR(status.st_mode)) return std::unexpected(std::strerror(EISDIR));
  if (!S_ISREG(status.st_mode))
    return std::unexpected(fmt::format("{}; armd reads its configuration only from a regular file",
                                       kind_of(status.st_mode)));
  if (static_cast<std::uintmax_t>(status.st_size) > largest_config_file)
    return std::unexpected(too_large());

  std::string text;
  text.reserve(static_cast<std::size_t>(status.st_size));
  std::array<char, 64 * 1024> chunk;
  for (;;) {
    ssize_t got = ::read(fd.get(), chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::unexpected(std::strerror(errno));
    if (got == 0) break;
    text.append(chunk.data(), static_cast<std::size_t>(got));
    // The file may grow while it is read.
    if (text.size() > largest_config_file) return std::unexpected(too_large());
  }
  return text;
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

}  // namespace arm::config_detail
