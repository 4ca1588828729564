// The environment and argument vectors of a process the host starts: a service's
// (PosixSpawner) or an exec probe's (PosixProber), built the same way for both.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

// The host's own environment, without the sd_notify and socket activation variables its own
// supervisor may have given it (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID: armd run by systemd
// with Type=notify; LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES: armd given sockets). Those are the
// host's, never a child's, which would otherwise speak to systemd in the host's name (or, with
// WATCHDOG_PID, be told it has no watchdog, or take descriptors it does not have).
std::map<std::string, std::string> inherited_environment();

// "KEY=VALUE" strings, in key order.
std::vector<std::string> flattened(const std::map<std::string, std::string>& variables);

// execve's view of `strings`: their buffers, then a null pointer. Valid while `strings` lives
// unchanged.
std::vector<char*> pointers_to(std::vector<std::string>& strings);

}  // namespace posix
ARM_END_NAMESPACE
