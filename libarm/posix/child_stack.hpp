// The memory the launcher's child runs on until it execs (see vfork_launch.hpp). It is mapped
// with a guard page below it, so a child that outgrows it dies of SIGSEGV instead of silently
// writing over the host's heap, as a plain heap buffer would let it.
#pragma once

#include <cstddef>
#include <expected>
#include <span>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

class ChildStack {
 public:
  ChildStack() = default;
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  ~ChildStack();

  // A stack of at least `usable_bytes`, reusing the previous mapping when it is large enough.
  // On failure, the errno of mmap or mprotect.
  std::expected<std::span<char>, int> reserve(std::size_t usable_bytes);

  // What a launch of a program with `argument_count` arguments needs: glibc's execvpe, when a
  // file turns out to be a script without "#!", copies argv onto the stack to run it with
  // /bin/sh (posix_spawn sizes its own child stack by argv for the same reason).
  static std::size_t needed_for(std::size_t argument_count);

 private:
  void release();

  char* mapping_ = nullptr;  // guard page first, then the usable stack
  std::size_t mapping_bytes_ = 0;
};

}  // namespace posix
ARM_END_NAMESPACE
