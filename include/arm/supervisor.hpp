// arm::ServiceSupervisor: the pure core. It starts services by name, restarts them when they
// crash or when their configuration changes, and stops them cleanly, without doing any I/O of
// its own: inputs are method calls, outputs go through the injected Clock, Spawner, Notifier
// and FileWatcher, and next_deadline() tells the host when to call on_timer(). Any event loop
// can drive it; see examples/ for poll(2) and libuv.
//
// Service lifecycle
// -----------------
// Each configured service has a state, a reference count (how many starts are outstanding,
// plus the hard dependents that hold it; the service is wanted while it is > 0) and at most
// one live process.
//
//   stopped   no process; not wanted.
//   waiting   wanted, no process: a hard dependency (depends_on) is not running yet. It
//             starts as soon as every hard dependency runs, and fails, naming the dependency,
//             if one of them fails or stops for good instead.
//   starting  the spawn is in progress. With a synchronous spawner (PosixSpawner returns once
//             the program is executing) this lasts only for the spawn call; it is reported to
//             listeners and reserved for a readiness protocol.
//   running   one live process; wanted.
//   stopping  on its way out. SIGTERM goes to the process group once every dependent that is
//             stopping too has been reaped (reverse dependency order); SIGKILL follows after
//             stop_timeout. The exit moves it to stopped, or back to starting when it was
//             restarted or started again meanwhile (`restart_pending`).
//   backoff   the process died and is wanted: a restart is due at `restart_at`.
//   failed    no process; not wanted any more: a start could not spawn it (or a dependency it
//             needs), its process ended and its restart policy said not to restart after a
//             failure, it exited with a permanent_failure_exit_code, a hard dependency failed,
//             or it crashed more than max_restarts times within restart_window. Only in the
//             last case can a re-arm be pending (retry_failed_after): then the timer restarts
//             it with its old references, and its dependents wait for it meanwhile.
//
// Every input in every state (a dash: impossible, because that state has no process):
//
//                 start          stop (rc>1 | rc<=1)       restart        exit          timer
//   stopped       activate       reply not_running         activate       -             -
//   waiting       rc+1, waits    rc-1 | -> stopped         waits          -             -
//   failed        activate       -> stopped, not_running   activate       -             -
//   running       rc+1, reply    rc-1 | stop group         group restart  -> backoff*   -
//   stopping      rc+1, pending  rc-1 | cancel pending     pending        -> stopped/   KILL
//                                      and wait                           starting
//   backoff       spawn now      rc-1 | -> stopped         spawn now      -             spawn
//   failed+rearm  activate       -> stopped, not_running   activate       -             activate
//
//   * or -> stopped/failed when the restart policy, the exit code classes or the restart
//     intensity say not to restart.
//
// Dependencies. `activate` makes a service wanted: it takes a reference on each hard
// dependency and gives one to each soft dependency (wants), starting those that are stopped,
// transitively, and the service spawns once every hard dependency runs. A "stop group" stops
// the service and, first, every hard dependent that holds it (a cascading stop: a dependent
// cannot run without it). A "group restart" restarts the service and, after it, the hard
// dependents with restart_with_dependencies (the default), transitively; a crash restarts the
// dependents the same way. When a service stops or fails for good its hard dependents stop
// (or fail) with a reason naming it; when its last holder goes, a dependency nobody else
// wants stops too. Soft dependencies never block, fail or stop anything. The graph must be
// acyclic (check_dependencies); every operation on it is O(services + edges) and iterative.
//
// reset, in any state: clears the restart history (intensity count, backoff); failed (with or
// without a re-arm) -> stopped. A config-file change restarts a running service (a group
// restart) and cuts a backoff short; reload restarts a running service whose launch changed,
// starts dependencies added to wanted services, and releases dependencies no longer needed.
//
// Replies tell the truth: a start is answered when the process runs (or could not be
// spawned), a stop when the process has been reaped. Several clients waiting on one
// transition each get its real outcome. A failed automatic restart (spawn error) counts as a
// crash and is retried after the backoff; a failed explicit start is reported to the client.
//
// Shutdown refuses new starts, stops every process in reverse dependency order (each service
// once its dependents are reaped; independent services in parallel; SIGKILL after each
// stop_timeout), and is answered once every process has been reaped.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/config.hpp"
#include "arm/effects.hpp"
#include "arm/types.hpp"

namespace arm {

enum class ServiceState { stopped, waiting, starting, running, stopping, backoff, failed };
std::string_view to_string(ServiceState state);

enum class Outcome {
  started,            // the process is running now (spawned for this request)
  already_running,    // it was running; refcount incremented
  restarted,          // a new process is running
  stopped,            // the process has been reaped (or a pending restart was dropped)
  still_referenced,   // refcount decremented and still > 0: the process keeps running
  not_running,        // stop of a service that had no process
  unknown_service,    // no service of that name is configured
  start_failed,       // could not be spawned (message says why), or was stopped before it ran
  shutting_down,      // refused: the supervisor is shutting down
  shutdown_complete,  // every process has been reaped
  reset               // failure and restart history cleared
};
std::string_view to_string(Outcome outcome);

struct Reply {
  RequestRef to;
  Outcome outcome = Outcome::started;
  std::string service;
  std::string message;  // human-readable detail: the spawn error, who still holds it...
  std::optional<ProcessId> pid;
  unsigned refcount = 0;
};

// A state change (or a notable action within a state, such as escalating to SIGKILL, when
// `previous == state`), for logs and for clients that listen.
struct ServiceEvent {
  std::string service;
  ServiceState previous = ServiceState::stopped;
  ServiceState state = ServiceState::stopped;
  std::string detail;
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void reply(const Reply& reply) = 0;
  virtual void service_event(const ServiceEvent& event) = 0;
};

struct ServiceStatus {
  std::string name;
  ServiceState state = ServiceState::stopped;
  std::optional<ProcessId> pid;
  unsigned restarts = 0;  // automatic restarts since it was last started by a request
  unsigned refcount = 0;  // requests and default_services, plus hard dependents holding it
  std::optional<ExitStatus> last_exit;
  std::optional<TimePoint> last_exit_at;
  std::optional<TimePoint> running_since;
  std::vector<std::string> depends_on;  // as configured
  std::vector<std::string> wants;
  // Why it is not moving on: "dependency db (backoff)" while waiting to start, "dependents
  // web, api" while its stop waits for them to exit first. Empty otherwise.
  std::string waiting_for;
  std::optional<TimePoint> next_restart_at;  // in backoff, or failed with a re-arm pending
  Milliseconds next_backoff{0};              // the delay the next crash will wait
  std::string last_error;                    // why it is failed / in backoff, if known
};

struct ReloadSummary {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> restarted;  // launch settings changed while it ran
  std::vector<std::string> updated;    // only settings that take effect without a restart
};

class ServiceSupervisor {
 public:
  // `watcher` may be null: then configuration files are not watched. `random` may be null: then
  // jitter comes from a fixed-seed generator of the supervisor's own (still deterministic).
  ServiceSupervisor(Config config, Clock& clock, Spawner& spawner, Notifier& notifier,
                    FileWatcher* watcher = nullptr, Random* random = nullptr);
  ~ServiceSupervisor();
  ServiceSupervisor(const ServiceSupervisor&) = delete;
  ServiceSupervisor& operator=(const ServiceSupervisor&) = delete;

  // Starts [arm].default_services, each holding one reference of its own.
  void start_default_services();

  // Requests. Each is answered exactly once through Notifier::reply, now or later. A request
  // made without a RequestRef (std::nullopt) is carried out but answered to nobody.
  void start(std::optional<RequestRef> from, std::string_view name);
  void stop(std::optional<RequestRef> from, std::string_view name);
  void restart(std::optional<RequestRef> from, std::string_view name);
  void shutdown(std::optional<RequestRef> from);
  // Clears a service's failure and its restart history (intensity count, backoff); a failed
  // service becomes stopped, and a pending re-arm is cancelled. Answered `reset`.
  void reset(std::optional<RequestRef> from, std::string_view name);
  // Applies a new, already validated configuration: added services appear, removed ones are
  // stopped and dropped, running services whose launch settings changed are restarted.
  ReloadSummary reload(Config config);
  // Forgets the client's pending requests (they will not be answered). Its references stay,
  // as in the original ARM: a service started by a client outlives the connection.
  void client_gone(ClientId client);

  // Queries, answered synchronously.
  std::vector<ServiceStatus> status() const;  // every service, by name
  std::optional<ServiceStatus> status(std::string_view name) const;
  Config config() const;  // put together on demand: the supervisor keeps no second copy
  const ArmSettings& settings() const;  // the [arm] part alone, without that copy
  std::size_t service_count() const;
  bool shutting_down() const;
  bool finished() const;  // shutting down and no process left

  // Events from the host.
  // Returns false (and changes nothing) when `pid` is not a process of this supervisor.
  bool on_child_exit(ProcessId pid, ExitStatus status);
  void on_file_changed(std::string_view path);
  // Handles everything due at clock.now(). Calling it early or late is harmless.
  void on_timer();
  // When on_timer() must next be called; nullopt when nothing is scheduled.
  std::optional<TimePoint> next_deadline() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arm
