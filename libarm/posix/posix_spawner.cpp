// PosixSpawner: posix_spawn for starting, one pidfd per child for waiting, one epoll set so the
// host watches a single descriptor however many children there are.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <map>
#include <unordered_map>

#include "arm/posix.hpp"
#include "unique_fd.hpp"

extern char** environ;

namespace arm::posix {

struct PosixSpawner::Impl {
  UniqueFd epoll;
  std::unordered_map<ProcessId, UniqueFd> pidfds;  // live (unreaped) children
};

namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

// The child's environment: the host's own, with the request's variables added or replaced.
std::vector<std::string> child_environment(const SpawnRequest& request) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    merged.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  for (const auto& [key, value] : request.environment) merged[key] = value;
  std::vector<std::string> flat;
  flat.reserve(merged.size());
  for (const auto& [key, value] : merged) flat.push_back(key + "=" + value);
  return flat;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// posix_spawn reports one errno for everything that failed between fork and exec; look at the
// pieces to say which one it was.
std::string spawn_failure(const SpawnRequest& request, int error) {
  if (!request.working_directory.empty()) {
    struct stat info {};
    if (::stat(request.working_directory.c_str(), &info) != 0)
      return fmt::format("cannot change directory to {}: {}", request.working_directory,
                         errno_text(errno));
    if (!S_ISDIR(info.st_mode))
      return fmt::format("cannot change directory to {}: Not a directory",
                         request.working_directory);
  }
  return fmt::format("cannot execute {}: {}", request.argv.front(), errno_text(error));
}

class SpawnAttributes {
 public:
  SpawnAttributes() {
    posix_spawnattr_init(&attributes_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnAttributes() {
    posix_spawnattr_destroy(&attributes_);
    posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;

  int prepare(const SpawnRequest& request) {
    // Its own process group, so signals reach everything the service started; default
    // dispositions and an empty mask, whatever the host blocked or caught.
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    int error = posix_spawnattr_setflags(
        &attributes_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!error) error = posix_spawnattr_setpgroup(&attributes_, 0);
    if (!error) error = posix_spawnattr_setsigmask(&attributes_, &none);
    if (!error) error = posix_spawnattr_setsigdefault(&attributes_, &all);
    if (!error)
      error = posix_spawn_file_actions_addopen(&actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    // Only 0, 1 and 2 reach the service, even if the host left descriptors without O_CLOEXEC.
    if (!error) error = posix_spawn_file_actions_addclosefrom_np(&actions_, 3);
    if (!error && !request.working_directory.empty())
      error = posix_spawn_file_actions_addchdir_np(&actions_, request.working_directory.c_str());
    return error;
  }

  const posix_spawnattr_t* attributes() const { return &attributes_; }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }

 private:
  posix_spawnattr_t attributes_;
  posix_spawn_file_actions_t actions_;
};

ExitStatus exit_status_of(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return ExitStatus::exited(info.si_status);
  return ExitStatus::signaled(info.si_status);
}

}  // namespace

std::expected<std::unique_ptr<PosixSpawner>, SystemError> PosixSpawner::create() {
  auto impl = std::make_unique<Impl>();
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll)
    return std::unexpected(SystemError{errno, "epoll_create1: " + errno_text(errno)});
  return std::unique_ptr<PosixSpawner>(new PosixSpawner(std::move(impl)));
}

PosixSpawner::PosixSpawner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PosixSpawner::~PosixSpawner() {
  for (auto& [pid, pidfd] : impl_->pidfds) ::kill(-pid, SIGKILL);
  for (auto& [pid, pidfd] : impl_->pidfds) {
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED) != 0 &&
           errno == EINTR) {
    }
  }
}

std::expected<ProcessId, SpawnError> PosixSpawner::spawn(const SpawnRequest& request) {
  if (request.argv.empty()) return std::unexpected(SpawnError{EINVAL, "empty command line"});
  for (const auto& file : request.required_files) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0)
      return std::unexpected(
          SpawnError{errno, fmt::format("config file {}: {}", file, errno_text(errno))});
  }
  SpawnAttributes spawn_attributes;
  if (int error = spawn_attributes.prepare(request))
    return std::unexpected(SpawnError{error, "posix_spawn setup: " + errno_text(error)});

  std::vector<std::string> argv_strings = request.argv;
  std::vector<std::string> env_strings = child_environment(request);
  auto argv = pointers_to(argv_strings);
  auto envp = pointers_to(env_strings);
  pid_t pid = 0;
  // glibc implements posix_spawn with clone(CLONE_VM | CLONE_VFORK): the cost does not grow
  // with the host's memory, and exec failures come back here as the return value.
  int error = ::posix_spawnp(&pid, argv[0], spawn_attributes.actions(),
                             spawn_attributes.attributes(), argv.data(), envp.data());
  if (error != 0) return std::unexpected(SpawnError{error, spawn_failure(request, error)});

  // No one else reaps this child, so it cannot disappear (or its pid be reused) before this.
  // Through syscall(2): glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    int open_error = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::unexpected(SpawnError{open_error, "pidfd_open: " + errno_text(open_error)});
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = static_cast<std::uint64_t>(pid);
  if (::epoll_ctl(impl_->epoll.get(), EPOLL_CTL_ADD, pidfd.get(), &event) != 0) {
    int add_error = errno;
    ::kill(-pid, SIGKILL);
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED);
    return std::unexpected(SpawnError{add_error, "epoll_ctl: " + errno_text(add_error)});
  }
  impl_->pidfds.emplace(pid, std::move(pidfd));
  return pid;
}

void PosixSpawner::signal_group(ProcessId leader, StopSignal signal) {
  if (!impl_->pidfds.contains(leader)) return;  // not ours, or already reaped
  ::kill(-leader, signal == StopSignal::kill ? SIGKILL : SIGTERM);
}

int PosixSpawner::exit_fd() const {
  return impl_->epoll.get();
}

std::size_t PosixSpawner::collect_exits(const std::function<void(ProcessId, ExitStatus)>& on_exit) {
  std::size_t reaped = 0;
  epoll_event events[64];
  for (;;) {
    int ready = ::epoll_wait(impl_->epoll.get(), events, 64, 0);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return reaped;
    for (int i = 0; i < ready; ++i) {
      auto pid = static_cast<ProcessId>(events[i].data.u64);
      auto found = impl_->pidfds.find(pid);
      if (found == impl_->pidfds.end()) continue;
      siginfo_t info{};
      if (::waitid(P_PIDFD, static_cast<id_t>(found->second.get()), &info, WEXITED | WNOHANG) !=
              0 ||
          info.si_pid == 0)
        continue;  // readable but not yet waitable: try again on the next wake-up
      ::epoll_ctl(impl_->epoll.get(), EPOLL_CTL_DEL, found->second.get(), nullptr);
      impl_->pidfds.erase(found);
      // What the service left behind in its group goes with it. The group id cannot have been
      // reused: the kernel keeps the number reserved while any member of the group lives.
      ::kill(-pid, SIGKILL);
      ++reaped;
      on_exit(pid, exit_status_of(info));
    }
  }
}

std::size_t PosixSpawner::live_children() const {
  return impl_->pidfds.size();
}

}  // namespace arm::posix
