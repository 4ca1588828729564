#include "child_privileges.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

// Where Linux kept the 16-bit calls under the plain names (32-bit x86 and ARM), the 32-bit ids
// take the "32" ones, as glibc's wrappers do; elsewhere only the plain ones exist.
#ifdef SYS_setresuid32
constexpr long setgroups_call = SYS_setgroups32;
constexpr long setresgid_call = SYS_setresgid32;
constexpr long setresuid_call = SYS_setresuid32;
#else
constexpr long setgroups_call = SYS_setgroups;
constexpr long setresgid_call = SYS_setresgid;
constexpr long setresuid_call = SYS_setresuid;
#endif

__rlimit_resource_t rlimit_resource(ResourceLimit limit) {
  switch (limit) {
    case ResourceLimit::as:
      return RLIMIT_AS;
    case ResourceLimit::core:
      return RLIMIT_CORE;
    case ResourceLimit::cpu:
      return RLIMIT_CPU;
    case ResourceLimit::data:
      return RLIMIT_DATA;
    case ResourceLimit::fsize:
      return RLIMIT_FSIZE;
    case ResourceLimit::locks:
      return RLIMIT_LOCKS;
    case ResourceLimit::memlock:
      return RLIMIT_MEMLOCK;
    case ResourceLimit::msgqueue:
      return RLIMIT_MSGQUEUE;
    case ResourceLimit::nice:
      return RLIMIT_NICE;
    case ResourceLimit::nofile:
      return RLIMIT_NOFILE;
    case ResourceLimit::nproc:
      return RLIMIT_NPROC;
    case ResourceLimit::rss:
      return RLIMIT_RSS;
    case ResourceLimit::rtprio:
      return RLIMIT_RTPRIO;
    case ResourceLimit::rttime:
      return RLIMIT_RTTIME;
    case ResourceLimit::sigpending:
      return RLIMIT_SIGPENDING;
    case ResourceLimit::stack:
      return RLIMIT_STACK;
  }
  return RLIMIT_NOFILE;
}

rlim_t rlimit_value(std::uint64_t value) {
  return value == ExecutionSettings::unlimited ? RLIM_INFINITY : static_cast<rlim_t>(value);
}

std::string limit_text(std::uint64_t value) {
  return value == ExecutionSettings::unlimited ? std::string("unlimited") : std::to_string(value);
}

std::string ids_text(const std::vector<std::uint32_t>& ids) {
  std::string text;
  for (auto id : ids) text += (text.empty() ? "" : ",") + std::to_string(id);
  return text;
}

}  // namespace

PrivilegePlan PrivilegePlan::make(const ExecutionSettings& execution) {
  PrivilegePlan plan;
  for (const auto& limit : execution.limits)
    plan.limits.push_back(
        {rlimit_resource(limit.resource), {rlimit_value(limit.soft), rlimit_value(limit.hard)}});
  if (execution.nice) {
    plan.set_nice = true;
    plan.nice = *execution.nice;
  }
  if (execution.oom_score_adj) {
    plan.set_oom_score_adj = true;
    auto end = fmt::format_to_n(plan.oom_score_adj, sizeof plan.oom_score_adj - 1, "{}\n",
                                *execution.oom_score_adj);
    *end.out = '\0';
    plan.oom_score_adj_length = static_cast<std::size_t>(end.out - plan.oom_score_adj);
  }
  bool privileged = ::geteuid() == 0;
  if (execution.supplementary_groups) {
    plan.groups.assign(execution.supplementary_groups->begin(),
                       execution.supplementary_groups->end());
    plan.set_groups = privileged;
    if (!privileged) {
      // A host that may not call setgroups(2) keeps its own: asking for exactly those is no
      // change, anything else fails in the child (EPERM), as it should.
      int count = ::getgroups(0, nullptr);
      std::vector<gid_t> own(static_cast<std::size_t>(std::max(count, 0)));
      if (count > 0) count = ::getgroups(count, own.data());
      own.resize(static_cast<std::size_t>(std::max(count, 0)));
      std::vector<gid_t> wanted = plan.groups;
      std::ranges::sort(own);
      std::ranges::sort(wanted);
      // getgroups may or may not include the effective gid; compare without it.
      std::erase(own, ::getegid());
      std::erase(wanted, ::getegid());
      plan.set_groups = own != wanted;
    }
  }
  if (execution.group) {
    plan.group = *execution.group;
    gid_t real = 0, effective = 0, saved = 0;
    ::getresgid(&real, &effective, &saved);
    plan.set_group = !(real == plan.group && effective == plan.group && saved == plan.group);
  }
  if (execution.user) {
    plan.user = *execution.user;
    uid_t real = 0, effective = 0, saved = 0;
    ::getresuid(&real, &effective, &saved);
    plan.set_user = !(real == plan.user && effective == plan.user && saved == plan.user);
  }
  plan.capabilities = execution.capabilities;
  if (execution.umask) {
    plan.set_umask = true;
    plan.umask = static_cast<mode_t>(*execution.umask);
  }
  plan.no_new_privileges = execution.no_new_privileges;
  return plan;
}

__attribute__((no_sanitize("address", "undefined"))) PrivilegeStep apply_privileges(
    const PrivilegePlan& plan, int& item) {
  item = -1;
  for (std::size_t i = 0; i < plan.limits.size(); ++i) {
    const auto& limit = plan.limits.data()[i];
    if (::setrlimit(limit.resource, &limit.value) != 0) {
      item = static_cast<int>(i);
      return PrivilegeStep::limit;
    }
  }
  if (plan.set_nice && ::setpriority(PRIO_PROCESS, 0, plan.nice) != 0) return PrivilegeStep::nice;
  if (plan.set_oom_score_adj) {
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return PrivilegeStep::oom_score_adj;
    std::size_t length = plan.oom_score_adj_length;
    ssize_t written = ::write(fd, plan.oom_score_adj, length);
    int error = errno;
    ::close(fd);
    if (written != static_cast<ssize_t>(length)) {
      errno = written < 0 ? error : EIO;
      return PrivilegeStep::oom_score_adj;
    }
  }
  // Raw system calls, never the C library's setgroups/setresgid/setresuid: in a threaded host,
  // glibc makes every thread of the process take the new ids (SIGSETXID), and this child shares
  // the host's memory, so it would change the host's threads' ids, not only its own.
  if (plan.set_groups && ::syscall(setgroups_call, plan.groups.size(), plan.groups.data()) != 0)
    return PrivilegeStep::groups;
  if (plan.set_group && ::syscall(setresgid_call, plan.group, plan.group, plan.group) != 0)
    return PrivilegeStep::group;
  bool capabilities = plan.capabilities != 0;
  // Without it, the switch from root to another uid clears the permitted set, and with it
  // every capability that could be made ambient. (Cleared again by exec.)
  if (capabilities && plan.set_user && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    return PrivilegeStep::keep_capabilities;
  if (plan.set_user && ::syscall(setresuid_call, plan.user, plan.user, plan.user) != 0)
    return PrivilegeStep::user;
  if (capabilities) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return PrivilegeStep::capabilities;
    for (unsigned cap = 0; cap < 64; ++cap) {
      if (!(plan.capabilities & (std::uint64_t{1} << cap))) continue;
      if (!(data[cap / 32].permitted & (1U << (cap % 32)))) {
        item = static_cast<int>(cap);
        errno = EPERM;
        return PrivilegeStep::capabilities;
      }
    }
    // Ambient capabilities must be both permitted and inheritable; the effective set is left
    // as it is (exec computes the program's from the ambient set).
    data[0].inheritable = static_cast<std::uint32_t>(plan.capabilities);
    data[1].inheritable = static_cast<std::uint32_t>(plan.capabilities >> 32);
    if (::syscall(SYS_capset, &header, data) != 0) return PrivilegeStep::capabilities;
    for (unsigned cap = 0; cap < 64; ++cap) {
      if (!(plan.capabilities & (std::uint64_t{1} << cap))) continue;
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
        item = static_cast<int>(cap);
        return PrivilegeStep::capabilities;
      }
    }
  }
  return PrivilegeStep::none;
}

__attribute__((no_sanitize("address", "undefined"))) PrivilegeStep apply_final_privileges(
    const PrivilegePlan& plan) {
  if (plan.set_umask) ::umask(plan.umask);
  if (plan.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return PrivilegeStep::no_new_privileges;
  return PrivilegeStep::none;
}

std::string describe_privilege_failure(const ExecutionSettings& execution, PrivilegeStep step,
                                       int item, int error_number) {
  std::string why = std::strerror(error_number);
  switch (step) {
    case PrivilegeStep::limit: {
      if (item < 0 || static_cast<std::size_t>(item) >= execution.limits.size()) break;
      const auto& limit = execution.limits[static_cast<std::size_t>(item)];
      return fmt::format("limits.{}: setrlimit(soft {}, hard {}): {}", to_string(limit.resource),
                         limit_text(limit.soft), limit_text(limit.hard), why);
    }
    case PrivilegeStep::nice:
      return fmt::format("nice: setpriority({}): {}", execution.nice.value_or(0), why);
    case PrivilegeStep::oom_score_adj:
      return fmt::format("oom_score_adj: writing {} to /proc/self/oom_score_adj: {}",
                         execution.oom_score_adj.value_or(0), why);
    case PrivilegeStep::groups:
      return fmt::format(
          "supplementary_groups: setgroups([{}]): {}",
          ids_text(execution.supplementary_groups.value_or(std::vector<std::uint32_t>{})), why);
    case PrivilegeStep::group:
      return fmt::format("group: setresgid({}): {}", execution.group.value_or(0), why);
    case PrivilegeStep::keep_capabilities:
      return fmt::format("capabilities: prctl(PR_SET_KEEPCAPS): {}", why);
    case PrivilegeStep::user:
      return fmt::format("user: setresuid({}): {}", execution.user.value_or(0), why);
    case PrivilegeStep::capabilities:
      if (item >= 0)
        return fmt::format("capabilities: {}: {}{}", capability_name(static_cast<unsigned>(item)),
                           why,
                           error_number == EPERM ? " (armd does not hold it, or it is outside "
                                                   "the bounding set)"
                                                 : "");
      return fmt::format("capabilities: capset: {}", why);
    case PrivilegeStep::no_new_privileges:
      return fmt::format("no_new_privileges: prctl(PR_SET_NO_NEW_PRIVS): {}", why);
    case PrivilegeStep::none:
      break;
  }
  return fmt::format("setting up the process's privileges failed: {}", why);
}

}  // namespace posix
ARM_END_NAMESPACE
