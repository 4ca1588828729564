#include "descriptor_limit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

namespace armd {

namespace {

// fs.nr_open: no process may have a higher RLIMIT_NOFILE. 0 when it cannot be read.
rlim_t system_ceiling() {
  std::ifstream file("/proc/sys/fs/nr_open");
  unsigned long long value = 0;
  if (!(file >> value)) return 0;
  return static_cast<rlim_t>(value);
}

std::string text(rlim_t value) {
  return value == RLIM_INFINITY ? std::string("unlimited") : std::to_string(value);
}

}  // namespace

bool DescriptorLimits::raised() const {
  return now.rlim_cur != started_with.rlim_cur || now.rlim_max != started_with.rlim_max;
}

arm::posix::SpawnerOptions::DescriptorLimit DescriptorLimits::for_children() const {
  return {.soft = started_with.rlim_cur, .hard = started_with.rlim_max};
}

std::string DescriptorLimits::describe() const {
  return fmt::format("descriptor limit raised from {}/{} to {}/{} (soft/hard); services get {}/{}",
                     text(started_with.rlim_cur), text(started_with.rlim_max), text(now.rlim_cur),
                     text(now.rlim_max), text(started_with.rlim_cur), text(started_with.rlim_max));
}

DescriptorLimits raise_descriptor_limit() {
  DescriptorLimits limits;
  if (::getrlimit(RLIMIT_NOFILE, &limits.started_with) != 0) return limits;
  limits.now = limits.started_with;
  rlim_t wanted_hard = std::min(system_ceiling(), highest_hard_descriptor_limit);
  if (limits.now.rlim_max != RLIM_INFINITY && wanted_hard > limits.now.rlim_max) {
    // Refused (EPERM) without CAP_SYS_RESOURCE: then the hard limit stays what it was.
    rlimit higher{.rlim_cur = wanted_hard, .rlim_max = wanted_hard};
    if (::setrlimit(RLIMIT_NOFILE, &higher) == 0) limits.now = higher;
  }
  if (limits.now.rlim_cur < limits.now.rlim_max) {
    rlimit soft_raised{.rlim_cur = limits.now.rlim_max, .rlim_max = limits.now.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &soft_raised) == 0) limits.now = soft_raised;
  }
  return limits;
}

}  // namespace armd
