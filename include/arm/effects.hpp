// The interfaces through which the supervisor reaches the world. The supervisor calls them;
// it never does I/O itself. Real implementations are in <arm/posix.hpp>, fakes for tests in
// <arm/testing.hpp>.
//
// Re-entrancy rule: an implementation must not call back into the supervisor from inside one
// of these calls. Events that result (a process exiting after a signal, say) are delivered by
// the host later, through the supervisor's on_* entry points.
#pragma once

#include "arm/abi.hpp"

#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "arm/config.hpp"
#include "arm/error.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE

/// What time it is for the supervisor: steady, never going back.
class ARM_EXPORT Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;  ///< the current time (monotonic)
};

/// Everything a Spawner needs to start one service's process.
struct ARM_EXPORT SpawnRequest {
  std::string service;  ///< the service's name (for messages, cgroup names and LISTEN_FDNAMES)
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH when it has no '/'
  std::vector<std::pair<std::string, std::string>> environment;  ///< added to the host's own
  std::string working_directory;                                 ///< empty: the host's own
  std::vector<std::string> required_files;  ///< must exist, or the spawn fails naming the file
  /// Where the process's stdout and stderr go; a file that cannot be opened fails the spawn,
  /// naming the file.
  OutputTarget standard_output;
  OutputTarget standard_error;  ///< where stderr goes (as standard_output)
  /// How the process will tell it is ready: a spawner sets $NOTIFY_SOCKET for notify, opens the
  /// readiness pipe on descriptor `fd` for fd, and does nothing for exec and after. The host
  /// reports what arrives through ServiceSupervisor::on_notify.
  Readiness readiness;
  /// Passed to the process as $WATCHDOG_USEC when set (what sd_watchdog_enabled() reads).
  std::optional<Milliseconds> watchdog;
  /// Its listening sockets (issue 14; Listeners::descriptors): the spawner gives them to the
  /// process as descriptors 3, 4, ... in this order and sets LISTEN_FDS, LISTEN_PID and
  /// LISTEN_FDNAMES (each named after the service) as systemd does. Empty: none of these.
  std::vector<int> listen_fds{};  ///< (`{}`: aggregate initializers may leave it out)
  /// Who the process runs as, its limits, capabilities and environment file (issue 15), applied
  /// in the child before exec; each step that fails fails the spawn, naming the setting.
  /// Unset: as the host runs.
  BoxedOptional<ExecutionSettings> execution{};
};

/// Starts and signals the services' processes: what the supervisor asks of the OS.
class ARM_EXPORT Spawner {
 public:
  virtual ~Spawner() = default;
  /// Starts a process leading a new process group. Returns once the program is executing (or
  /// failed to); the exit is reported later through Supervisor::on_child_exit.
  virtual std::expected<ProcessId, SpawnError> spawn(const SpawnRequest& request) = 0;
  /// Sends a signal to the process group led by `leader`. Only called for processes that have
  /// been spawned and not yet reported as exited.
  virtual void signal_group(ProcessId leader, StopSignal signal) = 0;
  /// Sends `signal` to the process `pid` alone, not its group (ServiceSpec::reload's signal, issue
  /// 14: a service's main process owns its configuration). Only called for a live main process.
  virtual void signal_process(ProcessId pid, ReloadSignal signal) = 0;
};

/// The listening sockets services are given (ServiceSpec::listen, issue 14), held open by the
/// host for as long as they are configured, whatever happens to the services' processes, so
/// clients wait in the backlog while a service restarts. The supervisor decides when a service
/// holds which sockets and when a client's arrival matters; a Listeners binds and watches.
/// A socket is known by its address: a service that lists one another service held a moment ago
/// (a reload moving it) gets the same open socket.
class ARM_EXPORT Listeners {
 public:
  virtual ~Listeners() = default;
  /// `service` holds the sockets `spec.listen` lists from now on, with `spec`'s options
  /// (backlog, mode, owner): those already open are kept, the others are opened. All or nothing:
  /// on an error, what `service` held is unchanged and the error names the socket. Nothing is
  /// closed here: a socket no service holds any more stays open until release_unheld().
  virtual std::expected<void, Error> hold(std::string_view service, const ServiceSpec& spec) = 0;
  /// `service` holds no socket any more (closed by the next release_unheld()); a watch of it is
  /// cancelled, as by unwatch(). (hold() with an empty `listen` drops.)
  virtual void drop(std::string_view service) = 0;
  /// Closes every open socket that no service holds.
  virtual void release_unheld() = 0;
  /// The descriptors `service` holds, in spec.listen's order, written over `out`.
  virtual void descriptors(std::string_view service, std::vector<int>& out) const = 0;
  /// Reports through ServiceSupervisor::on_socket_activity(service), once, the next time a client
  /// connects to (or a datagram arrives at) one of `service`'s sockets, or at once if one already
  /// waits in a backlog. Each report needs a new watch; unwatch() cancels one not yet reported.
  virtual void watch(std::string_view service) = 0;
  /// Cancels the watch of `service`'s sockets not yet reported; none outstanding: nothing.
  virtual void unwatch(std::string_view service) = 0;
};

/// Randomness for backoff jitter, injected so that tests and simulations stay deterministic.
class ARM_EXPORT Random {
 public:
  virtual ~Random() = default;
  /// Uniform in [0, 1).
  virtual double unit() = 0;
};

/// What a service watches: a configuration file, or one section of it.
struct ARM_EXPORT WatchedFile {
  std::string path;  ///< as the service's config_file says; reported back exactly so
  /// Empty: the whole file. Otherwise the text of the `[section]` header line up to the next
  /// line that starts with `[` (INI, GNUnet and TOML tables alike); only a change of that text
  /// is reported. A section that appears several times is all of its parts together.
  std::string section;

  auto operator<=>(const WatchedFile&) const = default;  ///< by path, then section (a key of maps)
};

/// Watches services' configuration files for changes of their content.
class ARM_EXPORT FileWatcher {
 public:
  virtual ~FileWatcher() = default;
  /// Reports changes of the content of `file` (or of its section) through
  /// ServiceSupervisor::on_file_changed, with `file` as it was passed here. Calls are counted:
  /// watching a file twice needs two unwatches.
  ///
  /// Returns an error, naming the file and why, when it cannot be watched (a directory on its
  /// path that may not be read, a limit of watches reached): the call counts all the same
  /// (unwatch() is called for it as for any other), but changes of the file may go unseen. The
  /// supervisor shows the error in ServiceStatus::watch_error. A file that does not exist yet is
  /// no error: it is watched for.
  virtual std::expected<void, Error> watch(const WatchedFile& file) = 0;
  /// Gives back one watch() of `file` (a failed one too); the last one ends the watch. Unknown
  /// files are ignored.
  virtual void unwatch(const WatchedFile& file) = 0;
};

/// Health probes (issue 13). The supervisor decides when a probe runs and how long it may take;
/// a Prober runs it. Each probe has an id of its own, never reused by one supervisor.
using ProbeId = std::uint64_t;

/// What a command the Prober runs is for: a health probe, or (issue 14) a service's config_check
/// or reload command. The Prober runs them alike; hosts and fakes may tell them apart.
enum class ProbePurpose : std::uint8_t { health, config_check, reload };

/// One probe (or config check, or reload command) to run, as the supervisor asks for it.
struct ARM_EXPORT ProbeRequest {
  ProbeId id = 0;            ///< its id: the result is reported with it
  std::string_view service;  ///< the service it is about
  const HealthCheck& check;  ///< what to run, and how long it may take
  ProcessId main_pid = 0;    ///< the service's main process
  /// An exec probe runs with the service's environment additions and working directory.
  const std::map<std::string, std::string>& environment;
  std::string_view working_directory;          ///< empty: the host's own
  ProbePurpose purpose{ProbePurpose::health};  ///< what the command is for
  /// The service's user, group, limits... (issue 15): an exec probe, a config check and a reload
  /// command run as the service runs, never with more rights (as systemd runs ExecReload= as
  /// User=). Its environment_file and clear_environment are not applied. Null: as the host.
  const ExecutionSettings* execution{nullptr};
};

/// How a probe (or config check, or reload command) ended.
struct ARM_EXPORT ProbeResult {
  bool healthy = false;  ///< passed: the service is healthy (the check passed, the reload worked)
  /// What the probe found, for status: "exit code 1: <its first line of output>", "connection
  /// refused", "HTTP 503 Service Unavailable". May be empty.
  std::string detail;
  /// false: the host could not run the probe at all, for want of its own resources (descriptors,
  /// processes, memory): not the service's failure, so it counts neither way; `detail` says why
  /// (status shows it) and the next probe is due as usual.
  bool ran{true};
  /// An exec probe's output (stdout and stderr together), as much of it as the Prober keeps
  /// (PosixProber: the first 4 KiB). The supervisor passes a failed config check's on in its
  /// ServiceEvent, for the host's log.
  std::string output{};
};

/// Runs health probes, config checks and reload commands for the supervisor, without blocking it.
class ARM_EXPORT Prober {
 public:
  virtual ~Prober() = default;
  /// Starts the probe without waiting for it; its result is reported later through
  /// ServiceSupervisor::on_probe_result(request.id, ...), at most once. `request` and what it
  /// refers to live only for this call.
  virtual void start(const ProbeRequest& request) = 0;
  /// The supervisor no longer wants that probe's result (it took longer than its timeout, or the
  /// service left `running`): end it now (an exec probe's processes are killed and reaped; a
  /// connection is closed). A result reported for it afterwards is ignored.
  virtual void cancel(ProbeId id) = 0;
};

ARM_END_NAMESPACE
