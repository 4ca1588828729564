// PosixSpawner: a vfork-style clone for starting, one pidfd per child for waiting, one epoll set so
// the host watches a single descriptor however many children there are.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "arm/posix.hpp"
#include "arm/posix/notify_socket.hpp"
#include "arm/posix/output_pipes.hpp"
#include "arm/posix/unique_fd.hpp"
#include "cgroup_tree.hpp"
#include "child_environment.hpp"
#include "child_privileges.hpp"
#include "child_stack.hpp"
#include "descriptor_shortage.hpp"
#include "environment_file.hpp"
#include "vfork_launch.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

// One spawned service process, from spawn until it is reported gone.
struct Child {
  UniqueFd pidfd;  // closed once the main process is reaped
  // cgroup mode: the name of the service's cgroup (held in Impl::cgroups_in_use; its path is
  // derived, not kept: ten thousand paths were ~1 MB), and its cgroup.events (opened and watched
  // once the main process has exited while the cgroup was still populated).
  const std::string* cgroup_name = nullptr;
  UniqueFd cgroup_events;
  std::optional<ExitStatus> main_exit;  // reaped; waiting for the cgroup to empty
  // cgroup mode: the main process has been sent this signal, the rest of the cgroup is sent it
  // at the next collect_exits() (Impl::walks_due); 0 when no walk is due.
  int walk_signal = 0;
};

struct ARM_HIDDEN PosixSpawner::Impl {
  SpawnerOptions options;
  ChildStack child_stack;  // used only during a launch
  UniqueFd epoll;
  std::unordered_map<ProcessId, Child> children;   // not yet reported as exited
  std::unordered_set<std::string> cgroups_in_use;  // names below options.cgroup
  UniqueFd cgroup_lock;  // flock on SpawnerOptions::cgroup, held for the spawner's life
  // cgroup mode: services whose main process was sent a stop signal and whose cgroup's other
  // members are sent it at the next collect_exits(). The eventfd is in the epoll set and
  // readable while the list is not empty, so the host's loop calls collect_exits() soon even
  // when no process exits.
  std::vector<ProcessId> walks_due;
  UniqueFd walk_wake;

  bool contained() const { return !options.cgroup.empty(); }
  // Reserves a free name for a cgroup of `service`; the pointer stays valid until it is given
  // back (the set's elements do not move).
  const std::string* cgroup_for(const std::string& service);
  std::string cgroup_path(const std::string& name) const { return options.cgroup + "/" + name; }
  // Removes a service's cgroup (and what it made below it) and frees its name.
  void give_back_cgroup(const std::string* name);
  void report_gone(ProcessId pid, Child& child);
  // Signals the main process now and the rest of its cgroup at the next collect_exits().
  void signal_main_then_cgroup(ProcessId pid, Child& child, int signal);
  void walk_due_cgroups();
  std::expected<ProcessId, SpawnError> spawn(const SpawnRequest& request);
};

namespace {

// Room for a pid in decimal and its NUL (write_decimal in vfork_launch.cpp writes up to 21).
constexpr std::size_t listen_pid_room = 21;
// The most sockets one service is given (the child keeps them in a fixed array).
constexpr std::size_t most_listen_fds = 64;

std::string errno_text(int error) {
  return std::strerror(error);
}

// The child's environment: the host's own (inherited_environment; nothing with
// clear_environment), $USER, $LOGNAME and $HOME for a `user` with a passwd entry (as systemd's
// User= sets them), the request's variables added or replaced, then its environment_file's
// (read now, at each start; they override `environment`, as systemd's EnvironmentFile= does
// Environment=), and the readiness variables its request asks for: $NOTIFY_SOCKET (notify) and
// $WATCHDOG_USEC (microseconds, as sd_watchdog_enabled() reads it; no $WATCHDOG_PID, which that
// function would compare with the pid the host cannot know before the clone).
std::expected<std::vector<std::string>, Error> child_environment(const SpawnRequest& request,
                                                                 const NotifySocket* notify) {
  const ExecutionSettings* execution = request.execution ? &*request.execution : nullptr;
  std::map<std::string, std::string> merged;
  if (!execution || !execution->clear_environment) merged = inherited_environment();
  if (execution && execution->user && !execution->user_name.empty()) {
    merged["USER"] = execution->user_name;
    merged["LOGNAME"] = execution->user_name;
    merged["HOME"] = execution->user_home;
  }
  for (const auto& [key, value] : request.environment) merged[key] = value;
  if (execution && !execution->environment_file.empty()) {
    auto variables = read_environment_file(execution->environment_file);
    if (!variables) return std::unexpected(variables.error());
    for (auto& [key, value] : *variables) merged[key] = std::move(value);
  }
  if (request.readiness.kind == Readiness::Kind::notify && notify)
    merged["NOTIFY_SOCKET"] = notify->path();
  if (request.watchdog)
    merged["WATCHDOG_USEC"] =
        std::to_string(static_cast<long long>(request.watchdog->count()) * 1000);
  // Socket activation, as systemd passes a socket unit's descriptors; LISTEN_PID is the child's
  // pid, written by the child itself over these digits (launch()'s listen_pid_digits).
  if (!request.listen_fds.empty()) {
    merged["LISTEN_FDS"] = std::to_string(request.listen_fds.size());
    merged["LISTEN_PID"] = std::string(listen_pid_room, '0');
    std::string names = request.service;
    for (std::size_t i = 1; i < request.listen_fds.size(); ++i) names += ":" + request.service;
    merged["LISTEN_FDNAMES"] = std::move(names);
  }
  return flattened(merged);
}

// The LISTEN_PID= entry's digits in `envp`, for the child to write its pid over.
char* listen_pid_digits(const std::vector<char*>& envp) {
  constexpr std::string_view key = "LISTEN_PID=";
  for (char* entry : envp) {
    if (entry && std::string_view(entry).starts_with(key)) return entry + key.size();
  }
  return nullptr;
}

// The file a service's output goes to (null: inherited, or a pipe, or stdout's).
const char* output_path(const OutputTarget& target) {
  switch (target.kind) {
    case OutputTarget::Kind::inherit:
    case OutputTarget::Kind::log:
    case OutputTarget::Kind::same_as_stdout:
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
    case LaunchFailure::Stage::cgroup:
      return fmt::format("cannot start {}: joining its cgroup: {}", request.argv.front(), why);
    case LaunchFailure::Stage::privileges:
      return fmt::format("cannot start {}: {}", request.argv.front(),
                         describe_privilege_failure(
                             request.execution ? *request.execution : ExecutionSettings{},
                             failure.privilege_step, failure.privilege_item, failure.error_number));
    case LaunchFailure::Stage::setup:
      break;
  }
  return fmt::format("cannot start {}: setting up the child failed: {}", request.argv.front(), why);
}

// A pipe for one captured stream: the read end for OutputPipes, the write end for the child.
struct OutputPipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

std::expected<OutputPipe, Error> make_output_pipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0)
    return std::unexpected(Error::system(errno, fmt::format("pipe2: {}", errno_text(errno))));
  OutputPipe pipe{UniqueFd(ends[0]), UniqueFd(ends[1])};
  // The launch keeps descriptors from 3 up; a host that runs with 0-2 closed hands out low ones.
  if (pipe.write_end.get() < 3) {
    pipe.write_end.reset(::fcntl(pipe.write_end.get(), F_DUPFD_CLOEXEC, 3));
    if (!pipe.write_end)
      return std::unexpected(Error::system(errno, fmt::format("fcntl: {}", errno_text(errno))));
  }
  return pipe;
}

ExitStatus exit_status_of(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return ExitStatus::exited(info.si_status);
  return ExitStatus::signaled(info.si_status);
}

// A child that someone else reaped (a host that waits for any child, or a SIGCHLD set to SIG_IGN
// after create() looked) is reported as ExitStatus::lost(): its status is gone, but the supervisor
// must still learn that the process is, or it would wait for it forever.
enum class Reaped { exited, not_yet, lost };

// What an epoll event is about: a child's pidfd, or its cgroup's cgroup.events.
enum class Source : std::uint64_t { pidfd = 0, cgroup_events = 1, walk_wake = 2 };
std::uint64_t event_key(ProcessId pid, Source source) {
  return static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) |
         (static_cast<std::uint64_t>(source) << 32);
}

// Reads `pid`'s exit status without reaping it (cgroup mode): while what it left still runs,
// the zombie keeps its number, so no new child can be given it meanwhile.
Reaped peek_exit(int pidfd, ExitStatus& status) {
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == ECHILD) {
      status = ExitStatus::lost();
      return Reaped::lost;
    }
    return Reaped::not_yet;
  }
  if (info.si_pid == 0) return Reaped::not_yet;
  status = exit_status_of(info);
  return Reaped::exited;
}

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
      status = ExitStatus::lost();
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

std::string_view to_string(Containment containment) {
  switch (containment) {
    case Containment::process_group:
      return "process-group";
    case Containment::cgroup:
      return "cgroup";
  }
  return "?";
}

std::expected<std::string, SystemError> own_cgroup_directory() {
  return cgroup::own_directory();
}

namespace {

// With SIGCHLD ignored (SIG_IGN) or SA_NOCLDWAIT set, the kernel reaps every child as it exits:
// none would ever report how it ended. Said at creation, so the host learns what to change
// before its first service's exit is lost. (A host's own wait for any child cannot be seen here:
// the exits it steals are reported as ExitStatus::lost().)
std::expected<void, Error> check_children_are_kept() {
  struct sigaction current {};
  if (::sigaction(SIGCHLD, nullptr, &current) != 0)
    return std::unexpected(Error::system(errno, "sigaction(SIGCHLD): " + errno_text(errno)));
  if (current.sa_handler == SIG_IGN)
    return std::unexpected(Error::system(
        EINVAL,
        "SIGCHLD is ignored (SIG_IGN), so the kernel reaps every child at once and no exit "
        "status would reach the supervisor: restore SIGCHLD to SIG_DFL (or a handler that "
        "waits only for the host's own children) before creating the spawner"));
  if (current.sa_flags & SA_NOCLDWAIT)
    return std::unexpected(Error::system(
        EINVAL,
        "SIGCHLD has SA_NOCLDWAIT set, so the kernel reaps every child at once and no exit "
        "status would reach the supervisor: install SIGCHLD's disposition without "
        "SA_NOCLDWAIT before creating the spawner"));
  return {};
}

}  // namespace

std::expected<std::unique_ptr<PosixSpawner>, SystemError> PosixSpawner::create(
    SpawnerOptions options) {
  if (auto kept = check_children_are_kept(); !kept) return std::unexpected(kept.error());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll)
    return std::unexpected(Error::system(errno, "epoll_create1: " + errno_text(errno)));
  if (impl->contained()) {
    const std::string& directory = impl->options.cgroup;
    auto parent = directory.substr(0, directory.find_last_of('/'));
    if (!cgroup::is_cgroup2(parent.empty() ? "/" : parent))
      return std::unexpected(
          Error::system(ENOTSUP, fmt::format("{} is not on a cgroup v2 file system", parent)));
    if (auto made = cgroup::make(directory); !made) return std::unexpected(made.error());
    // One spawner per directory: kill_leftovers() must never take another live host's
    // services for leftovers.
    impl->cgroup_lock.reset(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!impl->cgroup_lock)
      return std::unexpected(
          Error::system(errno, fmt::format("cannot open {}: {}", directory, errno_text(errno))));
    if (::flock(impl->cgroup_lock.get(), LOCK_EX | LOCK_NB) != 0)
      return std::unexpected(Error::system(
          errno,
          errno == EWOULDBLOCK
              ? fmt::format("cgroup {} is in use by another process (another armd?)", directory)
              : fmt::format("cannot lock {}: {}", directory, errno_text(errno))));
    if (::access((directory + "/cgroup.procs").c_str(), W_OK) != 0)
      return std::unexpected(Error::system(
          errno, fmt::format("cannot write {}/cgroup.procs: {}", directory, errno_text(errno))));
    impl->walk_wake.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = event_key(0, Source::walk_wake);
    if (!impl->walk_wake ||
        ::epoll_ctl(impl->epoll.get(), EPOLL_CTL_ADD, impl->walk_wake.get(), &event) != 0)
      return std::unexpected(Error::system(errno, "eventfd: " + errno_text(errno)));
  }
  return std::unique_ptr<PosixSpawner>(new PosixSpawner(std::move(impl)));
}

PosixSpawner::PosixSpawner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PosixSpawner::~PosixSpawner() {
  // Every service is signalled before any is waited for, so they die together, not one by one.
  for (auto& [pid, child] : impl_->children) {
    if (child.cgroup_name) {
      cgroup::kill_all(impl_->cgroup_path(*child.cgroup_name));
    } else if (child.pidfd && !reaped_elsewhere(child.pidfd.get())) {
      ::kill(-pid, SIGKILL);
    }
  }
  for (auto& [pid, child] : impl_->children) {
    if (!child.pidfd) continue;
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.get()), &info, WEXITED) != 0 &&
           errno == EINTR) {
    }
  }
  // SIGKILLed processes leave their cgroup within moments; wait for that (bounded) so the
  // cgroups can be removed.
  for (auto& [pid, child] : impl_->children) {
    if (!child.cgroup_name) continue;
    std::string path = impl_->cgroup_path(*child.cgroup_name);
    for (int round = 0; round < 500 && cgroup::populated(path); ++round) ::usleep(10000);
    cgroup::remove_tree(path);
  }
  if (impl_->contained()) cgroup::remove(impl_->options.cgroup);
}

const std::string* PosixSpawner::Impl::cgroup_for(const std::string& service) {
  // Named after the service, so that systemd-cgls or a look in the directory says what runs
  // where. ".service" keeps clear of the kernel's own file names (cgroup.*, memory.*).
  std::string base = service.empty() ? std::string("process") : service;
  std::string name = base + ".service";
  for (int n = 2; cgroups_in_use.contains(name); ++n) name = fmt::format("{}-{}.service", base, n);
  return &*cgroups_in_use.insert(std::move(name)).first;
}

void PosixSpawner::Impl::give_back_cgroup(const std::string* name) {
  cgroup::remove_tree(cgroup_path(*name));
  cgroups_in_use.erase(cgroups_in_use.find(*name));
}

std::vector<std::string> PosixSpawner::kill_leftovers() {
  std::vector<std::string> held;
  if (!impl_->contained()) return held;
  auto names = cgroup::children(impl_->options.cgroup);
  std::vector<std::string> paths;
  for (const auto& name : names) {
    std::string path = impl_->options.cgroup + "/" + name;
    if (impl_->cgroups_in_use.contains(name)) continue;
    if (cgroup::populated(path)) {
      held.push_back(name);
      cgroup::kill_all(path);
    }
    paths.push_back(std::move(path));
  }
  for (const auto& path : paths) {
    for (int round = 0; round < 500 && cgroup::populated(path); ++round) ::usleep(10000);
    cgroup::remove_tree(path);
  }
  return held;
}

Containment PosixSpawner::containment() const {
  return impl_->contained() ? Containment::cgroup : Containment::process_group;
}

std::expected<ProcessId, SpawnError> PosixSpawner::Impl::spawn(const SpawnRequest& request) {
  if (request.argv.empty()) return std::unexpected(Error::system(EINVAL, "empty command line"));
  for (const auto& file : request.required_files) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0)
      return std::unexpected(
          Error::system(errno, fmt::format("config file {}: {}", file, errno_text(errno))));
  }
  std::vector<std::string> argv_strings = request.argv;
  bool wants_notify = request.readiness.kind == Readiness::Kind::notify;
  bool wants_pipe = request.readiness.kind == Readiness::Kind::fd;
  if ((wants_notify || wants_pipe) && !options.notify)
    return std::unexpected(Error::system(
        ENOTSUP, fmt::format("cannot start {}: its readiness needs a notify socket, and this host "
                             "has none",
                             request.service)));
  if (wants_pipe && request.readiness.fd < 3)
    return std::unexpected(Error::system(
        EBADF, fmt::format("cannot start {}: readiness fd:{}: the descriptor must be 3 or more",
                           request.service, request.readiness.fd)));
  if (request.listen_fds.size() > most_listen_fds)
    return std::unexpected(Error::system(
        EMFILE, fmt::format("cannot start {}: {} listening sockets; at most {} are passed",
                            request.service, request.listen_fds.size(), most_listen_fds)));
  if (wants_pipe && request.readiness.fd < 3 + static_cast<int>(request.listen_fds.size()))
    return std::unexpected(Error::system(
        EBADF, fmt::format("cannot start {}: readiness fd:{} is one of its listening sockets' "
                           "descriptors (3 to {})",
                           request.service, request.readiness.fd, 2 + request.listen_fds.size())));
  auto environment = child_environment(request, options.notify);
  if (!environment)
    return std::unexpected(Error::system(
        environment.error().error_number,
        fmt::format("cannot start {}: {}", request.service, environment.error().message)));
  std::vector<std::string> env_strings = std::move(*environment);
  auto argv = pointers_to(argv_strings);
  auto envp = pointers_to(env_strings);
  LaunchPlan plan;
  plan.program = argv[0];
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.working_directory =
      request.working_directory.empty() ? nullptr : request.working_directory.c_str();
  plan.die_with_parent = options.kill_children_if_host_dies;
  plan.listen_fds = request.listen_fds.data();
  plan.listen_count = static_cast<int>(request.listen_fds.size());
  if (plan.listen_count > 0) plan.listen_pid_digits = listen_pid_digits(envp);
  rlimit child_nofile{};
  if (options.child_nofile) {
    child_nofile = {static_cast<rlim_t>(options.child_nofile->soft),
                    static_cast<rlim_t>(options.child_nofile->hard)};
    plan.descriptor_limit = &child_nofile;
  }
  std::optional<PrivilegePlan> privileges;
  if (request.execution) {
    privileges.emplace(PrivilegePlan::make(*request.execution));
    plan.privileges = &*privileges;
  }

  Child child;
  UniqueFd cgroup_directory;
  if (contained()) {
    child.cgroup_name = cgroup_for(request.service);
    std::string path = cgroup_path(*child.cgroup_name);
    auto made = cgroup::make_new(path);
    // Its parent may have been removed meanwhile (by a host that gave up on the same
    // directory, say): make it again.
    if (!made && made.error().error_number == ENOENT && cgroup::make(options.cgroup))
      made = cgroup::make_new(path);
    // A cgroup of an earlier run that could not be removed (the service had made cgroups below
    // it): remove it now if it is empty, else take another name. Never reuse it as it is: what
    // is left in it is not this run's, and a cgroup that was once killed with cgroup.kill may
    // kill what is born in it (seen on Linux 6.18 with CLONE_INTO_CGROUP).
    for (int attempt = 0; !made && made.error().error_number == EEXIST && attempt < 8; ++attempt) {
      if (cgroup::remove_tree(path)) {
        made = cgroup::make_new(path);
        continue;
      }
      child.cgroup_name = cgroup_for(request.service);  // the old name stays reserved
      path = cgroup_path(*child.cgroup_name);
      made = cgroup::make_new(path);
    }
    if (!made) {
      give_back_cgroup(child.cgroup_name);
      return std::unexpected(made.error());
    }
    cgroup_directory.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup_directory) {
      int error = errno;
      give_back_cgroup(child.cgroup_name);
      return std::unexpected(
          Error::system(error, fmt::format("cannot start {}: cgroup {}: {}", request.argv.front(),
                                           path, errno_text(error))));
    }
    plan.cgroup_fd = cgroup_directory.get();
  }
  plan.stdout_path = output_path(request.standard_output);
  plan.stderr_path = output_path(request.standard_error);
  plan.stderr_to_stdout = request.standard_error.kind == OutputTarget::Kind::same_as_stdout;
  std::optional<OutputPipe> stdout_pipe;
  std::optional<OutputPipe> stderr_pipe;
  if (options.output_pipes) {
    for (auto [target, pipe, fd] :
         {std::tuple{&request.standard_output, &stdout_pipe, &plan.stdout_fd},
          std::tuple{&request.standard_error, &stderr_pipe, &plan.stderr_fd}}) {
      if (target->kind != OutputTarget::Kind::log) continue;
      auto made = make_output_pipe();
      if (!made) {
        if (child.cgroup_name) give_back_cgroup(child.cgroup_name);
        return std::unexpected(made.error());
      }
      *fd = made->write_end.get();
      pipe->emplace(std::move(*made));
    }
  }
  // fd:N readiness: a pipe whose write end becomes descriptor N in the child.
  std::optional<OutputPipe> readiness_pipe;
  if (wants_pipe) {
    auto made = make_output_pipe();
    if (!made) {
      if (child.cgroup_name) give_back_cgroup(child.cgroup_name);
      return std::unexpected(made.error());
    }
    plan.readiness_fd = made->write_end.get();
    plan.readiness_target = request.readiness.fd;
    readiness_pipe.emplace(std::move(*made));
  }
  auto stack = child_stack.reserve(ChildStack::needed_for(request.argv.size()));
  std::expected<Launched, LaunchFailure> launched =
      stack ? launch(plan, stack->data(), stack->size())
            : std::unexpected(LaunchFailure{LaunchFailure::Stage::setup, stack.error()});
  cgroup_directory.reset();
  // The child has its copies: ours would keep the pipes open after it exits.
  for (auto* pipe : {&stdout_pipe, &stderr_pipe, &readiness_pipe})
    if (*pipe) (*pipe)->write_end.reset();
  if (!launched) {
    if (child.cgroup_name) give_back_cgroup(child.cgroup_name);
    if (!stack)
      return std::unexpected(Error::system(
          stack.error(), fmt::format("cannot start {}: child stack: {}", request.argv.front(),
                                     errno_text(stack.error()))));
    return std::unexpected(
        Error::system(launched.error().error_number, launch_failure(request, launched.error())));
  }
  pid_t pid = launched->pid;
  child.pidfd.reset(launched->pidfd);  // atomic with the child: no window for pid reuse
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = event_key(pid, Source::pidfd);
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, child.pidfd.get(), &event) != 0) {
    int add_error = errno;
    if (child.cgroup_name) cgroup::kill_all(cgroup_path(*child.cgroup_name));
    ::kill(-pid, SIGKILL);
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.get()), &info, WEXITED);
    if (child.cgroup_name) {
      std::string path = cgroup_path(*child.cgroup_name);
      for (int round = 0; round < 500 && cgroup::populated(path); ++round) ::usleep(10000);
      give_back_cgroup(child.cgroup_name);
    }
    return std::unexpected(Error::system(add_error, "epoll_ctl: " + errno_text(add_error)));
  }
  // A number still held by a zombie of ours is never handed out again, so this cannot collide.
  children.emplace(pid, std::move(child));
  // (A pipe that cannot be watched is closed: the program's writes to it fail with EPIPE,
  // rather than block forever.)
  if (stdout_pipe)
    (void)options.output_pipes->add(pid, request.service, OutputStream::standard_output,
                                    std::move(stdout_pipe->read_end));
  if (stderr_pipe)
    (void)options.output_pipes->add(pid, request.service, OutputStream::standard_error,
                                    std::move(stderr_pipe->read_end));
  // (Unwatched, its end closes: the service's write fails, and it never becomes ready.)
  if (readiness_pipe)
    (void)options.notify->add_readiness_pipe(pid, std::move(readiness_pipe->read_end));
  return pid;
}

std::expected<ProcessId, SpawnError> PosixSpawner::spawn(const SpawnRequest& request) {
  auto spawned = impl_->spawn(request);
  // Whichever step ran out (a pipe, the pidfd, the cgroup's directory), the cause is the same,
  // and the host's limit, not the step, is what its operator can change.
  if (!spawned && is_descriptor_shortage(spawned.error().error_number))
    spawned.error().message = fmt::format(
        "cannot start {}: {}; the step that failed: {}", request.service,
        describe_descriptor_shortage(spawned.error().error_number), spawned.error().message);
  return spawned;
}

void PosixSpawner::signal_group(ProcessId leader, StopSignal signal) {
  auto found = impl_->children.find(leader);
  if (found == impl_->children.end()) return;  // not ours, or already reported
  Child& child = found->second;
  if (child.cgroup_name) {
    if (signal == StopSignal::kill) {
      child.walk_signal = 0;  // cgroup.kill reaches them all
      cgroup::kill_all(impl_->cgroup_path(*child.cgroup_name));
    } else {
      impl_->signal_main_then_cgroup(leader, child,
                                     signal == StopSignal::abort ? SIGABRT : SIGTERM);
    }
    return;
  }
  if (reaped_elsewhere(child.pidfd.get())) return;  // its number is no longer ours to signal
  if (signal == StopSignal::kill) {
    ::kill(-leader, SIGKILL);
  } else if (signal == StopSignal::abort) {
    ::kill(-leader, SIGABRT);
  } else {
    ::kill(-leader, SIGTERM);
    ::kill(-leader, SIGCONT);  // a stopped process could not act on SIGTERM
  }
}

namespace {

int signal_number(ReloadSignal signal) {
  switch (signal) {
    case ReloadSignal::hangup:
      return SIGHUP;
    case ReloadSignal::user1:
      return SIGUSR1;
    case ReloadSignal::user2:
      return SIGUSR2;
    case ReloadSignal::interrupt:
      return SIGINT;
    case ReloadSignal::quit:
      return SIGQUIT;
    case ReloadSignal::terminate:
      return SIGTERM;
    case ReloadSignal::window_change:
      return SIGWINCH;
  }
  return SIGHUP;
}

}  // namespace

// Through the pidfd: a main process that has exited, even one not reaped yet, is never confused
// with a process that reused its number.
void PosixSpawner::signal_process(ProcessId pid, ReloadSignal signal) {
  auto found = impl_->children.find(pid);
  if (found == impl_->children.end() || !found->second.pidfd) return;
  ::syscall(SYS_pidfd_send_signal, found->second.pidfd.get(), signal_number(signal), nullptr, 0);
}

void PosixSpawner::send_due_signals() {
  if (!impl_->walks_due.empty()) impl_->walk_due_cgroups();
}

int PosixSpawner::exit_fd() const {
  return impl_->epoll.get();
}

// A stop of many services at once (a shutdown of ten thousand) signals each main process as
// the kernel lets it, as systemd signals the main process before walking the cgroup: reading a
// cgroup's member list costs an open of cgroup.procs (~10 us a service, more than the signal), and
// done in the signalling loop it held back every later service's stop. The walk still signals
// every other member (skipping the main process, which must not get the signal twice); they get
// it one loop turn after the main process, not microseconds after.
void PosixSpawner::Impl::signal_main_then_cgroup(ProcessId pid, Child& child, int signal) {
  if (child.main_exit) {    // only the rest is left: nothing to do first
    child.walk_signal = 0;  // nor after: a walk already due would signal them twice
    cgroup::signal_members(cgroup_path(*child.cgroup_name), signal);
    return;
  }
  ::syscall(SYS_pidfd_send_signal, child.pidfd.get(), signal, nullptr, 0);
  ::syscall(SYS_pidfd_send_signal, child.pidfd.get(), SIGCONT, nullptr, 0);
  if (child.walk_signal == 0) {
    if (walks_due.empty()) {
      std::uint64_t one = 1;
      [[maybe_unused]] auto written = ::write(walk_wake.get(), &one, sizeof one);
    }
    walks_due.push_back(pid);
  }
  child.walk_signal = signal;
}

void PosixSpawner::Impl::walk_due_cgroups() {
  std::uint64_t count = 0;
  [[maybe_unused]] auto got = ::read(walk_wake.get(), &count, sizeof count);
  for (ProcessId pid : walks_due) {
    auto found = children.find(pid);
    // Gone already (reported, its cgroup empty and removed), or killed meanwhile.
    if (found == children.end() || found->second.walk_signal == 0) continue;
    Child& child = found->second;
    int signal = std::exchange(child.walk_signal, 0);
    // Skipping the main process by its number is safe: its zombie holds the number until
    // report_gone() reaps it (unless the host reaps behind our back, which create() refuses).
    cgroup::signal_members(cgroup_path(*child.cgroup_name), signal, pid);
  }
  walks_due.clear();  // keeps its capacity for the next stop-all
}

// The service is gone: its descriptors leave the epoll set (closing does that) and its cgroup,
// empty now, is removed.
void PosixSpawner::Impl::report_gone(ProcessId pid, Child& child) {
  if (child.cgroup_name) {
    // The zombie of the main process has held its number until now.
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.get()), &info, WEXITED | WNOHANG);
    give_back_cgroup(child.cgroup_name);
  }
  children.erase(pid);
}

std::size_t PosixSpawner::collect_exits(
    const std::function<void(ProcessId, ExitStatus)>& on_exit,
    const std::function<void(ProcessId, ExitStatus)>& on_main_exit) {
  std::size_t reported = 0;
  constexpr int batch = 64;
  epoll_event events[batch];
  int ready = 0;
  std::size_t progress = 0;
  send_due_signals();
  // Another round only when the last one was full and made progress. A pidfd that is readable
  // but not waitable stays readable (level-triggered), so looping until epoll is quiet could spin
  // forever. (With a zero timeout epoll_wait does not sleep, so there is no EINTR to retry.)
  do {
    ready = ::epoll_wait(impl_->epoll.get(), events, batch, 0);
    progress = 0;
    for (int i = 0; i < ready; ++i) {
      auto pid = static_cast<ProcessId>(events[i].data.u64 & 0xffffffffU);
      auto source = static_cast<Source>(events[i].data.u64 >> 32);
      if (source == Source::walk_wake) continue;  // drained by walk_due_cgroups() above
      auto found = impl_->children.find(pid);
      if (found == impl_->children.end()) continue;
      Child& child = found->second;
      if (source == Source::cgroup_events) {
        // The cgroup changed: reading re-arms the notification; empty means the service is gone.
        if (!child.main_exit || cgroup::populated(child.cgroup_events.get())) continue;
        ExitStatus status = *child.main_exit;
        impl_->report_gone(pid, child);
        ++reported;
        ++progress;
        on_exit(pid, status);
        continue;
      }
      ExitStatus status;
      if (!child.cgroup_name) {
        if (reap_group(pid, child.pidfd.get(), status) == Reaped::not_yet) continue;
        impl_->report_gone(pid, child);
        ++reported;
        ++progress;
        on_exit(pid, status);
        continue;
      }
      if (peek_exit(child.pidfd.get(), status) == Reaped::not_yet) continue;
      ++progress;
      // The zombie stays readable: stop watching it (it is reaped in report_gone).
      ::epoll_ctl(impl_->epoll.get(), EPOLL_CTL_DEL, child.pidfd.get(), nullptr);
      // cgroup.events is opened only now, for the few services that leave processes behind: one
      // descriptor per service (the pidfd), not two, so ten thousand services fit the usual
      // descriptor limits. A change after this open and read is signalled (EPOLLPRI).
      std::string path = impl_->cgroup_path(*child.cgroup_name);
      child.cgroup_events.reset(::open((path + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
      if (!child.cgroup_events) cgroup::kill_all(path);  // (out of descriptors)
      if (!child.cgroup_events || !cgroup::populated(child.cgroup_events.get())) {
        impl_->report_gone(pid, child);
        ++reported;
        on_exit(pid, status);
        continue;
      }
      child.main_exit = status;
      epoll_event event{};
      event.events = EPOLLPRI;
      event.data.u64 = event_key(pid, Source::cgroup_events);
      ::epoll_ctl(impl_->epoll.get(), EPOLL_CTL_ADD, child.cgroup_events.get(), &event);
      if (on_main_exit) {
        on_main_exit(pid, status);
      } else {
        cgroup::kill_all(path);  // a host that cannot stop them gracefully
      }
    }
  } while (ready == batch && progress > 0);
  return reported;
}

std::size_t PosixSpawner::live_children() const {
  return impl_->children.size();
}

namespace {

// The "0::" line of /proc/PID/cgroup: the process's cgroup below the cgroup2 root.
std::optional<std::string> cgroup_of(ProcessId pid) {
  std::ifstream membership(fmt::format("/proc/{}/cgroup", pid));
  for (std::string line; std::getline(membership, line);)
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return std::nullopt;
}

}  // namespace

std::optional<ProcessId> PosixSpawner::main_pid_of(ProcessId pid) const {
  if (pid <= 0) return std::nullopt;
  auto is_live_main = [&](ProcessId main) {
    auto found = impl_->children.find(main);
    return found != impl_->children.end() && !found->second.main_exit;
  };
  if (is_live_main(pid)) return pid;
  if (!impl_->contained()) {
    pid_t group = ::getpgid(pid);
    if (group > 0 && is_live_main(group)) return group;
    return std::nullopt;
  }
  // Its cgroup, as /proc names it relative to the cgroup2 root, is our directory's (the same
  // path's tail: the mount point differs) followed by a service's cgroup name.
  auto path = cgroup_of(pid);
  if (!path) return std::nullopt;
  const std::string& ours = impl_->options.cgroup;
  std::string instance = ours.substr(ours.find_last_of('/'));  // "/armd.x.1234abcd"
  std::size_t at = path->find(instance + "/");
  if (at == std::string::npos) return std::nullopt;
  std::string_view before = std::string_view(*path).substr(0, at + instance.size());
  if (!std::string_view(ours).ends_with(before)) return std::nullopt;
  std::string_view rest = std::string_view(*path).substr(at + instance.size() + 1);
  std::string_view name = rest.substr(0, rest.find('/'));
  for (const auto& [main, child] : impl_->children)
    if (child.cgroup_name && *child.cgroup_name == name && !child.main_exit) return main;
  return std::nullopt;
}

std::vector<PosixSpawner::AdoptableChild> PosixSpawner::adoptable_children() const {
  std::vector<AdoptableChild> children;
  children.reserve(impl_->children.size());
  for (const auto& [pid, child] : impl_->children)
    children.push_back({pid, child.cgroup_name ? *child.cgroup_name : std::string()});
  return children;
}

std::expected<void, Error> PosixSpawner::adopt(const AdoptableChild& adopted) {
  auto& impl = *impl_;
  if (impl.children.contains(adopted.pid))
    return std::unexpected(
        Error::system(EEXIST, fmt::format("process {} is tracked already", adopted.pid)));
  if (adopted.cgroup.empty() == impl.contained())
    return std::unexpected(Error::system(
        EINVAL, fmt::format("process {}: {} here, but it was spawned {}", adopted.pid,
                            impl.contained() ? "cgroups" : "process groups",
                            adopted.cgroup.empty() ? "in a process group" : "in a cgroup")));
  // Our own child cannot be replaced by another process under the same number before we reap
  // it, so opening it by number is as safe as the pidfd clone() gave the previous host.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, adopted.pid, 0)));
  if (!pidfd) {
    int error = errno;
    return std::unexpected(Error::system(
        error, fmt::format("process {}: pidfd_open: {}", adopted.pid, errno_text(error))));
  }
  // Our child, not just any process: waitid(P_PIDFD) works only on children.
  siginfo_t probe{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &probe, WEXITED | WNOHANG | WNOWAIT) != 0)
    return std::unexpected(Error::system(
        ECHILD, fmt::format("process {} is not a child of this process", adopted.pid)));
  Child child;
  child.pidfd = std::move(pidfd);
  if (!adopted.cgroup.empty())
    child.cgroup_name = &*impl.cgroups_in_use.insert(adopted.cgroup).first;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = event_key(adopted.pid, Source::pidfd);
  if (::epoll_ctl(impl.epoll.get(), EPOLL_CTL_ADD, child.pidfd.get(), &event) != 0) {
    int error = errno;
    if (child.cgroup_name) impl.cgroups_in_use.erase(adopted.cgroup);
    return std::unexpected(Error::system(error, "epoll_ctl: " + errno_text(error)));
  }
  impl.children.emplace(adopted.pid, std::move(child));
  return {};
}

std::size_t PosixSpawner::reap_adopted(const std::function<bool(ProcessId)>& also_ours) {
  auto ours = [&](pid_t pid) {
    return impl_->children.contains(pid) || (also_ours && also_ours(pid));
  };
  std::size_t reaped = 0;
  bool blocked = false;
  for (;;) {
    siginfo_t info{};
    // Look first (WNOWAIT): a child of ours that has exited is collect_exits' to reap (or a
    // zombie held on purpose), and it would stand first in line.
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
    if (ours(info.si_pid)) {
      blocked = true;
      break;
    }
    siginfo_t reaped_info{};
    if (::waitid(P_PID, static_cast<id_t>(info.si_pid), &reaped_info, WEXITED | WNOHANG) != 0)
      break;
    ++reaped;
  }
  if (!blocked) return reaped;
  // One of ours stands first: ask each other child by its number instead (the kernel lists a
  // process's children in /proc/self/task/TID/children).
  DIR* directory = ::opendir("/proc/self/task");
  if (!directory) return reaped;
  while (dirent* task = ::readdir(directory)) {
    if (task->d_name[0] == '.') continue;
    std::ifstream list(fmt::format("/proc/self/task/{}/children", task->d_name));
    for (pid_t pid; list >> pid;) {
      if (ours(pid)) continue;
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) == 0 && info.si_pid)
        ++reaped;
    }
  }
  ::closedir(directory);
  return reaped;
}

}  // namespace posix
ARM_END_NAMESPACE
