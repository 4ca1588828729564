// One armd per socket path. Probing "does someone accept connections there?" and then binding
// is a race: two armds starting together both find nobody, and the second unlinks the first's
// socket and binds its own — two supervisors of the same services, and whichever exits first
// removes the other's socket. So the path is claimed first, with a lock file beside the socket:
//
//   <socket>.lock, mode 0600, flock(LOCK_EX | LOCK_NB), held open for armd's whole life and
//   never unlinked. (Removing it would let a newcomer lock a fresh inode while an old armd still
//   holds the unlinked one: the race again.) It holds the holder's pid, for the message a second
//   armd prints.
//
// Only the holder of the lock may remove or replace the socket file. The lock protects nothing
// if another user can replace the files, so the directory is checked first: it must belong to
// armd's user or root, and must not be writable by group or others unless it has the sticky bit
// (as /tmp); in such a shared directory an existing socket or lock file of another user is
// refused.
#pragma once

#include <expected>
#include <string>

#include "arm/posix/unique_fd.hpp"

namespace armd {

// "<socket_path>.lock"
std::string lock_path_for(const std::string& socket_path);

// Checks the socket's directory, then takes the lock. The descriptor holds the lock: keep it
// open for as long as the socket is served. Errors name the directory or the lock file and why;
// when another armd holds the lock, its pid.
std::expected<arm::posix::UniqueFd, std::string> claim_socket_path(const std::string& socket_path);

}  // namespace armd
