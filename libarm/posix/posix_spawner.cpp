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
#include "arm/posix/unique_fd.hpp"
#include "child_stack.hpp"
#include "vfork_launch.hpp"

extern char** environ;

namespace arm::posix {

struct PosixSpawner::Impl {
  SpawnerOptions options;
  ChildStack child_stack;  // used only during a launch
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

// The file a service's output goes to (null: inherited).
const char* output_path(const OutputTarget& target) {
  switch (target.kind) {
    case OutputTarget::Kind::inherit:
      return nullptr;
    case OutputTarget::Kind::null:
      return "/dev/null";
    case OutputTarget::Kind::file:
      return target.path.c_str();
  }
  return nullptr;
}

std::string launch_failure(const SpawnRequest& request, const LaunchFailure& failure) {
  std::string why = errno_text(failure.error_number);
  switch (failure.stage) {
    case LaunchFailure::Stage::standard_output:
      return fmt::format("cannot open {} for stdout: {}", output_path(request.standard_output),
                         why);
    case LaunchFailure::Stage::standard_error:
      return fmt::format("cannot open {} for stderr: {}", output_path(request.standard_error), why);
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

// What we report for a child that someone else reaped (a host that set SIGCHLD to SIG_IGN, or
// waited for any child): its status is lost, but the supervisor must still learn it is gone, or
// it would wait for it forever. ExitStatus has no "unknown"; an unclean exit is the truth that
// matters for restarting.
constexpr int lost_status_exit_code = 255;

enum class Reaped { exited, not_yet, lost };

// True when the child is gone and its number may already be reused: then its former group id
// must not be signalled.
bool reaped_elsewhere(int pidfd) {
  siginfo_t info{};
  return ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | WNOWAIT) != 0 &&
         errno == ECHILD;
}

// Reaps `pid` if it has exited. Before reaping, while the leader is a zombie and so still holds
// its number as process group id, SIGKILLs what the service left behind in its group: a
// service's processes do not outlive it, and the signal cannot reach a group that merely
// reused the number.
Reaped reap_group(ProcessId pid, int pidfd, ExitStatus& status) {
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == ECHILD) {
      status = ExitStatus::exited(lost_status_exit_code);
      return Reaped::lost;  // the number may be free again: no group to signal safely
    }
    return Reaped::not_yet;
  }
  if (info.si_pid == 0) return Reaped::not_yet;
  ::kill(-pid, SIGKILL);  // ESRCH when nothing is left: fine
  info = {};
  ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
  status = exit_status_of(info);
  return Reaped::exited;
}

}  // namespace

std::expected<std::unique_ptr<PosixSpawner>, SystemError> PosixSpawner::create(
    SpawnerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll)
    return std::unexpected(Error::system(errno, "epoll_create1: " + errno_text(errno)));
  return std::unique_ptr<PosixSpawner>(new PosixSpawner(std::move(impl)));
}

PosixSpawner::PosixSpawner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PosixSpawner::~PosixSpawner() {
  // Every group is signalled before any is waited for, so they die together, not one by one.
  for (auto& [pid, pidfd] : impl_->pidfds) {
    if (!reaped_elsewhere(pidfd.get())) ::kill(-pid, SIGKILL);
  }
  for (auto& [pid, pidfd] : impl_->pidfds) {
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED) != 0 &&
           errno == EINTR) {
    }
  }
}

std::expected<ProcessId, SpawnError> PosixSpawner::spawn(const SpawnRequest& request) {
  if (request.argv.empty()) return std::unexpected(Error::system(EINVAL, "empty command line"));
  for (const auto& file : request.required_files) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0)
      return std::unexpected(
          Error::system(errno, fmt::format("config file {}: {}", file, errno_text(errno))));
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
  plan.stdout_path = output_path(request.standard_output);
  plan.stderr_path = output_path(request.standard_error);
  auto stack = impl_->child_stack.reserve(ChildStack::needed_for(request.argv.size()));
  if (!stack)
    return std::unexpected(
        Error::system(stack.error(), fmt::format("cannot start {}: child stack: {}",
                                                 request.argv.front(), errno_text(stack.error()))));
  auto launched = launch(plan, stack->data(), stack->size());
  if (!launched)
    return std::unexpected(
        Error::system(launched.error().error_number, launch_failure(request, launched.error())));
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
    return std::unexpected(Error::system(add_error, "epoll_ctl: " + errno_text(add_error)));
  }
  impl_->pidfds.emplace(pid, std::move(pidfd));
  return pid;
}

void PosixSpawner::signal_group(ProcessId leader, StopSignal signal) {
  auto found = impl_->pidfds.find(leader);
  if (found == impl_->pidfds.end()) return;           // not ours, or already reported
  if (reaped_elsewhere(found->second.get())) return;  // its number is no longer ours to signal
  ::kill(-leader, signal == StopSignal::kill ? SIGKILL : SIGTERM);
}

int PosixSpawner::exit_fd() const {
  return impl_->epoll.get();
}

std::size_t PosixSpawner::collect_exits(const std::function<void(ProcessId, ExitStatus)>& on_exit) {
  std::size_t reaped = 0;
  constexpr int batch = 64;
  epoll_event events[batch];
  int ready = 0;
  std::size_t reaped_this_round = 0;
  // Another round only when the last one was full and made progress. A pidfd that is readable
  // but not waitable stays readable (level-triggered), so looping until epoll is quiet could spin
  // forever. (With a zero timeout epoll_wait does not sleep, so there is no EINTR to retry.)
  do {
    ready = ::epoll_wait(impl_->epoll.get(), events, batch, 0);
    reaped_this_round = 0;
    for (int i = 0; i < ready; ++i) {
      auto pid = static_cast<ProcessId>(events[i].data.u64);
      auto found = impl_->pidfds.find(pid);
      if (found == impl_->pidfds.end()) continue;
      ExitStatus status;
      if (reap_group(pid, found->second.get(), status) == Reaped::not_yet) continue;
      ::epoll_ctl(impl_->epoll.get(), EPOLL_CTL_DEL, found->second.get(), nullptr);
      impl_->pidfds.erase(found);
      ++reaped;
      ++reaped_this_round;
      on_exit(pid, status);
    }
  } while (ready == batch && reaped_this_round > 0);
  return reaped;
}

std::size_t PosixSpawner::live_children() const {
  return impl_->pidfds.size();
}

}  // namespace arm::posix
