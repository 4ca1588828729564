#include "descriptor_shortage.hpp"

#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>

#include <fmt/format.h>
#include <cstddef>
#include <string>

namespace arm::posix {

namespace {

constexpr const char* cost =
    "each running service holds a pidfd and one pipe per captured output stream: see "
    "docs/config.md";

// The descriptors this process holds. Listing /proc/self/fd takes one itself; when even that
// one is refused (EMFILE), every number below the limit is taken, and the count is the limit.
std::size_t descriptors_held(rlim_t soft_limit) {
  DIR* directory = ::opendir("/proc/self/fd");
  if (!directory) return static_cast<std::size_t>(soft_limit);
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
