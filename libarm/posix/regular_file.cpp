#include "regular_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "arm/posix/unique_fd.hpp"

ARM_BEGIN_NAMESPACE
namespace posix::detail {

std::expected<std::string, FileRefusal> read_regular_file(const std::string& path,
                                                          std::size_t limit) {
  auto failed = [](int error) {
    return std::unexpected(FileRefusal{FileRefusal::Why::system, error, 0});
  };
  auto too_large = std::unexpected(FileRefusal{FileRefusal::Why::too_large, 0, 0});
  // POSIX calls rather than a stream so that errno is exact. Non-blocking: opening a FIFO for
  // reading otherwise waits for a writer, and reading it waits for data.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return failed(errno);
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) return failed(errno);
  if (!S_ISREG(status.st_mode))
    return std::unexpected(FileRefusal{FileRefusal::Why::not_regular, 0, status.st_mode});
  if (static_cast<std::uintmax_t>(status.st_size) > limit) return too_large;
  std::string text;
  text.reserve(static_cast<std::size_t>(status.st_size));
  std::array<char, 64 * 1024> chunk;
  for (;;) {
    ssize_t got = ::read(fd.get(), chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return failed(errno);
    if (got == 0) return text;
    text.append(chunk.data(), static_cast<std::size_t>(got));
    if (text.size() > limit) return too_large;
  }
}

std::string_view kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

}  // namespace posix::detail
ARM_END_NAMESPACE
