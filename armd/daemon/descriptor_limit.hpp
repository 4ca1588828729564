// armd's RLIMIT_NOFILE: raised for itself, since every running service costs it descriptors (a
// pidfd, and a pipe per captured stream), and given back as it was to the services, whose
// programs may use select() (which fails on a descriptor above 1023). systemd does the same.
#pragma once

#include <sys/resource.h>

#include <string>

#include "arm/posix.hpp"

namespace armd {

struct DescriptorLimits {
  rlimit started_with{};  // what armd was started with: what its services get
  rlimit now{};           // armd's own, after raise_descriptor_limit()
  bool raised() const;
  arm::posix::SpawnerOptions::DescriptorLimit for_children() const;
  // "descriptor limit raised from 1024/4096 to 1048576/1048576 (soft/hard); services get 1024/4096"
  std::string describe() const;
};

// The highest hard limit armd asks for (root, or CAP_SYS_RESOURCE): fs.nr_open, but no more than
// this, Linux's default nr_open. A million descriptors is a hundred thousand services and more.
constexpr rlim_t highest_hard_descriptor_limit = rlim_t{1} << 20;

// Raises the hard limit to fs.nr_open (at most highest_hard_descriptor_limit) where permitted,
// then the soft limit to the hard one. Never lowers either; a refusal leaves the limit as it was.
DescriptorLimits raise_descriptor_limit();

}  // namespace armd
