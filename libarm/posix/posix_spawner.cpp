// PosixSpawner: a vfork-style clone for starting, one pidfd per child for waiting, one epoll set so
// the host watches a single descriptor however many children there are.
#include <fcntl.h>
#include <signal.h>
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
#include "vfork_launch.hpp"

extern char** environ;

namespace arm::posix {

struct PosixSpawner::Impl {
  SpawnerOptions options;
  std::vector<char> child_stack = std::vector<char>(256 * 1024);  // used only during a launch
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

std::string launch_failure(const SpawnRequest& request, const LaunchFailure& failure) {
  std::string why = errno_text(failure.error_number);
  switch (failure.stage) {
    case LaunchFailure::Stage::working_directory:
      return fmt::format("cannot change directory to {}: {}", request.working_directory, why);
    case LaunchFailure::Stage::exec:
      return fmt::format("cannot execute {}: {}", request.argv.front(), why);
    case LaunchFailure::Stage::clone:
      return fmt::format("cannot start {}: clone: {}", request.argv.front(), why);
    case LaunchFailure::Stage::setup:
      break;
  }
  return fmt::format("cannot start {}: setting up the child failed: {}", request.argv.front(), why);
}

ExitStatus exit_status_of(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return ExitStatus::exited(info.si_status);
  return ExitStatus::signaled(info.si_status);
}

}  // namespace

std::expected<std::unique_ptr<PosixSpawner>, SystemError> PosixSpawner::create(
    SpawnerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
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
  std::vector<std::string> argv_strings = request.argv;
  std::vector<std::string> env_strings = child_environment(request);
  auto argv = pointers_to(argv_strings);
  auto envp = pointers_to(env_strings);
  LaunchPlan plan;
  plan.program = argv[0];
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.working_directory =
      request.working_directory.empty() ? nullptr : request.working_directory.c_str();
  plan.die_with_parent = impl_->options.kill_children_if_host_dies;
  auto launched = launch(plan, impl_->child_stack.data(), impl_->child_stack.size());
  if (!launched)
    return std::unexpected(
        SpawnError{launched.error().error_number, launch_failure(request, launched.error())});
  pid_t pid = launched->pid;
  UniqueFd pidfd(launched->pidfd);  // atomic with the child: no window for pid reuse
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
