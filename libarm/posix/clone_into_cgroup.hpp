// clone3(2) for a vfork-style launch: the child runs `child` on `stack` in the parent's memory,
// born in the cgroup `cgroup_fd` (CLONE_INTO_CGROUP) so nothing has to move it there later.
// Moving a running process (a write to cgroup.procs) takes the kernel's cgroup threadgroup lock
// for writing, which waits for an RCU grace period: measured at up to 14 ms per spawn here.
// Being born in the cgroup takes only its read side.
//
// glibc 2.36 has no clone3 wrapper, and with CLONE_VM the child must start on its own stack
// before it touches any memory of the caller's frame, so the system call is made from a few
// lines of assembly (x86-64 only; elsewhere it reports ENOSYS and the caller moves the child
// itself).
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

// Returns the child's pid in the parent, or -errno. `pidfd` receives the child's pidfd.
long clone3_into_cgroup(int (*child)(void*), void* argument, char* stack, std::size_t stack_size,
                        int cgroup_fd, int* pidfd, unsigned long extra_flags);

}  // namespace posix
ARM_END_NAMESPACE
