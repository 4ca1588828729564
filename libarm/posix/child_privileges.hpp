// A service's identity, limits and capabilities (ExecutionSettings, issue 15), set in the
// spawner's child between clone and exec. Everything is worked out in the parent first
// (PrivilegePlan::make: numbers, texts, which steps are needed); the child only makes system
// calls, with no allocation and no lookup, as vfork_launch's child must.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

// The steps, in the order the child takes them. Limits, priority and the OOM adjustment come
// while the child still has armd's privileges (raising a hard limit, a negative nice and a
// negative oom_score_adj need them), then the identity, then what the new identity keeps.
enum class PrivilegeStep : std::uint8_t {
  none,
  limit,              // setrlimit (the item: the index in ExecutionSettings::limits)
  nice,               // setpriority
  oom_score_adj,      // /proc/self/oom_score_adj
  groups,             // setgroups
  group,              // setresgid
  keep_capabilities,  // prctl(PR_SET_KEEPCAPS)
  user,               // setresuid
  capabilities,       // capget/capset (item: a capability armd lacks, or -1) and the ambient raise
  no_new_privileges,
};

struct PrivilegePlan {
  struct LimitStep {
    __rlimit_resource_t resource;
    rlimit value;
  };
  std::vector<LimitStep> limits;
  bool set_nice = false;
  int nice = 0;
  bool set_oom_score_adj = false;
  char oom_score_adj[16] = {};  // the value and a newline, as written to the file
  std::size_t oom_score_adj_length = 0;
  bool set_groups = false;
  std::vector<gid_t> groups;
  bool set_group = false;
  gid_t group = 0;
  bool set_user = false;
  uid_t user = 0;
  std::uint64_t capabilities = 0;
  bool set_umask = false;
  mode_t umask = 0;
  bool no_new_privileges = false;

  // What `execution` asks, less the identity changes that are no change (a non-root host
  // asked for its own uid, gid and groups makes no call that would fail).
  static PrivilegePlan make(const ExecutionSettings& execution);
};

// Takes the plan's steps. Async-signal-safe, no allocation. On failure: the step, with errno
// set and `item` saying which limit or capability (-1 when none).
PrivilegeStep apply_privileges(const PrivilegePlan& plan, int& item);
// After the working directory is changed: the umask and no_new_privileges. Cannot fail but
// for no_new_privileges.
PrivilegeStep apply_final_privileges(const PrivilegePlan& plan);

// "user: setresuid(1001): Operation not permitted": the setting that failed, the call and
// the errno's text, for the spawn error.
std::string describe_privilege_failure(const ExecutionSettings& execution, PrivilegeStep step,
                                       int item, int error_number);

}  // namespace posix
ARM_END_NAMESPACE
