// Saying what a spawn that ran out of file descriptors ran out of: the numbers an operator needs
// to choose a limit, rather than the name of whichever call happened to fail first.
#pragma once

#include <string>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

// EMFILE (this process's RLIMIT_NOFILE) or ENFILE (the system's table, fs.file-max).
bool is_descriptor_shortage(int error_number);

// "out of file descriptors (armd holds 64 of its limit of 64; each running service holds a
// pidfd and one pipe per captured output stream: see docs/config.md)", with the program's own
// name. The count is after the failed spawn gave back what it took. It takes no descriptor (a
// host's other threads may need the last ones): one poll() entry per number below the soft
// limit, paid at every start that does not fit.
std::string describe_descriptor_shortage(int error_number);

}  // namespace posix
ARM_END_NAMESPACE
