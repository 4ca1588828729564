#include "read_file_posix.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace arm::config_detail {

// A configuration is small; anything bigger is the wrong file (or /dev/zero), and reading it
// whole would only exhaust memory.
constexpr std::size_t largest_config_file = 16 * 1024 * 1024;

// The whole file, or strerror's words for why not. POSIX calls rather than a stream so that a
// directory fails with "Is a directory" (an ifstream reads it as empty) and errno is exact.
std::expected<std::string, std::string> read_whole_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(std::strerror(errno));
  std::string text;
  std::array<char, 64 * 1024> chunk;
  std::string failure;
  for (;;) {
    ssize_t got = ::read(fd, chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      failure = std::strerror(errno);
      break;
    }
    if (got == 0) break;
    text.append(chunk.data(), static_cast<std::size_t>(got));
    if (text.size() > largest_config_file) {
      failure = fmt::format("larger than {} MiB; not a configuration file",
                            largest_config_file / (1024 * 1024));
      break;
    }
  }
  ::close(fd);
  if (!failure.empty()) return std::unexpected(failure);
  return text;
}

}  // namespace arm::config_detail
