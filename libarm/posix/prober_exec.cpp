// Exec probes: a command started as a service's process is, its output read without blocking,
// its exit seen through its pidfd, its process group SIGKILLed when it ends.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <csignal>
#include <map>

#include "child_environment.hpp"
#include "child_privileges.hpp"
#include "prober_impl.hpp"
#include "vfork_launch.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

// Reads per call from one probe's output: a probe that writes without end cannot hold the
// host's loop.
constexpr int output_reads_per_call = 16;

// The probe's environment: the host's own (without its sd_notify variables, as a service's) with
// the service's additions.
std::vector<std::string> probe_environment(const std::map<std::string, std::string>& additions) {
  std::map<std::string, std::string> merged = inherited_environment();
  for (const auto& [key, value] : additions) merged[key] = value;
  return flattened(merged);
}

std::string_view stage_name(LaunchFailure::Stage stage) {
  switch (stage) {
    case LaunchFailure::Stage::clone:
      return "clone";
    case LaunchFailure::Stage::cgroup:
      return "cgroup";
    case LaunchFailure::Stage::setup:
      return "setup";
    case LaunchFailure::Stage::standard_output:
      return "stdout";
    case LaunchFailure::Stage::standard_error:
      return "stderr";
    case LaunchFailure::Stage::working_directory:
      return "working directory";
    case LaunchFailure::Stage::privileges:  // (a probe is given none)
      return "privileges";
    case LaunchFailure::Stage::exec:
      return "exec";
  }
  return "launch";
}

// Reads what the probe wrote, keeping the first output_kept bytes. True at its end.
bool read_output(ExecProbe& probe) {
  char bytes[4096];
  for (int i = 0; i < output_reads_per_call; ++i) {
    ssize_t got = ::read(probe.output.get(), bytes, sizeof bytes);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (got <= 0) return true;
    std::size_t room = PosixProber::output_kept - probe.kept.size();
    probe.kept.append(bytes, std::min(room, static_cast<std::size_t>(got)));
  }
  return false;
}

std::string exit_detail(const siginfo_t& info, std::string_view output) {
  std::string line = detail_line(output);
  if (info.si_code == CLD_EXITED)
    return line.empty() ? fmt::format("exit code {}", info.si_status)
                        : fmt::format("exit code {}: {}", info.si_status, line);
  return fmt::format("killed by signal {}", info.si_status);
}

}  // namespace

void PosixProber::Impl::start_exec(const ProbeRequest& request) {
  const auto& command = request.check.command;
  if (command.empty()) return report(request.id, false, "exec probe without a command");
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0)
    return not_run(request.id,
                   fmt::format("cannot run {}: pipe: {}", command.front(), error_text(errno)));
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  // The launcher takes output descriptors of 3 or above (0-2 are the child's own).
  if (write_end.get() < 3) write_end.reset(::fcntl(write_end.get(), F_DUPFD_CLOEXEC, 3));
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);

  std::vector<std::string> arguments(command.begin(), command.end());
  auto argv = pointers_to(arguments);
  auto environment = probe_environment(request.environment);
  auto envp = pointers_to(environment);
  std::string directory(request.working_directory);
  LaunchPlan plan;
  plan.program = argv.front();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.working_directory = directory.empty() ? nullptr : directory.c_str();
  plan.die_with_parent = true;
  plan.stdout_fd = write_end.get();
  plan.stderr_to_stdout = true;
  if (child_nofile) plan.descriptor_limit = &*child_nofile;
  std::optional<PrivilegePlan> privileges;
  if (request.execution) {
    privileges.emplace(PrivilegePlan::make(*request.execution));
    plan.privileges = &*privileges;
  }
  auto stack = child_stack.reserve(ChildStack::needed_for(arguments.size()));
  if (!stack)
    return not_run(request.id, fmt::format("cannot run {}: child stack: {}", command.front(),
                                           error_text(stack.error())));
  auto launched = launch(plan, stack->data(), stack->size());
  if (!launched) {
    const auto& failure = launched.error();
    if (failure.stage == LaunchFailure::Stage::exec)
      return report(
          request.id, false,
          fmt::format("cannot run {}: {}", command.front(), error_text(failure.error_number)));
    if (failure.stage == LaunchFailure::Stage::privileges)
      return report(
          request.id, false,
          fmt::format("cannot run {}: {}", command.front(),
                      describe_privilege_failure(*request.execution, failure.privilege_step,
                                                 failure.privilege_item, failure.error_number)));
    if (failure.stage == LaunchFailure::Stage::working_directory)
      return report(request.id, false,
                    fmt::format("cannot run {}: working directory {}: {}", command.front(),
                                directory, error_text(failure.error_number)));
    // Setting up the child failed (clone, its pidfd, its limits): armd's shortage, not the
    // probe's; the exec and working-directory failures above are the probe's own.
    return not_run(request.id,
                   fmt::format("cannot run {}: {}: {}", command.front(), stage_name(failure.stage),
                               error_text(failure.error_number)));
  }
  write_end.reset();  // the probe holds the only write end: its end of file is the probe's
  ExecProbe probe;
  probe.pid = launched->pid;
  probe.pidfd.reset(launched->pidfd);
  probe.output = std::move(read_end);
  watch(probe.pidfd.get(), request.id, ProbeRole::exit, EPOLLIN);
  watch(probe.output.get(), request.id, ProbeRole::output, EPOLLIN);
  exec_pids.insert(probe.pid);
  execs.insert_or_assign(request.id, std::move(probe));
}

void PosixProber::Impl::on_exec_output(ProbeId id) {
  auto found = execs.find(id);
  if (found == execs.end() || !found->second.output) return;
  if (read_output(found->second)) {
    unwatch(found->second.output.get());
    found->second.output.reset();
  }
}

void PosixProber::Impl::on_exec_exit(ProbeId id) {
  auto found = execs.find(id);
  if (found == execs.end()) return;
  ExecProbe& probe = found->second;
  siginfo_t info{};
  // Looked at first, not reaped: while it is a zombie its pid, and so its process group's
  // number, cannot be anyone else's, so the SIGKILL below reaches only what it left.
  if (::waitid(P_PIDFD, static_cast<id_t>(probe.pidfd.get()), &info, WEXITED | WNOHANG | WNOWAIT) !=
      0) {
    info.si_pid = 0;
    if (errno != ECHILD) return;  // (ECHILD: someone else reaped it; nothing to wait for)
  } else if (info.si_pid == 0) {
    return;
  }
  // (When someone else reaped it, its number may be anyone's now: nothing is sent.)
  if (info.si_pid != 0) ::kill(-probe.pid, SIGKILL);
  siginfo_t reaped{};
  ::waitid(P_PIDFD, static_cast<id_t>(probe.pidfd.get()), &reaped, WEXITED | WNOHANG);
  unwatch(probe.pidfd.get());
  bool cancelled = probe.cancelled;
  std::string detail;
  if (!cancelled) {
    if (probe.output) read_output(probe);  // what it wrote just before it exited
    detail = info.si_pid != 0 ? exit_detail(info, probe.kept) : "exit status lost";
  }
  bool healthy = info.si_pid != 0 && info.si_code == CLD_EXITED && info.si_status == 0;
  if (probe.output) unwatch(probe.output.get());
  std::string output = std::move(probe.kept);
  exec_pids.erase(probe.pid);
  execs.erase(found);
  if (!cancelled) {
    report(id, healthy, std::move(detail));
    pending.back().second.output = std::move(output);  // a failed config check's, for the log
  }
}

void PosixProber::Impl::cancel_exec(ExecProbe& probe) {
  // Not reaped yet (it would have left `execs`): the group's number is still the probe's.
  ::kill(-probe.pid, SIGKILL);
  probe.cancelled = true;
  if (probe.output) {
    unwatch(probe.output.get());
    probe.output.reset();
  }
}

}  // namespace posix
ARM_END_NAMESPACE
