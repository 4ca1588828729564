#include "clone_into_cgroup.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdint>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

// struct clone_args of <linux/sched.h>, version 2 (with `cgroup`), Linux 5.7.
struct CloneArguments {
  std::uint64_t flags;
  std::uint64_t pidfd;
  std::uint64_t child_tid;
  std::uint64_t parent_tid;
  std::uint64_t exit_signal;
  std::uint64_t stack;
  std::uint64_t stack_size;
  std::uint64_t tls;
  std::uint64_t set_tid;
  std::uint64_t set_tid_size;
  std::uint64_t cgroup;
};

}  // namespace

#if defined(__x86_64__)

// long raw_clone3(CloneArguments* arguments, size_t size, int (*child)(void*), void* argument)
// The child starts on the new stack with the parent's registers but rax = 0: it calls
// child(argument) and exits with its result (child() normally execs or _exits first).
extern "C" long arm_raw_clone3(CloneArguments* arguments, std::size_t size, int (*child)(void*),
                               void* argument);
asm(R"(
    .pushsection .text
    .p2align 4
    .type arm_raw_clone3, @function
arm_raw_clone3:
    .cfi_startproc
    movq %rdx, %r8
    movq %rcx, %r9
    movl $435, %eax
    syscall
    testq %rax, %rax
    jnz 1f
    .cfi_remember_state
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r9, %rdi
    callq *%r8
    movl %eax, %edi
    movl $60, %eax
    syscall
    hlt
1:
    .cfi_restore_state
    ret
    .cfi_endproc
    .size arm_raw_clone3, .-arm_raw_clone3
    .popsection
)");

long clone3_into_cgroup(int (*child)(void*), void* argument, char* stack, std::size_t stack_size,
                        int cgroup_fd, int* pidfd, unsigned long extra_flags) {
  CloneArguments arguments{};
  arguments.flags = CLONE_PIDFD | CLONE_INTO_CGROUP | extra_flags;
  arguments.pidfd = reinterpret_cast<std::uintptr_t>(pidfd);
  arguments.exit_signal = SIGCHLD;
  arguments.stack = reinterpret_cast<std::uintptr_t>(stack);
  arguments.stack_size = stack_size;
  arguments.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  return arm_raw_clone3(&arguments, sizeof arguments, child, argument);
}

#else

long clone3_into_cgroup(int (*)(void*), void*, char*, std::size_t, int, int*, unsigned long) {
  return -ENOSYS;
}

#endif

}  // namespace posix
ARM_END_NAMESPACE
