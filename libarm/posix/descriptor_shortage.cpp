#include "descriptor_shortage.hpp"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cstddef>
#include <string>

namespace arm::posix {

namespace {

constexpr const char* cost =
    "each running service holds a pidfd and one pipe per captured output stream: see "
    "docs/config.md";

// Descriptors are handed out lowest first, none at or above the soft limit: the free ones can
// be counted by taking them, and when a spawn has just run out there are a few at most. Taking
// them costs a few system calls where listing /proc/self/fd would read the whole table, again at
// every start that fails (thousands of them, when a large configuration does not fit).
constexpr std::size_t most_free_counted = 64;

std::size_t free_descriptors() {
  int taken[most_free_counted];
  std::size_t count = 0;
  while (count < most_free_counted) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    taken[count++] = fd;
  }
  for (std::size_t i = 0; i < count; ++i) ::close(taken[i]);
  return count;
}

// The descriptors this process holds; when many are free (the shortage was another's, or has
// passed), by listing /proc/self/fd.
std::size_t descriptors_held(rlim_t soft_limit) {
  std::size_t free = free_descriptors();
  if (free < most_free_counted && soft_limit != RLIM_INFINITY)
    return static_cast<std::size_t>(soft_limit) - free;
  DIR* directory = ::opendir("/proc/self/fd");
  if (!directory) return 0;
  std::size_t entries = 0;
  while (const dirent* entry = ::readdir(directory)) {
    if (entry->d_name[0] != '.') ++entries;
  }
  ::closedir(directory);
  return entries > 0 ? entries - 1 : 0;  // not the directory's own
}

std::string limit_text(rlim_t limit) {
  return limit == RLIM_INFINITY ? std::string("unlimited") : std::to_string(limit);
}

}  // namespace

bool is_descriptor_shortage(int error_number) {
  return error_number == EMFILE || error_number == ENFILE;
}

std::string describe_descriptor_shortage(int error_number) {
  if (error_number == ENFILE)
    return fmt::format("out of file descriptors: the system's table is full (fs.file-max); {}",
                       cost);
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return fmt::format("out of file descriptors ({} holds {} of its limit of {}; {})",
                     program_invocation_short_name, descriptors_held(limit.rlim_cur),
                     limit_text(limit.rlim_cur), cost);
}

}  // namespace arm::posix
