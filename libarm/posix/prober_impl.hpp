// PosixProber's state, shared by its files: prober.cpp (the epoll set, results, cancel),
// prober_exec.cpp (exec probes) and prober_socket.cpp (tcp and http probes).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "arm/posix/prober.hpp"
#include "arm/posix/unique_fd.hpp"
#include "child_stack.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

// What an epoll event is about: the low two bits of its key, above them the probe's id.
enum class ProbeRole : std::uint64_t { exit = 0, output = 1, connection = 2, wake = 3 };

struct ExecProbe {
  pid_t pid = 0;
  UniqueFd pidfd;
  UniqueFd output;   // closed at its end of file, or when the probe is cancelled
  std::string kept;  // the first output_kept bytes of its output
  bool cancelled = false;
};

struct SocketProbe {
  UniqueFd socket;
  bool http = false;
  bool connected = false;
  std::string request;  // http: what is still to be sent starts at `sent`
  std::size_t sent = 0;
  std::string received;  // http: the start of the reply, at most status_line_limit bytes
};

struct ARM_HIDDEN PosixProber::Impl {
  UniqueFd epoll;
  UniqueFd wake;  // an eventfd, readable while `pending` holds results
  std::unordered_map<ProbeId, ExecProbe> execs;
  // The pids of `execs`, for owns_process (asked for each adopted child the host reaps).
  std::unordered_set<pid_t> exec_pids;
  std::unordered_map<ProbeId, SocketProbe> sockets;
  std::vector<std::pair<ProbeId, ProbeResult>> pending;  // reported by the next collect()
  ChildStack child_stack;                                // used only during a launch
  std::optional<rlimit> child_nofile;                    // exec probes' RLIMIT_NOFILE

  void watch(int fd, ProbeId id, ProbeRole role, std::uint32_t events);
  void rewatch(int fd, ProbeId id, ProbeRole role, std::uint32_t events);
  void unwatch(int fd);
  // Queues the result of probe `id` and makes the descriptor readable.
  void report(ProbeId id, bool healthy, std::string detail);
  // The probe could not be run for want of armd's own resources (ProbeResult::ran = false).
  void not_run(ProbeId id, std::string detail);

  // prober_exec.cpp
  void start_exec(const ProbeRequest& request);
  void on_exec_output(ProbeId id);
  void on_exec_exit(ProbeId id);
  void cancel_exec(ExecProbe& probe);
  // prober_socket.cpp
  void start_socket(const ProbeRequest& request);
  void on_socket_event(ProbeId id);
};

// `text` as one line fit for a status detail: up to its first newline, at most 200 bytes,
// bytes that are not printable ASCII written '?' (it is shown on terminals and sent as JSON).
std::string detail_line(std::string_view text);
// strerror(error), as a std::string.
std::string error_text(int error);

}  // namespace posix
ARM_END_NAMESPACE
