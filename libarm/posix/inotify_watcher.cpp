// InotifyWatcher: one inotify watch per directory, shared by the watched files in it. Watching
// the directory rather than the file means a file replaced by rename (editors, config
// management, `mv new old`) is still seen, and a file that does not exist yet is seen when it
// appears. A directory that does not exist cannot be watched; such a path is remembered but
// reports nothing (a later watch() after the directory appears picks it up).
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "arm/posix.hpp"
#include "unique_fd.hpp"

namespace arm::posix {

namespace {

struct WatchedDirectory {
  int descriptor = -1;                    // inotify watch descriptor, -1 if it could not be added
  std::map<std::string, int> file_users;  // file name -> watch count
  std::map<std::string, std::string> full_paths;  // file name -> path as given to watch()
};

std::pair<std::string, std::string> split(const std::string& path) {
  std::filesystem::path p(path);
  std::filesystem::path directory = p.has_parent_path() ? p.parent_path() : ".";
  return {directory.string(), p.filename().string()};
}

}  // namespace

struct InotifyWatcher::Impl {
  UniqueFd inotify;
  std::map<std::string, WatchedDirectory> directories;
  std::unordered_map<int, std::string> directory_of_descriptor;
};

std::expected<std::unique_ptr<InotifyWatcher>, SystemError> InotifyWatcher::create() {
  auto impl = std::make_unique<Impl>();
  impl->inotify.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!impl->inotify)
    return std::unexpected(
        SystemError{errno, std::string("inotify_init1: ") + std::strerror(errno)});
  return std::unique_ptr<InotifyWatcher>(new InotifyWatcher(std::move(impl)));
}

InotifyWatcher::InotifyWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InotifyWatcher::~InotifyWatcher() = default;

void InotifyWatcher::watch(const std::string& path) {
  auto [directory, name] = split(path);
  WatchedDirectory& watched = impl_->directories[directory];
  if (watched.descriptor < 0) {
    // Content written and closed, or a file moved or created in place of it.
    watched.descriptor = ::inotify_add_watch(impl_->inotify.get(), directory.c_str(),
                                             IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
    if (watched.descriptor >= 0) impl_->directory_of_descriptor[watched.descriptor] = directory;
  }
  ++watched.file_users[name];
  watched.full_paths[name] = path;
}

void InotifyWatcher::unwatch(const std::string& path) {
  auto [directory, name] = split(path);
  auto it = impl_->directories.find(directory);
  if (it == impl_->directories.end()) return;
  WatchedDirectory& watched = it->second;
  auto user = watched.file_users.find(name);
  if (user == watched.file_users.end()) return;
  if (--user->second > 0) return;
  watched.file_users.erase(user);
  watched.full_paths.erase(name);
  if (!watched.file_users.empty()) return;
  if (watched.descriptor >= 0) {
    ::inotify_rm_watch(impl_->inotify.get(), watched.descriptor);
    impl_->directory_of_descriptor.erase(watched.descriptor);
  }
  impl_->directories.erase(it);
}

int InotifyWatcher::fd() const {
  return impl_->inotify.get();
}

std::size_t InotifyWatcher::collect_changes(
    const std::function<void(const std::string& path)>& on_change) {
  std::set<std::string> changed;  // one report per file per batch, however many events
  alignas(inotify_event) char buffer[16384];
  for (;;) {
    ssize_t length = ::read(impl_->inotify.get(), buffer, sizeof buffer);
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) break;
    for (char* at = buffer; at < buffer + length;) {
      auto* event = reinterpret_cast<inotify_event*>(at);
      at += sizeof(inotify_event) + event->len;
      if (event->len == 0) continue;
      auto directory = impl_->directory_of_descriptor.find(event->wd);
      if (directory == impl_->directory_of_descriptor.end()) continue;
      const WatchedDirectory& watched = impl_->directories[directory->second];
      auto path = watched.full_paths.find(event->name);
      if (path != watched.full_paths.end()) changed.insert(path->second);
    }
  }
  for (const auto& path : changed) on_change(path);
  return changed.size();
}

}  // namespace arm::posix
