#include "socket_claim.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>

namespace armd {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

std::string directory_of(const std::string& path) {
  std::string directory = std::filesystem::path(path).parent_path().string();
  return directory.empty() ? "." : directory;
}

// Whether another user could replace files in `directory`. nullopt when it is safe; a shared
// (sticky, world-writable) directory sets `shared`.
std::optional<std::string> unsafe_directory(const std::string& directory, bool& shared) {
  struct stat status {};
  if (::stat(directory.c_str(), &status) != 0)
    return fmt::format("socket directory {}: {}", directory, errno_text());
  if (!S_ISDIR(status.st_mode)) return fmt::format("{} is not a directory", directory);
  uid_t me = ::geteuid();
  if (status.st_uid != me && status.st_uid != 0)
    return fmt::format(
        "socket directory {} belongs to uid {}, neither armd's user (uid {}) nor root: that "
        "user could replace armd's socket",
        directory, status.st_uid, me);
  bool writable_by_others = (status.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  bool sticky = (status.st_mode & S_ISVTX) != 0;
  if (writable_by_others && !sticky)
    return fmt::format(
        "socket directory {} (mode {:04o}) is writable by group or others and has no sticky "
        "bit: another user could replace armd's socket; use a directory only armd's user can "
        "write, such as $XDG_RUNTIME_DIR",
        directory, status.st_mode & 07777);
  shared = writable_by_others;
  return std::nullopt;
}

// In a shared directory, a file of another user at `path` (socket or lock) is theirs, not a
// stale one of ours.
std::optional<std::string> foreign_file(const std::string& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) return std::nullopt;  // nothing there yet
  if (status.st_uid == ::geteuid()) return std::nullopt;
  return fmt::format(
      "{} belongs to uid {}, not to armd's user (uid {}), in a directory others can write: not "
      "using it",
      path, status.st_uid, ::geteuid());
}

// The pid written into the lock, when it names a living process.
std::optional<long> pid_in(int lock_fd) {
  char text[32] = {};
  ssize_t got = ::pread(lock_fd, text, sizeof text - 1, 0);
  if (got <= 0) return std::nullopt;
  long pid = 0;
  auto [end, error] = std::from_chars(text, text + got, pid);
  if (error != std::errc() || pid <= 0 || pid > std::numeric_limits<pid_t>::max())
    return std::nullopt;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return std::nullopt;
  return pid;
}

// The holder writes its pid just after it locks: a rival that lost the race by a hair finds the
// file empty, or still naming a previous holder that is gone. It looks again for a moment.
std::optional<long> holder_of(int lock_fd) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (auto pid = pid_in(lock_fd)) return pid;
    ::usleep(10'000);
  }
  return std::nullopt;
}

}  // namespace

std::string lock_path_for(const std::string& socket_path) {
  return socket_path + ".lock";
}

std::expected<arm::posix::UniqueFd, std::string> claim_socket_path(const std::string& socket_path) {
  std::string directory = directory_of(socket_path);
  std::string lock_path = lock_path_for(socket_path);
  bool shared = false;
  if (auto why = unsafe_directory(directory, shared)) return std::unexpected(*why);
  if (shared) {
    for (const std::string& path : {socket_path, lock_path})
      if (auto why = foreign_file(path)) return std::unexpected(*why);
  }

  // O_NOFOLLOW: a symlink planted at the lock's name is not followed to some other file.
  arm::posix::UniqueFd lock(
      ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
  if (!lock)
    return std::unexpected(fmt::format("cannot open lock {}: {}", lock_path, errno_text()));
  // Checked on what was opened, so a file swapped in since the checks above is seen too.
  struct stat status {};
  if (::fstat(lock.get(), &status) != 0)
    return std::unexpected(fmt::format("lock {}: {}", lock_path, errno_text()));
  if (!S_ISREG(status.st_mode))
    return std::unexpected(fmt::format("lock {} is not a regular file", lock_path));
  if (status.st_uid != ::geteuid())
    return std::unexpected(fmt::format("lock {} belongs to uid {}, not to armd's user (uid {})",
                                       lock_path, status.st_uid, ::geteuid()));

  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK)
      return std::unexpected(fmt::format("cannot lock {}: {}", lock_path, errno_text()));
    auto holder = holder_of(lock.get());
    return std::unexpected(fmt::format("another armd{} already holds {}; it serves {}",
                                       holder ? fmt::format(" (pid {})", *holder) : "", lock_path,
                                       socket_path));
  }
  // Ours: say who holds it. A failure here only loses the pid in a rival's message.
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(lock.get(), 0) == 0) {
    [[maybe_unused]] ssize_t written = ::pwrite(lock.get(), pid.data(), pid.size(), 0);
  }
  return lock;
}

}  // namespace armd
