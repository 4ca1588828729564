// InotifyWatcher: one inotify watch per directory, shared by the watched files in it. Watching
// the directory rather than the file means a file replaced by rename (editors, config
// management, `mv new old`) is still seen, and a file that does not exist yet is seen when it
// appears.
//
// A directory that does not exist cannot be watched: such a path is remembered but reports
// nothing, and the next watch() of any file in that directory tries again. The same holds when a
// watched directory is deleted (the kernel drops its watch and says so with IN_IGNORED).
//
// Paths are used as given, never canonicalised, and reported exactly as they were passed to
// watch(): the supervisor looks them up by that string. Two spellings of one directory ("/etc"
// and "/etc/.", or a relative and an absolute path) share one kernel watch, since inotify
// numbers watches by inode; each spelling still gets its own reports.
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "arm/posix.hpp"
#include "arm/posix/unique_fd.hpp"

namespace arm::posix {

namespace {

// Content written and closed, or a file moved or created in place of it.
constexpr std::uint32_t change_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE;

struct WatchedDirectory {
  int descriptor = -1;  // inotify watch descriptor, -1 while the directory cannot be watched
  // File name -> each path spelling given to watch() for it -> how many watches it holds.
  std::map<std::string, std::map<std::string, int>> watchers_of_name;
};

struct SplitPath {
  std::string directory;
  std::string name;
};

SplitPath split(const std::string& path) {
  std::filesystem::path whole(path);
  std::filesystem::path directory = whole.has_parent_path() ? whole.parent_path() : ".";
  return {directory.string(), whole.filename().string()};
}

}  // namespace

struct InotifyWatcher::Impl {
  UniqueFd inotify;
  std::map<std::string, WatchedDirectory> directories;  // by directory spelling
  // The directory spellings sharing each kernel watch; the watch is removed with the last one.
  std::unordered_map<int, std::set<std::string>> directories_of_descriptor;

  void add_kernel_watch(const std::string& directory, WatchedDirectory& watched);
  void drop_kernel_watch(const std::string& directory, WatchedDirectory& watched);
  void forget_removed_watch(int descriptor);
};

void InotifyWatcher::Impl::add_kernel_watch(const std::string& directory,
                                            WatchedDirectory& watched) {
  watched.descriptor = ::inotify_add_watch(inotify.get(), directory.c_str(), change_events);
  if (watched.descriptor >= 0) directories_of_descriptor[watched.descriptor].insert(directory);
}

void InotifyWatcher::Impl::drop_kernel_watch(const std::string& directory,
                                             WatchedDirectory& watched) {
  if (watched.descriptor < 0) return;
  auto sharing = directories_of_descriptor.find(watched.descriptor);
  if (sharing != directories_of_descriptor.end()) {
    sharing->second.erase(directory);
    if (sharing->second.empty()) {
      ::inotify_rm_watch(inotify.get(), watched.descriptor);
      directories_of_descriptor.erase(sharing);
    }
  }
  watched.descriptor = -1;
}

// The kernel removed a watch by itself (directory deleted, file system unmounted): the number
// is no longer ours, and may be handed out again.
void InotifyWatcher::Impl::forget_removed_watch(int descriptor) {
  auto sharing = directories_of_descriptor.find(descriptor);
  if (sharing == directories_of_descriptor.end()) return;
  for (const auto& directory : sharing->second) {
    auto watched = directories.find(directory);
    if (watched != directories.end()) watched->second.descriptor = -1;
  }
  directories_of_descriptor.erase(sharing);
}

std::expected<std::unique_ptr<InotifyWatcher>, SystemError> InotifyWatcher::create() {
  auto impl = std::make_unique<Impl>();
  impl->inotify.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!impl->inotify)
    return std::unexpected(
        Error::system(errno, std::string("inotify_init1: ") + std::strerror(errno)));
  return std::unique_ptr<InotifyWatcher>(new InotifyWatcher(std::move(impl)));
}

InotifyWatcher::InotifyWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InotifyWatcher::~InotifyWatcher() = default;

void InotifyWatcher::watch(const std::string& path) {
  auto [directory, name] = split(path);
  WatchedDirectory& watched = impl_->directories[directory];
  if (watched.descriptor < 0) impl_->add_kernel_watch(directory, watched);
  ++watched.watchers_of_name[name][path];
}

void InotifyWatcher::unwatch(const std::string& path) {
  auto [directory, name] = split(path);
  auto watched = impl_->directories.find(directory);
  if (watched == impl_->directories.end()) return;
  auto spellings = watched->second.watchers_of_name.find(name);
  if (spellings == watched->second.watchers_of_name.end()) return;
  auto count = spellings->second.find(path);
  if (count == spellings->second.end()) return;
  if (--count->second > 0) return;
  spellings->second.erase(count);
  if (!spellings->second.empty()) return;
  watched->second.watchers_of_name.erase(spellings);
  if (!watched->second.watchers_of_name.empty()) return;
  impl_->drop_kernel_watch(directory, watched->second);
  impl_->directories.erase(watched);
}

int InotifyWatcher::fd() const {
  return impl_->inotify.get();
}

std::size_t InotifyWatcher::collect_changes(
    const std::function<void(const std::string& path)>& on_change) {
  std::set<std::string> changed;  // one report per path per batch, however many events
  alignas(inotify_event) char buffer[16384];
  for (;;) {
    ssize_t length = ::read(impl_->inotify.get(), buffer, sizeof buffer);
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) break;
    for (char* at = buffer; at < buffer + length;) {
      auto* event = reinterpret_cast<inotify_event*>(at);
      at += sizeof(inotify_event) + event->len;
      if (event->mask & IN_IGNORED) {
        impl_->forget_removed_watch(event->wd);
        continue;
      }
      // IN_Q_OVERFLOW (the queue held 16384 events) is let pass: reporting every watched file
      // instead would restart every service that has one, which is worse than a missed edit.
      if (event->len == 0) continue;
      auto sharing = impl_->directories_of_descriptor.find(event->wd);
      if (sharing == impl_->directories_of_descriptor.end()) continue;
      for (const auto& directory : sharing->second) {
        const WatchedDirectory& watched = impl_->directories.at(directory);
        auto spellings = watched.watchers_of_name.find(event->name);
        if (spellings == watched.watchers_of_name.end()) continue;
        for (const auto& [path, count] : spellings->second) changed.insert(path);
      }
    }
  }
  for (const auto& path : changed) on_change(path);
  return changed.size();
}

}  // namespace arm::posix
