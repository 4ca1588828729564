// The cgroup v2 operations the spawner's cgroup mode is made of: finding this process's own
// cgroup, making and removing a service's cgroup, listing, signalling and killing its members,
// and telling whether anything is left in it. Private to libarm/posix.
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>
#include <vector>

#include "arm/error.hpp"

ARM_BEGIN_NAMESPACE
namespace posix::cgroup {

// This process's cgroup in the v2 hierarchy, as a directory path: the cgroup2 mount found in
// /proc/self/mountinfo (on hybrid hosts it is not /sys/fs/cgroup itself) joined with the
// "0::" line of /proc/self/cgroup.
std::expected<std::string, Error> own_directory();

// True when `directory` is on a cgroup2 file system.
bool is_cgroup2(const std::string& directory);

// mkdir; an existing directory is fine.
std::expected<void, Error> make(const std::string& directory);

// mkdir; an existing directory is an error (EEXIST).
std::expected<void, Error> make_new(const std::string& directory);

// rmdir; false when it could not (still populated, or gone already).
bool remove(const std::string& directory);

// Removes `directory` and the cgroups a service made below it, deepest first (they must be
// empty). False when something could not be removed.
bool remove_tree(const std::string& directory);

// "populated 1" in cgroup.events, read through `events_fd` (an open cgroup.events). Reading it
// also re-arms its change notification (EPOLLPRI).
bool populated(int events_fd);

// The same, opening cgroup.events by path; false when the cgroup does not exist.
bool populated(const std::string& directory);

// The processes in it now (cgroup.procs).
std::vector<pid_t> members(const std::string& directory);

// Sends `signal` to every process in it and in the cgroups below it but `except` (0: none),
// then SIGCONT, so that a stopped process acts on it.
void signal_members(const std::string& directory, int signal, pid_t except = 0);

// SIGKILLs everything in it at once (cgroup.kill, Linux 5.14); falls back to signalling each
// member where cgroup.kill does not exist.
void kill_all(const std::string& directory);

// The subdirectories of `directory` (cgroups made below it), by name.
std::vector<std::string> children(const std::string& directory);

}  // namespace posix::cgroup
ARM_END_NAMESPACE
