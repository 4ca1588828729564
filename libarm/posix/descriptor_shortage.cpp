#include "descriptor_shortage.hpp"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstddef>
#include <string>

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

constexpr const char* cost =
    "each running service holds a pidfd and one pipe per captured output stream: see "
    "docs/config.md";

// The descriptors this process holds below its soft limit, counted without taking any: poll()
// with no events asked marks a number that is not open POLLNVAL. Taking the free ones to count
// them (open until EMFILE) would, for that moment, leave none to the host's other threads, whose
// accept() or open() would fail with EMFILE because a start failed; listing /proc/self/fd takes
// one too. The cost is one poll() entry per number below the limit (a few hundred microseconds
// at 20,000), paid only by a start that ran out.
constexpr std::size_t polled_at_once = 256;

std::size_t descriptors_held(rlim_t soft_limit) {
  std::size_t limit = soft_limit == RLIM_INFINITY || soft_limit > INT_MAX
                          ? static_cast<std::size_t>(INT_MAX)
                          : static_cast<std::size_t>(soft_limit);
  std::size_t held = 0;
  pollfd numbers[polled_at_once];
  for (std::size_t base = 0; base < limit; base += polled_at_once) {
    std::size_t count = std::min(polled_at_once, limit - base);
    for (std::size_t i = 0; i < count; ++i)
      numbers[i] = {.fd = static_cast<int>(base + i), .events = 0, .revents = 0};
    int ready;
    do {
      ready = ::poll(numbers, count, 0);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return held;
    std::size_t open_here = 0;
    for (std::size_t i = 0; i < count; ++i)
      if (!(numbers[i].revents & POLLNVAL)) ++open_here;
    held += open_here;
    // An unlimited soft limit (no Linux allows one for descriptors): stop at the first empty
    // stretch rather than poll two billion numbers.
    if (soft_limit == RLIM_INFINITY && open_here == 0) break;
  }
  return held;
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

}  // namespace posix
ARM_END_NAMESPACE
