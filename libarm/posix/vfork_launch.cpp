#include "vfork_launch.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "arm/posix/unique_fd.hpp"
#include "clone_into_cgroup.hpp"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

struct ChildContext {
  const LaunchPlan* plan;
  int cgroup_procs_fd;  // where clone3 cannot place the child in its cgroup: it moves itself
  pid_t parent;
  sigset_t parent_mask;
  // Written by the child, read by the parent after the vfork-style suspension ends.
  LaunchFailure::Stage failed_stage;
  int error_number;
  PrivilegeStep privilege_step;
  int privilege_item;
};

[[noreturn]] void fail(ChildContext* context, LaunchFailure::Stage stage) {
  context->failed_stage = stage;
  context->error_number = errno;
  _exit(127);
}

// Opens `path` for appending as descriptor `target`. Async-signal-safe. The open comes
// first, so that a failure leaves the inherited descriptor as it was.
bool redirect_output(const char* path, int target) {
  // Never block here: the parent is suspended until this child execs, so a FIFO without a
  // reader (or any open that waits) would freeze the whole host. A FIFO without a reader fails
  // with ENXIO, reported as a spawn error; the program then writes in blocking mode as usual.
  int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_NONBLOCK, 0640);
  if (fd < 0) return false;
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    int error = errno;
    ::close(fd);
    errno = error;
    return false;
  }
  if (fd == target) return true;  // `target` was closed: the lowest free number is it
  int duplicated = ::dup2(fd, target);
  int dup_errno = errno;
  ::close(fd);
  errno = dup_errno;
  return duplicated >= 0;
}

// One descriptor the child keeps: where it is in the parent's table, where it goes.
struct Kept {
  int from;
  int to;
};

// Up to 3 + listen sockets: stdout, stderr, readiness, sockets.
constexpr int most_kept = 3 + 64;

// The child's descriptor table, made its own: each kept descriptor at its number (1 and 2 for
// the output pipes, 3... for the sockets, N for the readiness pipe), without close-on-exec, and
// nothing else above 2. Async-signal-safe, no allocation.
__attribute__((no_sanitize("address", "undefined"))) bool arrange_descriptors(
    const LaunchPlan& plan) {
  Kept kept[most_kept];
  int count = 0;
  if (plan.stdout_fd >= 3) kept[count++] = {plan.stdout_fd, STDOUT_FILENO};
  if (plan.stderr_fd >= 3) kept[count++] = {plan.stderr_fd, STDERR_FILENO};
  if (plan.readiness_fd >= 3) kept[count++] = {plan.readiness_fd, plan.readiness_target};
  for (int i = 0; i < plan.listen_count && count < most_kept; ++i)
    kept[count++] = {plan.listen_fds[i], 3 + i};
  if (count == 0) return ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_UNSHARE) == 0;
  int highest = 2;
  for (int i = 0; i < count; ++i) {
    if (kept[i].from > highest) highest = kept[i].from;
    if (kept[i].to > highest) highest = kept[i].to;
  }
  if (::syscall(SYS_close_range, static_cast<unsigned>(highest) + 1, ~0U, CLOSE_RANGE_UNSHARE) != 0)
    return false;
  // Each moved above every number in play first, so that putting one in place never
  // overwrites another that is still to be moved (a socket at 4 that must become 3 while
  // another at 3 must become 4).
  for (int i = 0; i < count; ++i) {
    kept[i].from = ::fcntl(kept[i].from, F_DUPFD_CLOEXEC, highest + 1);
    if (kept[i].from < 0) return false;
  }
  for (int i = 0; i < count; ++i) {
    if (::dup2(kept[i].from, kept[i].to) < 0) return false;  // dup2 clears close-on-exec
  }
  // Everything above 2 that is not a target goes: the sockets are 3 .. 3+n-1, the readiness
  // descriptor N lies above them.
  unsigned first_free = 3 + static_cast<unsigned>(plan.listen_count);
  if (plan.readiness_fd >= 3) {
    auto target = static_cast<unsigned>(plan.readiness_target);
    if (target > first_free && ::syscall(SYS_close_range, first_free, target - 1, 0U) != 0)
      return false;
    first_free = target + 1;
  }
  return ::syscall(SYS_close_range, first_free, ~0U, 0U) == 0;
}

// `value` in decimal into `out` (room for 21 bytes), NUL-terminated. Async-signal-safe.
__attribute__((no_sanitize("address", "undefined"))) void write_decimal(char* out, long value) {
  char reversed[21];
  int length = 0;
  do {
    reversed[length++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && length < 20);
  for (int i = 0; i < length; ++i) out[i] = reversed[length - 1 - i];
  out[length] = '\0';
}

// Runs on its own stack in the parent's memory: system calls only, no allocation, no locks.
__attribute__((no_sanitize("address", "undefined"))) int child_main(void* argument) {
  auto* context = static_cast<ChildContext*>(argument);
  const LaunchPlan& plan = *context->plan;

  // Without CLONE_INTO_CGROUP, into the service's cgroup first, before the program can fork:
  // whatever it starts from then on is found there. Writing to a descriptor of the shared
  // table neither opens nor closes one, so it may come first.
  if (context->cgroup_procs_fd >= 0 && ::write(context->cgroup_procs_fd, "0", 1) != 1)
    fail(context, LaunchFailure::Stage::cgroup);

  // The child starts on the parent's descriptor table (CLONE_FILES): first give it a table of
  // its own, copied only up to the highest descriptor it keeps, whatever the host left without
  // O_CLOEXEC. The kernel copies just that much instead of every descriptor the host has open
  // (a supervisor holds one pidfd per child), and nothing is closed one by one: without this,
  // each spawn cost time in proportion to the number of services. No descriptor may be opened
  // or closed before this line.
  if (!arrange_descriptors(plan)) fail(context, LaunchFailure::Stage::setup);

  // Once the table holds only what the child keeps (0-2), so nothing open lies above a lowered
  // limit. Limits are the child's own (no CLONE_THREAD); lowering them needs no privilege.
  if (plan.descriptor_limit && ::setrlimit(RLIMIT_NOFILE, plan.descriptor_limit) != 0)
    fail(context, LaunchFailure::Stage::setup);

  // Default dispositions first: a host handler must never run here, on shared memory. (All
  // signals are blocked until the mask is cleared below.)
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal != SIGKILL && signal != SIGSTOP) ::sigaction(signal, &default_action, nullptr);
  }
  // A session of its own, not only a process group: setpgid() can move a process only into a
  // group of its own session, so no process outside the service (another service, anything in
  // the host's session) can join this group and speak for it on the notify socket, or be
  // signalled with it, in process-group mode.
  if (::setsid() < 0) fail(context, LaunchFailure::Stage::setup);
  int null = ::open("/dev/null", O_RDONLY);
  if (null < 0) fail(context, LaunchFailure::Stage::setup);
  if (null != STDIN_FILENO) {
    if (::dup2(null, STDIN_FILENO) < 0) fail(context, LaunchFailure::Stage::setup);
    ::close(null);
  }
  if (plan.stdout_path && !redirect_output(plan.stdout_path, STDOUT_FILENO))
    fail(context, LaunchFailure::Stage::standard_output);
  if (plan.stderr_to_stdout) {
    if (::dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
      fail(context, LaunchFailure::Stage::standard_error);
  } else if (plan.stderr_path && !redirect_output(plan.stderr_path, STDERR_FILENO)) {
    fail(context, LaunchFailure::Stage::standard_error);
  }
  if (plan.privileges) {
    int item = -1;
    PrivilegeStep failed = apply_privileges(*plan.privileges, item);
    if (failed != PrivilegeStep::none) {
      context->privilege_step = failed;
      context->privilege_item = item;
      fail(context, LaunchFailure::Stage::privileges);
    }
  }
  // After the switch of identity: the kernel clears the parent-death signal whenever the
  // effective uid or gid changes (commit_creds), so set before it, it would be lost and the
  // service would outlive the host.
  if (plan.die_with_parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(context, LaunchFailure::Stage::setup);
    if (::getppid() != context->parent) _exit(127);  // the parent is already gone
  }
  // As the service's user: a directory it may not enter fails here, not in the program.
  if (plan.working_directory && ::chdir(plan.working_directory) != 0)
    fail(context, LaunchFailure::Stage::working_directory);
  if (plan.privileges) {
    PrivilegeStep failed = apply_final_privileges(*plan.privileges);
    if (failed != PrivilegeStep::none) {
      context->privilege_step = failed;
      fail(context, LaunchFailure::Stage::privileges);
    }
  }
  // LISTEN_PID: what sd_listen_fds() compares with getpid(), known only now.
  if (plan.listen_pid_digits) write_decimal(plan.listen_pid_digits, ::getpid());
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvpe(plan.program, plan.argv, plan.envp);
  fail(context, LaunchFailure::Stage::exec);
}

}  // namespace

std::expected<Launched, LaunchFailure> launch(const LaunchPlan& plan, char* stack,
                                              std::size_t stack_size) {
  ChildContext context{
      &plan, -1, ::getpid(), {}, LaunchFailure::Stage::clone, 0, PrivilegeStep::none, -1};
  // Block everything while the child runs on our memory: no handler of ours may run in it
  // (the child resets dispositions before it unblocks).
  sigset_t all;
  sigfillset(&all);
  // A child whose ids change marks the memory it shares with us not dumpable (the kernel sets
  // the memory's dumpability to fs.suid_dumpable at each change of ids): ours, until it execs.
  // What it was is put back once the child has left our memory.
  int dumpable = plan.privileges ? ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) : -1;
  ::pthread_sigmask(SIG_SETMASK, &all, &context.parent_mask);
  int pidfd = -1;
  pid_t pid = -1;
  int clone_errno = 0;
  UniqueFd cgroup_procs;
  bool placed = false;
  if (plan.cgroup_fd >= 0) {
    long result = clone3_into_cgroup(child_main, &context, stack, stack_size, plan.cgroup_fd,
                                     &pidfd, CLONE_VM | CLONE_VFORK | CLONE_FILES);
    if (result >= 0) {
      pid = static_cast<pid_t>(result);
      placed = true;
    } else if (result != -ENOSYS && result != -E2BIG && result != -EPERM) {
      // (ENOSYS: before Linux 5.7 or not x86-64; E2BIG: no `cgroup` field; EPERM: a seccomp
      // profile that refuses clone3, as older container runtimes have. Then the child moves
      // itself.)
      clone_errno = static_cast<int>(-result);
      placed = true;  // a real failure: reported below
    } else {
      cgroup_procs.reset(::openat(plan.cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC));
      if (!cgroup_procs) {
        clone_errno = errno;
        placed = true;
      }
      context.cgroup_procs_fd = cgroup_procs.get();
    }
  }
  if (!placed) {
    pid = ::clone(child_main, stack + stack_size,
                  CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD | SIGCHLD, &context, &pidfd);
    clone_errno = errno;
  }
  if ((dumpable == 0 || dumpable == 1) && ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != dumpable)
    ::prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
  ::pthread_sigmask(SIG_SETMASK, &context.parent_mask, nullptr);
  if (pid < 0) return std::unexpected(LaunchFailure{LaunchFailure::Stage::clone, clone_errno});
  if (context.error_number != 0) {
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED);
    ::close(pidfd);
    return std::unexpected(LaunchFailure{context.failed_stage, context.error_number,
                                         context.privilege_step, context.privilege_item});
  }
  // CLONE_PIDFD descriptors are created with O_CLOEXEC.
  return Launched{pid, pidfd};
}

}  // namespace posix
ARM_END_NAMESPACE
