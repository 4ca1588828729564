// Starting a program with clone(CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD): what
// posix_spawn does, plus the two things posix_spawn cannot do — return a pidfd atomically with
// the child, and set PR_SET_PDEATHSIG in the child before exec. The child shares the parent's
// memory and descriptor table until it has its own table of three descriptors and execs, so
// the cost grows neither with the host's size nor with the descriptors it holds open; the
// child may only make system calls.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <expected>

#include "child_privileges.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

struct LaunchPlan {
  const char* program = nullptr;  // looked up in PATH when it has no '/'
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* working_directory = nullptr;  // null: keep the parent's
  bool die_with_parent = false;             // PR_SET_PDEATHSIG(SIGKILL)
  // An open cgroup directory: the child is born in it (clone3 with CLONE_INTO_CGROUP), or, on a
  // kernel or architecture without that, moves itself there before anything else; either way
  // nothing of the program runs outside it. -1: it stays in the parent's cgroup.
  int cgroup_fd = -1;
  // Files opened for appending (created 0640) as stdout and stderr; null: the parent's.
  const char* stdout_path = nullptr;
  const char* stderr_path = nullptr;
  // Descriptors (3 or above) that become stdout and stderr instead: the write ends of output
  // pipes. -1: none. Copying the descriptor table up to the highest of them is the cost.
  int stdout_fd = -1;
  int stderr_fd = -1;
  // readiness fd:N: the write end of the readiness pipe (3 or above), put in place as
  // descriptor `readiness_target` (N) and kept through exec. -1: none.
  int readiness_fd = -1;
  int readiness_target = -1;
  // Listening sockets (issue 14): `listen_count` descriptors that become 3, 4, ... in the
  // child, in this order, kept through exec. The readiness target must lie above them.
  const int* listen_fds = nullptr;
  int listen_count = 0;
  // Where the child writes its own pid, in decimal and NUL-terminated, before exec: the value
  // of the LISTEN_PID= entry of envp (room for 21 bytes). Null: nothing is written.
  char* listen_pid_digits = nullptr;
  // stderr goes where stdout goes, once stdout is set up (stderr_fd and stderr_path unused).
  bool stderr_to_stdout = false;
  // The child's RLIMIT_NOFILE, set before exec (a host that raised its own keeps its children
  // on what they expect: select() breaks above 1024). Null: the parent's, inherited.
  const rlimit* descriptor_limit = nullptr;
  // The service's identity, limits and capabilities (issue 15), set after its output files are
  // opened (with the host's rights) and before the working directory is changed (with the
  // service's). Null: the host's, inherited.
  const PrivilegePlan* privileges = nullptr;
};

struct Launched {
  pid_t pid = 0;
  int pidfd = -1;  // O_CLOEXEC
};

struct LaunchFailure {
  enum class Stage {
    clone,
    cgroup,
    setup,
    standard_output,
    standard_error,
    working_directory,
    privileges,  // privilege_step says which, privilege_item which limit or capability
    exec
  };
  Stage stage = Stage::clone;
  int error_number = 0;
  PrivilegeStep privilege_step = PrivilegeStep::none;
  int privilege_item = -1;
};

// The child leads a new process group, has stdin on /dev/null, stdout and stderr as the plan
// says, only descriptors 0-2 (and the listening sockets and readiness descriptor the plan
// gives), the plan's descriptor limit, default signal dispositions and an
// empty signal mask. Returns once the program runs or failed to.
std::expected<Launched, LaunchFailure> launch(const LaunchPlan& plan, char* stack,
                                              std::size_t stack_size);

}  // namespace posix
ARM_END_NAMESPACE
