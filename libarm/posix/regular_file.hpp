// Reading a small file whole without ever blocking: the configuration (libarm/config's
// read_file_posix) and a service's environment_file are both read so, each wording its own
// errors. Private to libarm.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace posix::detail {

// Why a file was not read: an errno from open/fstat/read, or what the file is.
struct FileRefusal {
  enum class Why { system, not_regular, too_large };
  Why why = Why::system;
  int error_number = 0;  // Why::system
  mode_t mode = 0;       // Why::not_regular: the file's type bits
};

// The whole of the regular file at `path` (symbolic links followed), at most `limit` bytes.
// Opened non-blocking and read only when regular: a FIFO or a device is refused, never waited
// on. A file that grows past `limit` while it is read is refused too.
std::expected<std::string, FileRefusal> read_regular_file(const std::string& path,
                                                          std::size_t limit);

// "a FIFO", "a socket", "a character device", "a block device", "a directory", or "not a
// regular file": what a file of type `mode` is, in the words of ls and stat(1).
std::string_view kind_of(mode_t mode);

}  // namespace posix::detail
ARM_END_NAMESPACE
