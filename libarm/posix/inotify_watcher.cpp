// InotifyWatcher: content hashes behind a set of directory watches (see <arm/posix.hpp>).
//
// Each watched path keeps its watch chain (watch_chain.hpp): the kernel watches it relies on,
// shared between paths (inotify numbers watches by inode, and one inode has one watch). An event
// on a step of a path's chain re-resolves the chain when the path may now lead elsewhere, and
// checks the content now, or after the quiet period when a write may still be going on. A check
// reads the file once and compares the hash of the whole text, or of each watched section, with
// the last one seen; only a different hash of an existing file is reported.
//
// Kernel watch masks only grow (IN_MASK_ADD): shrinking one would mean naming the directory by
// path again, which may by then be another directory. Events nobody asked for are filtered by
// name. A kernel watch goes when no chain uses it any more, or when the kernel drops it
// (IN_IGNORED: the directory was deleted).
//
// Paths are reported exactly as they were passed to watch(): the supervisor looks them up so.
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include "arm/posix.hpp"
#include "arm/posix/unique_fd.hpp"
#include "file_content.hpp"
#include "watch_chain.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

using detail::ChainStep;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t itself_events = IN_DELETE_SELF | IN_MOVE_SELF;
constexpr std::uint32_t entry_events = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
constexpr std::uint32_t content_events = entry_events | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB;

std::uint32_t events_for(ChainStep::Kind kind) {
  switch (kind) {
    case ChainStep::Kind::itself:
      return itself_events;
    case ChainStep::Kind::entry:
      return entry_events;
    case ChainStep::Kind::content:
      return content_events;
  }
  return 0;
}

// What an event on a step of a path's chain asks for.
struct Follow {
  bool rearm = false;  // the path may lead elsewhere now: walk it again
  enum class Check {
    none,
    now,                 // complete: closed after writing, renamed into place, deleted
    now_unless_written,  // attributes changed: check, unless a write is still going on
    when_quiet           // a write may be going on (IN_CREATE, IN_MODIFY)
  } check = Check::none;
};

Follow follow(ChainStep::Kind kind, std::uint32_t mask) {
  using Check = Follow::Check;
  if (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))
    return {true, Check::now};
  if (mask & IN_CREATE) return {true, Check::when_quiet};
  if (kind != ChainStep::Kind::content) return {};
  if (mask & IN_CLOSE_WRITE) return {false, Check::now};
  if (mask & IN_MODIFY) return {false, Check::when_quiet};
  if (mask & IN_ATTRIB) return {false, Check::now_unless_written};
  return {};
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  std::error_code error;
  auto base = std::filesystem::current_path(error);
  return error ? "/" + path : (base / path).string();
}

}  // namespace

struct ARM_HIDDEN InotifyWatcher::Impl {
  struct Watched;
  // One step of one path's chain, as registered on a kernel watch.
  struct Registration {
    int descriptor;
    ChainStep::Kind kind;
    std::string name;
  };
  struct KernelWatch {
    std::map<std::string, std::vector<std::pair<Watched*, ChainStep::Kind>>> entries;  // by name
    // Paths through this directory (a path may pass twice, through `..`): many files in one
    // directory share its ancestors, so a hash map keeps unwatch O(1).
    std::unordered_map<Watched*, unsigned> itself;
    std::size_t uses = 0;
  };
  struct Watched {
    std::string path;      // as given
    std::string absolute;  // resolved against the current directory at watch()
    // Section ("" for the whole file) -> how many watch() calls and the last hash seen.
    struct Section {
      int count = 0;
      std::optional<std::uint64_t> last_hash;
    };
    std::map<std::string, Section> sections;
    std::vector<Registration> chain;
    std::optional<Clock::time_point> check_due;
    // Why a step of the chain could not be watched at the last arm(), if one could not: changes
    // that step would have shown go unseen. watch() returns it.
    std::optional<Error> unwatchable;
  };

  UniqueFd inotify;
  UniqueFd timer;
  UniqueFd epoll;                          // inotify and timer: the one descriptor the host watches
  std::map<std::string, Watched> watched;  // by path as given
  std::unordered_map<int, KernelWatch> kernel_watches;
  std::set<std::pair<Clock::time_point, Watched*>> quiet_checks;

  void arm(Watched& file);
  void arm_steps(Watched& file, const std::vector<detail::ChainStep>& steps);
  void disarm(Watched& file);
  // 0, or the errno of a step that cannot be watched (not one that is merely gone meanwhile).
  int register_step(Watched& file, const ChainStep& step);
  void unregister(Watched& file, const Registration& registration);
  void forget_kernel_watch(int descriptor, std::set<Watched*>& to_rearm);
  void check_later(Watched& file, Clock::time_point due);
  void cancel_check(Watched& file);
  void check(Watched& file, std::vector<WatchedFile>& changed);
  void set_timer();
};

// (Re)registers the path's chain: the new steps first, so shared kernel watches stay put. A
// directory made between the walk's look at the path and the watch on its parent sends no
// event (`mkdir -p etc/app` while etc is being watched for "app"): the chain would stay short
// and miss every later change below it. So the path is walked again once the watches are in
// place, and armed again while the walk finds more (anything made after that walk sends an
// event).
void InotifyWatcher::Impl::arm(Watched& file) {
  std::vector<ChainStep> steps = detail::watch_chain(file.absolute);
  for (int round = 0; round < 8; ++round) {
    arm_steps(file, steps);
    std::vector<ChainStep> now = detail::watch_chain(file.absolute);
    if (now == steps) return;
    steps = std::move(now);
  }
}

void InotifyWatcher::Impl::arm_steps(Watched& file, const std::vector<ChainStep>& steps) {
  std::vector<Registration> old = std::move(file.chain);
  file.chain.clear();
  file.unwatchable.reset();
  for (const ChainStep& step : steps) {
    int error = register_step(file, step);
    if (error == 0 || file.unwatchable) continue;
    std::string why = std::strerror(error);
    if (error == ENOSPC)
      why += " (the inotify watch limit, fs.inotify.max_user_watches, is reached)";
    file.unwatchable =
        Error::system(error, fmt::format("cannot watch {} for changes: inotify_add_watch({}): {}",
                                         file.path, step.directory, why));
  }
  for (const Registration& registration : old) unregister(file, registration);
}

void InotifyWatcher::Impl::disarm(Watched& file) {
  for (const Registration& registration : file.chain) unregister(file, registration);
  file.chain.clear();
  cancel_check(file);
}

int InotifyWatcher::Impl::register_step(Watched& file, const ChainStep& step) {
  int descriptor = ::inotify_add_watch(inotify.get(), step.directory.c_str(),
                                       events_for(step.kind) | IN_ONLYDIR | IN_MASK_ADD);
  if (descriptor < 0) {
    // Gone (or replaced by a file) meanwhile: the event that says so re-arms. Anything else
    // (EACCES, ENOSPC, ENOMEM) leaves this step unwatched.
    return errno == ENOENT || errno == ENOTDIR ? 0 : errno;
  }
  KernelWatch& watch = kernel_watches[descriptor];
  ++watch.uses;
  if (step.kind == ChainStep::Kind::itself) {
    ++watch.itself[&file];
  } else {
    watch.entries[step.name].emplace_back(&file, step.kind);
  }
  file.chain.push_back({descriptor, step.kind, step.name});
  return 0;
}

void InotifyWatcher::Impl::unregister(Watched& file, const Registration& registration) {
  auto found = kernel_watches.find(registration.descriptor);
  if (found == kernel_watches.end()) return;  // the kernel dropped it already
  KernelWatch& watch = found->second;
  if (registration.kind == ChainStep::Kind::itself) {
    auto at = watch.itself.find(&file);
    if (at != watch.itself.end() && --at->second == 0) watch.itself.erase(at);
  } else if (auto users = watch.entries.find(registration.name); users != watch.entries.end()) {
    auto at = std::ranges::find(users->second, std::pair{&file, registration.kind});
    if (at != users->second.end()) users->second.erase(at);
    if (users->second.empty()) watch.entries.erase(users);
  }
  if (--watch.uses > 0) return;
  ::inotify_rm_watch(inotify.get(), registration.descriptor);
  kernel_watches.erase(found);
}

// The kernel removed a watch by itself (directory deleted, file system unmounted): its number is
// no longer ours, and every path that relied on it must find its way again.
void InotifyWatcher::Impl::forget_kernel_watch(int descriptor, std::set<Watched*>& to_rearm) {
  auto found = kernel_watches.find(descriptor);
  if (found == kernel_watches.end()) return;
  for (auto& [file, count] : found->second.itself) to_rearm.insert(file);
  for (auto& [name, users] : found->second.entries)
    for (auto& [file, kind] : users) to_rearm.insert(file);
  kernel_watches.erase(found);
  for (Watched* file : to_rearm)
    std::erase_if(file->chain, [&](const Registration& r) { return r.descriptor == descriptor; });
}

void InotifyWatcher::Impl::check_later(Watched& file, Clock::time_point due) {
  cancel_check(file);
  file.check_due = due;
  quiet_checks.emplace(due, &file);
}

void InotifyWatcher::Impl::cancel_check(Watched& file) {
  if (!file.check_due) return;
  quiet_checks.erase({*file.check_due, &file});
  file.check_due.reset();
}

// Reads the file once; each watched section whose hash moved is a change. A file that is not
// there (or not a readable regular file) changes nothing: its last hash is kept.
void InotifyWatcher::Impl::check(Watched& file, std::vector<WatchedFile>& changed) {
  cancel_check(file);
  auto snapshot = detail::read_snapshot(file.absolute);
  if (!snapshot) return;
  for (auto& [section, state] : file.sections) {
    std::uint64_t hash = snapshot->hash(section);
    if (state.last_hash == hash) continue;
    state.last_hash = hash;
    changed.push_back({file.path, section});
  }
}

void InotifyWatcher::Impl::set_timer() {
  itimerspec when{};
  if (!quiet_checks.empty()) {
    auto since_epoch = quiet_checks.begin()->first.time_since_epoch();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
    when.it_value.tv_sec = static_cast<time_t>(seconds.count());
    when.it_value.tv_nsec = static_cast<long>(nanoseconds.count());
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) when.it_value.tv_nsec = 1;
  }
  ::timerfd_settime(timer.get(), TFD_TIMER_ABSTIME, &when, nullptr);
}

std::expected<std::unique_ptr<InotifyWatcher>, SystemError> InotifyWatcher::create() {
  auto failed = [](const char* what) {
    return std::unexpected(Error::system(errno, std::string(what) + ": " + std::strerror(errno)));
  };
  auto impl = std::make_unique<Impl>();
  impl->inotify.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!impl->inotify) return failed("inotify_init1");
  // steady_clock is CLOCK_MONOTONIC on Linux: the timer's absolute times are its time points.
  impl->timer.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!impl->timer) return failed("timerfd_create");
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll) return failed("epoll_create1");
  for (int fd : {impl->inotify.get(), impl->timer.get()}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (::epoll_ctl(impl->epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0) return failed("epoll_ctl");
  }
  return std::unique_ptr<InotifyWatcher>(new InotifyWatcher(std::move(impl)));
}

InotifyWatcher::InotifyWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InotifyWatcher::~InotifyWatcher() = default;

std::expected<void, Error> InotifyWatcher::watch(const WatchedFile& file) {
  auto [entry, added] = impl_->watched.try_emplace(file.path);
  Impl::Watched& watched = entry->second;
  if (added) {
    watched.path = file.path;
    watched.absolute = absolute(file.path);
    impl_->arm(watched);
  }
  Impl::Watched::Section& section = watched.sections[file.section];
  if (section.count++ == 0) {
    // The content as it is now is the reference: only a change from it is reported.
    if (auto snapshot = detail::read_snapshot(watched.absolute))
      section.last_hash = snapshot->hash(file.section);
  }
  if (watched.unwatchable) return std::unexpected(*watched.unwatchable);
  return {};
}

void InotifyWatcher::unwatch(const WatchedFile& file) {
  auto entry = impl_->watched.find(file.path);
  if (entry == impl_->watched.end()) return;
  Impl::Watched& watched = entry->second;
  auto section = watched.sections.find(file.section);
  if (section == watched.sections.end()) return;
  if (--section->second.count > 0) return;
  watched.sections.erase(section);
  if (!watched.sections.empty()) return;
  impl_->disarm(watched);
  impl_->watched.erase(entry);
  impl_->set_timer();
}

int InotifyWatcher::fd() const {
  return impl_->epoll.get();
}

std::size_t InotifyWatcher::collect_changes(
    const std::function<void(const WatchedFile& file)>& on_change) {
  using Check = Follow::Check;
  Impl& impl = *impl_;
  // Per path, what this batch of events asks for; a later event overrides an earlier check.
  std::map<Impl::Watched*, Follow> asked;
  auto ask = [&](Impl::Watched* file, Follow follow) {
    Follow& so_far = asked[file];
    so_far.rearm = so_far.rearm || follow.rearm;
    if (follow.check == Check::none) return;
    bool writing = so_far.check == Check::when_quiet ||
                   (so_far.check == Check::none && file->check_due.has_value());
    if (follow.check == Check::now_unless_written) {
      if (!writing) so_far.check = Check::now;
      return;
    }
    so_far.check = follow.check;
  };
  bool overflow = false;
  alignas(inotify_event) char buffer[16384];
  for (;;) {
    ssize_t length = ::read(impl.inotify.get(), buffer, sizeof buffer);
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) break;
    for (char* at = buffer; at < buffer + length;) {
      auto* event = reinterpret_cast<inotify_event*>(at);
      at += sizeof(inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) {
        overflow = true;  // events were lost: look at everything again
        continue;
      }
      if (event->mask & IN_IGNORED) {
        std::set<Impl::Watched*> lost;
        impl.forget_kernel_watch(event->wd, lost);
        for (Impl::Watched* file : lost) ask(file, {true, Check::now});
        continue;
      }
      auto found = impl.kernel_watches.find(event->wd);
      if (found == impl.kernel_watches.end()) continue;
      if (event->mask & itself_events) {
        for (auto& [file, count] : found->second.itself)
          ask(file, follow(ChainStep::Kind::itself, event->mask));
      } else if (event->len > 0) {
        auto users = found->second.entries.find(event->name);
        if (users == found->second.entries.end()) continue;
        for (auto [file, kind] : users->second) ask(file, follow(kind, event->mask));
      }
    }
  }
  std::uint64_t expirations = 0;
  while (::read(impl.timer.get(), &expirations, sizeof expirations) > 0) {
  }
  if (overflow)
    for (auto& [path, file] : impl.watched) ask(&file, {true, Check::now});

  std::vector<WatchedFile> changed;
  auto now = Clock::now();
  for (auto& [file, what] : asked) {
    // A directory along the path appeared or went: walk it again. What was created between the
    // walk's look at a path and the watch it then adds sends no event, so look at the content
    // once things are quiet, whatever this event was.
    if (what.rearm) impl.arm(*file);
    if (what.rearm && what.check == Check::none) what.check = Check::when_quiet;
    switch (what.check) {
      case Check::none:
        break;
      case Check::now:
      case Check::now_unless_written:
        impl.check(*file, changed);
        break;
      case Check::when_quiet:
        impl.check_later(*file, now + quiet_period);
        break;
    }
  }
  while (!impl.quiet_checks.empty() && impl.quiet_checks.begin()->first <= now)
    impl.check(*impl.quiet_checks.begin()->second, changed);
  impl.set_timer();
  // Reported last: a callback may watch or unwatch.
  for (const auto& file : changed) on_change(file);
  return changed.size();
}

}  // namespace posix
ARM_END_NAMESPACE
