// An owned file descriptor, closed when its owner lets go of it: on destruction, on reset(), or
// when another descriptor is moved in. Move-only, so exactly one owner closes each descriptor,
// on every path out of a function, error paths included. -1 means "owns nothing".
//
// Public because armd, and any host embedding libarm that opens descriptors of its own, needs the
// same thing the POSIX adapters use. Like a std::unique_ptr it is not synchronised: one thread
// owns it at a time. close(2)'s result is ignored: on Linux the descriptor is released even when
// close reports an error, and there is nothing useful a destructor could do about one.
#pragma once

#include "arm/abi.hpp"

#include <unistd.h>

#include <utility>

ARM_BEGIN_NAMESPACE
namespace posix {

/// An owned file descriptor, closed when its owner lets go of it (on destruction, reset(), or a
/// move into it). Move-only; -1 owns nothing.
class ARM_EXPORT UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}  ///< owns `fd` (-1: nothing)
  /// takes `other`'s descriptor; `other` owns nothing after
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  /// Closes its own descriptor and takes `other`'s.
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  /// The descriptor, still owned here; -1 when none.
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }  ///< owns a descriptor
  /// Closes the descriptor owned so far (if any) and owns `fd` instead.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace posix
ARM_END_NAMESPACE
