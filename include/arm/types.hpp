// Vocabulary shared by the core and its adapters: time, process identity, exit status.
//
// The core never includes a POSIX header, so signals and exit statuses are described here in
// plain terms; the POSIX adapters translate them.
#pragma once

#include "arm/abi.hpp"

#include <chrono>
#include <cstdint>
#include <string>

ARM_BEGIN_NAMESPACE

/// Monotonic time. The real clock is std::chrono::steady_clock; the fake clock in
/// <arm/testing.hpp> hands out points on the same scale so both are interchangeable.
using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;  ///< a span of monotonic time
using Milliseconds = std::chrono::milliseconds;        ///< what configurations count in

/// A process id as the kernel numbers it. Each service's process leads its own process group, so
/// this is also the group id that signals are sent to.
using ProcessId = int;

/// Identifies one connected client (a socket, an in-process caller...). The host numbers them;
/// the supervisor only echoes them back in replies.
using ClientId = std::uint64_t;

/// One request of one client. The reply to it carries the same pair, so a host can match
/// replies to pipelined requests.
struct ARM_EXPORT RequestRef {
  ClientId client = 0;                                 ///< the client that sent it
  std::uint64_t request = 0;                           ///< the client's own number for it
  bool operator==(const RequestRef&) const = default;  ///< same client, same request
};

/// Where a service's stdout or stderr goes.
struct ARM_EXPORT OutputTarget {
  /// Where the stream goes.
  enum class Kind {
    inherit,  ///< armd's own (and so shared with armd's log and every other service)
    null,     ///< /dev/null
    file,     ///< `path`, appended to; created with mode 0640 when missing
    /// A pipe the host reads (arm::posix::OutputPipes): armd keeps the lines in a ring per
    /// service. A spawner that has no reader treats it as `inherit`.
    log,
    /// stderr only: wherever stdout goes, through the same descriptor (one pipe, in order).
    same_as_stdout,
  };
  Kind kind = Kind::inherit;                             ///< where it goes
  std::string path;                                      ///< Kind::file only
  bool operator==(const OutputTarget&) const = default;  ///< same kind and path
};

/// What the supervisor may ask a Spawner to deliver to a service's process group. `abort`
/// (SIGABRT) is what a watchdog timeout sends first, as systemd does, so the service can dump core.
enum class StopSignal { terminate, kill, abort };

/// How a process ended.
///
/// `lost` is the status of a process that someone else reaped before the spawner could: a
/// host that waits for any child itself, or ignores the child-exit signal (which the POSIX
/// spawner's create() refuses). The process is gone, but how it ended is not known; the supervisor
/// counts it as a failure (it restarts under `on-failure`), never as a clean exit.
struct ARM_EXPORT ExitStatus {
  /// What `value` means.
  enum class Kind {
    exited,    ///< it called exit(): `value` is the exit code
    signaled,  ///< a signal ended it: `value` is the signal number
    lost,      ///< reaped by someone else: the status is unknown (`value` is 0)
  };
  Kind kind = Kind::exited;  ///< what `value` means
  int value = 0;             ///< exit code, or signal number (0 when lost)

  /// The process called exit(`code`).
  static ExitStatus exited(int code) { return {Kind::exited, code}; }
  /// Signal number `signal` ended the process.
  static ExitStatus signaled(int signal) { return {Kind::signaled, signal}; }
  /// The process is gone, but someone else reaped it: its status is unknown.
  static ExitStatus lost() { return {Kind::lost, 0}; }
  /// Exit code 0 (a lost status is never clean).
  bool clean() const { return kind == Kind::exited && value == 0; }
  /// Same kind and value.
  bool operator==(const ExitStatus&) const = default;
};

/// A duration as people write it, for messages and tables: "250ms", "1.5s", "60s", "2m30s", "5m",
/// "1h02m", "2h" (truncated, never rounded up: at most a tenth of a second below ten seconds, the
/// seconds below an hour, the minutes above). A whole number of one unit prints as a
/// configuration writes it, so parse_duration reads it back as the same value.
ARM_EXPORT std::string human_duration(Milliseconds duration);

/// "exit code 3", "signal 9", "exit status lost (reaped by someone else: is SIGCHLD ignored,
/// or does the host wait for any child?)": for logs and status lines.
ARM_EXPORT std::string describe(const ExitStatus& status);

ARM_END_NAMESPACE
