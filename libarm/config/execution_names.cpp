// The names of resource limits and capabilities, as configurations write them and messages
// print them. A table of our own rather than libcap's cap_from_name: the 41 names are fixed by
// the kernel's ABI, and one dependency fewer for a lookup this small.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE

namespace {

constexpr std::array<std::string_view, 16> limit_names{
    "as",   "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue",
    "nice", "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};

// Linux's numbering (include/uapi/linux/capability.h), CAP_CHOWN = 0 to
// CAP_CHECKPOINT_RESTORE = 40.
constexpr std::array<std::string_view, 41> capability_names{"CAP_CHOWN",
                                                            "CAP_DAC_OVERRIDE",
                                                            "CAP_DAC_READ_SEARCH",
                                                            "CAP_FOWNER",
                                                            "CAP_FSETID",
                                                            "CAP_KILL",
                                                            "CAP_SETGID",
                                                            "CAP_SETUID",
                                                            "CAP_SETPCAP",
                                                            "CAP_LINUX_IMMUTABLE",
                                                            "CAP_NET_BIND_SERVICE",
                                                            "CAP_NET_BROADCAST",
                                                            "CAP_NET_ADMIN",
                                                            "CAP_NET_RAW",
                                                            "CAP_IPC_LOCK",
                                                            "CAP_IPC_OWNER",
                                                            "CAP_SYS_MODULE",
                                                            "CAP_SYS_RAWIO",
                                                            "CAP_SYS_CHROOT",
                                                            "CAP_SYS_PTRACE",
                                                            "CAP_SYS_PACCT",
                                                            "CAP_SYS_ADMIN",
                                                            "CAP_SYS_BOOT",
                                                            "CAP_SYS_NICE",
                                                            "CAP_SYS_RESOURCE",
                                                            "CAP_SYS_TIME",
                                                            "CAP_SYS_TTY_CONFIG",
                                                            "CAP_MKNOD",
                                                            "CAP_LEASE",
                                                            "CAP_AUDIT_WRITE",
                                                            "CAP_AUDIT_CONTROL",
                                                            "CAP_SETFCAP",
                                                            "CAP_MAC_OVERRIDE",
                                                            "CAP_MAC_ADMIN",
                                                            "CAP_SYSLOG",
                                                            "CAP_WAKE_ALARM",
                                                            "CAP_BLOCK_SUSPEND",
                                                            "CAP_AUDIT_READ",
                                                            "CAP_PERFMON",
                                                            "CAP_BPF",
                                                            "CAP_CHECKPOINT_RESTORE"};

}  // namespace

std::string_view to_string(ResourceLimit limit) {
  return limit_names[static_cast<std::size_t>(limit)];
}

std::optional<ResourceLimit> parse_resource_limit(std::string_view name) {
  auto found = std::ranges::find(limit_names, name);
  if (found == limit_names.end()) return std::nullopt;
  return static_cast<ResourceLimit>(found - limit_names.begin());
}

std::string_view capability_name(unsigned number) {
  return number < capability_names.size() ? capability_names[number] : std::string_view();
}

std::optional<unsigned> parse_capability(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!upper.starts_with("CAP_")) upper.insert(0, "CAP_");
  auto found = std::ranges::find(capability_names, upper);
  if (found == capability_names.end()) return std::nullopt;
  return static_cast<unsigned>(found - capability_names.begin());
}

ARM_END_NAMESPACE
