#include "cgroup_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "arm/posix/unique_fd.hpp"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

ARM_BEGIN_NAMESPACE
namespace posix::cgroup {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      int value = 0;
      bool octal = true;
      for (std::size_t j = 1; j <= 3; ++j) {
        char c = text[i + j];
        if (c < '0' || c > '7') octal = false;
        value = value * 8 + (c - '0');
      }
      if (octal) {
        out += static_cast<char>(value);
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::string read_small_file(int fd) {
  std::string text;
  char buffer[4096];
  off_t offset = 0;
  for (;;) {
    ssize_t got = ::pread(fd, buffer, sizeof buffer, offset);
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
    offset += got;
  }
  return text;
}

bool write_text(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return false;
  return ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

}  // namespace

std::expected<std::string, Error> own_directory() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  std::string mount_root;
  std::string mount_point;
  while (std::getline(mountinfo, line)) {
    // id parent major:minor root mount-point options [optional fields] - type source options
    auto separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream after(line.substr(separator + 3));
    std::string type;
    after >> type;
    if (type != "cgroup2") continue;
    std::istringstream before(line.substr(0, separator));
    std::string id, parent, device;
    before >> id >> parent >> device >> mount_root >> mount_point;
    mount_root = unescape_octal(mount_root);
    mount_point = unescape_octal(mount_point);
    break;
  }
  if (mount_point.empty())
    return std::unexpected(Error::system(ENOENT, "no cgroup v2 file system is mounted"));
  std::ifstream membership("/proc/self/cgroup");
  std::string path;
  while (std::getline(membership, line)) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  }
  if (path.empty())
    return std::unexpected(Error::system(ENOENT, "/proc/self/cgroup has no cgroup v2 line"));
  // Below a mount of a subtree (a container's), the path is relative to what is mounted.
  if (mount_root != "/" && path.rfind(mount_root, 0) == 0) path = path.substr(mount_root.size());
  if (path == "/") path.clear();
  return mount_point + path;
}

bool is_cgroup2(const std::string& directory) {
  struct statfs info {};
  return ::statfs(directory.c_str(), &info) == 0 &&
         static_cast<unsigned long>(info.f_type) == CGROUP2_SUPER_MAGIC;
}

std::expected<void, Error> make(const std::string& directory) {
  if (::mkdir(directory.c_str(), 0755) != 0 && errno != EEXIST)
    return std::unexpected(Error::system(
        errno, fmt::format("cannot create cgroup {}: {}", directory, std::strerror(errno))));
  return {};
}

std::expected<void, Error> make_new(const std::string& directory) {
  if (::mkdir(directory.c_str(), 0755) != 0)
    return std::unexpected(Error::system(
        errno, fmt::format("cannot create cgroup {}: {}", directory, std::strerror(errno))));
  return {};
}

bool remove(const std::string& directory) {
  return ::rmdir(directory.c_str()) == 0;
}

bool populated(int events_fd) {
  std::string text = read_small_file(events_fd);
  return text.find("populated 1") != std::string::npos;
}

bool populated(const std::string& directory) {
  UniqueFd fd(::open((directory + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
  return fd && populated(fd.get());
}

std::vector<pid_t> members(const std::string& directory) {
  std::vector<pid_t> pids;
  UniqueFd fd(::open((directory + "/cgroup.procs").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return pids;
  std::istringstream lines(read_small_file(fd.get()));
  for (pid_t pid; lines >> pid;) pids.push_back(pid);
  return pids;
}

void signal_members(const std::string& directory, int signal, pid_t except) {
  // A member may exit (and, in theory, its number be reused) between the read and the kill:
  // the window is that of one system call, as in every tool that walks cgroup.procs.
  for (pid_t pid : members(directory)) {
    if (pid == except) continue;
    ::kill(pid, signal);
    if (signal != SIGKILL) ::kill(pid, SIGCONT);
  }
  // Cgroups the service made below its own (a nested supervisor, a container runtime). Almost
  // every service has none, and the cgroup file system says so in the directory's link count
  // (two plus one per directory below, as for every kernfs directory): one stat instead of an
  // opendir, two getdents and a close per service in a stop-all. A count below 2 means a file
  // system that does not keep it: then look.
  struct stat info {};
  if (::stat(directory.c_str(), &info) == 0 && info.st_nlink == 2) return;
  for (const auto& name : children(directory))
    signal_members(directory + "/" + name, signal, except);
}

bool remove_tree(const std::string& directory) {
  // Almost every service's cgroup has none below it: one rmdir, instead of listing the
  // directory first (an open, two getdents and a close per service, a tenth of armd's time in a
  // stop-all of 10,000). A cgroup with cgroups below it refuses (EBUSY): then walk it.
  if (::rmdir(directory.c_str()) == 0) return true;
  bool removed_all = true;
  for (const auto& name : children(directory))
    removed_all = remove_tree(directory + "/" + name) && removed_all;
  return ::rmdir(directory.c_str()) == 0 && removed_all;
}

void kill_all(const std::string& directory) {
  if (write_text(directory + "/cgroup.kill", "1")) return;
  // Before Linux 5.14: one by one, a few rounds in case members forked meanwhile.
  for (int round = 0; round < 8 && populated(directory); ++round)
    signal_members(directory, SIGKILL);
}

std::vector<std::string> children(const std::string& directory) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(directory.c_str());
  if (!dir) return names;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name(entry->d_name);
    if (entry->d_type == DT_DIR && name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

}  // namespace posix::cgroup
ARM_END_NAMESPACE
