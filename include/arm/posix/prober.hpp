// Health probes run from a host's event loop without ever blocking it (issue 13): one epoll
// descriptor to watch, collect() to call when it is readable (as NotifySocket, OutputPipes).
//
// - exec: the command is started as a service's process is (vfork_launch.hpp: a session and
//   process group of its own, stdin on /dev/null, no descriptor of the host's), with the host's
//   environment plus the service's additions and the service's working directory. Its stdout
//   and stderr share one pipe, read without blocking; only the first output_kept bytes are
//   kept, and their first line goes into the detail. It is waited for through its pidfd, never
//   with "any child". Exit 0 is healthy: "exit code 0", "exit code 1: <first line>", "killed by
//   signal 9". When it ends, whatever is left of its process group is SIGKILLed (while it is a
//   zombie, so the group's number cannot have been reused): a probe leaves nothing behind.
//   Limit: a process of the probe that starts a session of its own (setsid) leaves the group
//   and is not killed; probes are not placed in a cgroup, even when armd's services are.
// - tcp: a non-blocking connect to the check's address; accepted is healthy, anything else
//   unhealthy with the error's text ("Connection refused"). The connection is closed at once.
// - http: connect as tcp, send `GET <path> HTTP/1.1` (Host, User-Agent: armd, Connection:
//   close), read the status line (at most status_line_limit bytes): 2xx is healthy. "HTTP 503
//   Service Unavailable", "not an HTTP response", "connection closed before a response".
//
// A probe that never answers is the supervisor's to time out: it calls cancel(), which SIGKILLs
// an exec probe's group (its pidfd is kept until the zombie is reaped: no zombie stays) or
// closes the connection, and nothing is reported for it. Results found while in start()
// (a program that cannot run, a refused connection seen at once) are reported by the next
// collect(): the descriptor is made readable for them, since start() may not call back.
#pragma once

#include "arm/abi.hpp"

#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <optional>

#include "arm/effects.hpp"
#include "arm/error.hpp"
#include "arm/posix.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

/// arm::Prober for real processes and sockets (this file's opening comment tells how each kind
/// of probe runs), watched through one descriptor.
class ARM_EXPORT PosixProber final : public Prober {
 public:
  /// called for each result collect() finds
  using OnResult = std::function<void(ProbeId id, const ProbeResult& result)>;
  /// Of an exec probe's output, what is kept (the rest is read and dropped, so the probe never
  /// blocks on a full pipe).
  static constexpr std::size_t output_kept = 4096;
  /// An HTTP status line longer than this is "not an HTTP response".
  static constexpr std::size_t status_line_limit = 4096;

  /// `child_nofile`: the RLIMIT_NOFILE exec probes start with. A host that raised its own limit
  /// gives its probes what its services get (SpawnerOptions::child_nofile): a probe, like a
  /// service, may use select() or close every descriptor up to its limit. nullopt: the host's.
  static std::expected<std::unique_ptr<PosixProber>, Error> create(
      std::optional<SpawnerOptions::DescriptorLimit> child_nofile = std::nullopt);
  /// SIGKILLs every exec probe's group and reaps it (waiting only for SIGKILLed processes to
  /// die); closes every connection. Reports nothing.
  ~PosixProber() override;

  /// Readable (POLLIN) when a probe has something to say (or ended).
  int fd() const;
  /// Handles what is ready and calls `on_result` for every probe that ended. Never blocks. The
  /// callback may call start() and cancel().
  std::size_t collect(const OnResult& on_result);

  void start(const ProbeRequest& request) override;
  void cancel(ProbeId id) override;

  /// Ends every probe in flight at once, reporting none (their exec processes are SIGKILLed and
  /// reaped): for a host about to exec itself (live re-exec, issue 15), which must leave no child
  /// of its own that the new host does not know.
  void end_all();
  /// Whether `pid` is a running (or not yet reaped) exec probe: a host that reaps the children
  /// it adopted must leave these alone (PosixSpawner::reap_adopted's `also_ours`).
  bool owns_process(ProcessId pid) const;
  /// Probes started and not yet reported or cancelled, plus cancelled exec probes not yet reaped.
  std::size_t in_flight() const;

  struct Impl;

 private:
  explicit PosixProber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace posix
ARM_END_NAMESPACE
