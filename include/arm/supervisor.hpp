// arm::ServiceSupervisor: the pure core. It starts services by name, restarts them when they
// crash or when their configuration changes, and stops them cleanly, without doing any I/O of
// its own: inputs are method calls, outputs go through the injected Clock, Spawner, Notifier
// and FileWatcher, and next_deadline() tells the host when to call on_timer(). Any event loop
// can drive it; examples/embed_poll.cpp, embed_epoll.cpp, embed_libuv.cpp and embed_asio.cpp
// show the glue for poll(2), epoll with a timerfd and a signalfd, libuv and standalone asio.
//
// The embedder's contract
// -----------------------
// - Threads: none inside. One supervisor is used from one thread at a time (the host's loop);
//   const queries may run concurrently with each other, not with an input.
// - Re-entry: the Notifier and the deadline listener are called only once an input has finished
//   its state change (notifications are queued and delivered, in order, at the end of the
//   outermost call), so they may call any method, inputs included. Clock, Spawner, FileWatcher,
//   Random and Prober are called in the middle of a change and must not call an input: that throws
//   std::logic_error. Const queries are allowed from anywhere.
// - Exceptions: inputs throw only std::bad_alloc (the state is then unspecified) and the
//   std::logic_error above. Callbacks must not throw: an exception from a Notifier or the
//   deadline listener ends the program (std::terminate). The constructor throws
//   std::invalid_argument for a configuration check_config() refuses; create() returns the
//   same problems as values.
// - Lifetimes: clock, spawner, notifier, watcher, random and prober are borrowed and must
//   outlive the supervisor.
// - Destruction stops nothing and does not block: processes keep running (call shutdown() and
//   wait for finished() first to stop them); pending requests are not answered. A Notifier or
//   the deadline listener may destroy the supervisor (on shutdown_complete, say): nothing more
//   is delivered, and the Reply or ServiceEvent it was handed is gone with it.
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
//   starting  spawned (its pid known), not ready yet (issue 13). readiness = exec: ready at the
//             spawn, so this lasts only for the spawn call. notify / fd: until on_notify reports
//             it ready; after: until it has been up that long (a deadline). Its starts are
//             answered, and its hard dependents (waiting meanwhile) started, only then. Not
//             ready within start_timeout (a deadline from the spawn; EXTEND_TIMEOUT_USEC= moves
//             it later): its starts fail "not ready within 90s", it is stopped (stop group) and
//             the restart policy decides as for a failed exit (decide_failed).
//   running   one live process; wanted; ready. With a watchdog, a deadline `watchdog` after
//             ready or the latest WATCHDOG=1 (WATCHDOG_USEC= replaces the interval): missed, or
//             WATCHDOG=trigger, last_error "watchdog timeout (no WATCHDOG=1 within 10s)",
//             SIGABRT instead of SIGTERM, SIGKILL after stop_timeout, and the restart policy
//             decides as for a failed exit, even a clean one (decide_failed).
//   stopping  on its way out. SIGTERM goes to the process group once every dependent that is
//             stopping too has been reaped (reverse dependency order); SIGKILL follows after
//             stop_timeout. The exit moves it to stopped, or back to starting when it was
//             restarted or started again meanwhile (`restart_pending`). Also the state of a
//             service whose main process exited while others of it still run (on_main_exit):
//             they are stopped, then the restart policy decides on the main process's exit.
//   backoff   the process died and is wanted: a restart is due at `restart_at`.
//   failed    no process; not wanted any more: a start could not spawn it (or a dependency it
//             needs), its process ended and its restart policy said not to restart after a
//             failure, it exited with a permanent_failure_exit_code, a hard dependency failed,
//             or it crashed more than max_restarts times within restart_window. Only in the
//             last case can a re-arm be pending (retry_failed_after): then the timer restarts
//             it with its old references, and its dependents wait for it meanwhile.
//
// Every input in every state. "rc" counts references (requests + holding dependents); a stop
// while other references remain (rc>1) only drops one and answers still_referenced, in every
// state; stop_all_references drops every request reference and is decided as the last stop.
// `starting` (a service not ready at exec) is decided as `running` is, except where the table
// says otherwise. tests/unit/state_table_test.cpp drives a service into every row and checks
// every cell.
//
// Requests       start            stop (last reference)      restart           reset
//   stopped      activate         not_running                activate          reset
//   waiting      rc+1, waits      -> stopped                 waits             history cleared
//   starting     rc+1, waits:     stop group; answered       group restart     history cleared
//                already_running  once reaped; its starts
//                when ready       fail then
//   running      rc+1,            stop group; answered       group restart     history cleared
//                already_running  once reaped
//   stopping     start_again,     start_again -> stopped;    start_again,      history cleared
//                waits            answered once reaped       waits
//   backoff      spawn now        -> stopped                 spawn now         history cleared
//   failed       activate         -> stopped, not_running    activate          -> stopped
//   failed+rearm activate         -> stopped, not_running    activate          -> stopped
//   listening    activate         not_running                activate          reset
//
// Events         exit             timer        file changed   dependency down†    shutdown
//   stopped      -                -            -              -                   -
//   waiting      -                -            -              -> stopped/failed   -> stopped
//   starting     starts fail,     not ready:   restart§       stop / restart†     stop group
//                decide_exit*     stop group,
//                                 decide_failed
//                                 (after: ready)
//   running      decide_exit*     watchdog¶,   restart§       stop / restart†     stop group
//                                 probe due‖
//   stopping     after_exit‡      SIGKILL      -              settle_* †          start_again
//                                                                                 -> stopped
//   backoff      -                spawn        -              -> stopped/failed   -> stopped
//   failed       -                -            -              -                   -
//   failed+rearm -                activate     -              -                   re-arm dropped
//   listening    -                -            -              -                   -> stopped
//
//   - no change: no process in that state, no deadline, or nothing to do.
//   Socket activation (issue 14; on_socket_activity, reported only while a watch is out): a
//   service with start = on-demand rests in `listening` wherever the table says `stopped`
//   (outside shutdown), its sockets watched. listening: a client activates it, with one
//   reference answered to nobody (a default service's kind); a stop gives it back, and it
//   listens again. running with idle_stop: each idle_stop period is watched; a period without a
//   client stops it (as a last stop) unless a request or a dependent holds it as well.
//
// Reload (issue 14), for a service with ServiceSpec::reload; file changed‡‡ replaces § then:
//                reload_service             file changed‡‡              restart (not forced)
//   running      check?, then signal or     check?, then signal,        check, then group
//                command: reloaded |        command or restart§;        restart | check_failed
//                check_failed |             failed: untouched,          (untouched)
//                reload_failed | no_reload  rejected_change set
//   starting     not_running                restart§ (unchecked)        group restart
//   other rows   not_running | no_reload    as in the table above       as in the table above
//   ‡‡ one check or reload command at a time: a change or request meanwhile waits for it (a file
//     change is checked once more after it); its timeout (check_timeout) is a running-state
//     deadline; leaving running cancels it (reload waiters: not_running, restart waiters:
//     start_failed). force_restart skips the check. A passing check or a spawn clears
//     rejected_change.
//   Notifications (on_notify): starting: READY=1 -> running (starts answered, dependents
//   started, watchdog armed); EXTEND_TIMEOUT_USEC= moves the start deadline to now + value if
//   later; WATCHDOG=trigger fails it as a start timeout does (with SIGABRT). running: WATCHDOG=1
//   re-arms the watchdog, WATCHDOG_USEC= replaces its interval (0: none), WATCHDOG=trigger ¶.
//   Every state with a process: STATUS= and ERRNO= are kept for status (cleared at the next
//   spawn); RELOADING=1 and STOPPING=1 are ignored; in stopping nothing else changes anything.
//   An exit while starting: its start waiters are answered start_failed "exited with exit
//   code 1 before it was ready" and keep their references (the restart policy may retry, as a
//   systemd unit in auto-restart stays wanted); the same for a start timeout or a watchdog.
//   ¶ the watchdog expired: SIGABRT to the group (the stop group's first signal), then as
//     decide_failed: the exit counts as a failure whatever its code; last_error names why.
//   ‖ health probes (ServiceSpec::health): while running, a probe is started every `interval`
//     (the first one `interval` after ready), one at a time; one not answered (on_probe_result)
//     within `timeout` is cancelled and counts as failed. `failures` counted failures in a row
//     (none counted within start_period of ready until one succeeds): health -> unhealthy and,
//     with on_unhealthy = restart, the service is stopped (stop group, SIGTERM) and the restart
//     policy decides as for a failed exit (decide_failed), last_error "unhealthy: 3 health
//     checks failed in a row (last: DETAIL)". A success: healthy. Leaving running cancels the
//     probe in flight (a result for it returns false, in every state) and forgets healthy.
//   Main process exits while other processes of the service remain (on_main_exit): running ->
//   stopping with after_exit = decide (SIGTERM to what is left, SIGKILL after stop_timeout);
//   stopping: recorded, the stop goes on. The final exit then counts as the main process's.
//   * decide_exit (libarm/core/exit_policy.hpp) on the restart policy, the exit code classes
//     and the restart intensity: -> backoff (its hard dependents restart after it), -> failed
//     (intensity exhausted; re-armed if retry_failed_after), -> stopped (clean exit, not
//     restarted), -> failed (failure, not restarted). During shutdown: -> stopped/failed.
//   † a hard dependency stops or fails for good: the dependent stops, or fails naming it (while
//     stopping: it will settle so). A hard dependency crashes, restarts or changes: a running
//     dependent with restart_with_dependencies restarts after it (a group restart).
//   ‡ what the exit of a stopping process leads to is one value, after_exit, set when it started
//     stopping and changed by what arrived meanwhile: -> stopped (settle_stopped), -> failed
//     (settle_failed: a dependency failed), -> starting again (start_again: restarted or
//     started meanwhile), -> backoff (back_off) or -> failed (give_up) as a config restart§
//     decided, decide_exit* as for a failure (decide_failed: not ready in time, or a
//     watchdog), or forgotten (forget: a reload removed it; its start waiters are answered
//     start_failed and new requests naming it are answered unknown_service). A stop, a release
//     or a shutdown turns start_again, back_off, give_up, decide and decide_failed into
//     settle_stopped.
//   § a config restart: an automatic restart, paced and limited as a crash's
//     (decide_config_change, libarm/core/exit_policy.hpp): it counts in `restarts` and in the
//     restart intensity. Intensity exhausted: stop group, then -> failed, last_error
//     "configuration file F changed; restarted N times within W, not restarting" (W as
//     human_duration writes it: "60s"; re-armed if retry_failed_after). Otherwise a group restart:
//     when the process had run for backoff_reset_after, it starts again as soon as it is reaped;
//     when it (re)started more recently, it goes to backoff once reaped and starts after the
//     backoff delay, which doubles as for crashes. A change during backoff does not cut it short (a
//     service that rewrites its file before crashing would loop): the restart due picks up the new
//     file; a restart request runs it at once.
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
// without a re-arm) -> stopped. A config-file change restarts a running service (a config
// restart§); reload restarts a running service whose launch changed (at once, cutting a
// backoff short: an operator's act), starts dependencies added to wanted services, and
// releases dependencies no longer needed.
//
// Replies tell the truth: a start is answered when the process runs and is ready (or could
// not be spawned, or was not ready), a stop when the process has been reaped. Several clients
// waiting on one transition each get its real outcome. A failed automatic restart (spawn error)
// counts as a crash: it is retried after the backoff, and counts towards max_restarts, so a binary
// that is gone ends failed with the spawn error; a failed explicit start is reported to the client.
//
// Shutdown refuses new starts, stops every process in reverse dependency order (each service
// once its dependents are reaped; independent services in parallel; SIGKILL after each
// stop_timeout), and is answered once every process has been reaped.
#pragma once

#include "arm/abi.hpp"

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/config.hpp"
#include "arm/effects.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE

/// `listening` (issue 14) is `stopped` for a service with start = on-demand: no process, not
/// wanted, its sockets watched; a client's connection starts it.
enum class ServiceState {
  stopped,
  waiting,
  starting,
  running,
  stopping,
  backoff,
  failed,
  listening
};
ARM_EXPORT std::string_view to_string(ServiceState state);  ///< "running", "backoff"...

/// What the health probes (ServiceSpec::health) say about a service.
enum class HealthState : std::uint8_t {
  none,       ///< it has no health check
  unknown,    ///< no probe has counted yet since it was last ready (or it is not running)
  healthy,    ///< the latest probe that counted succeeded
  unhealthy,  ///< `failures` probes in a row failed
};
ARM_EXPORT std::string_view to_string(HealthState state);  ///< "healthy", "unknown"...

/// What came of a request, in its Reply.
enum class Outcome {
  started,            ///< the process is running now (spawned for this request)
  already_running,    ///< it was running; refcount incremented
  restarted,          ///< a new process is running
  stopped,            ///< the process has been reaped (or a pending restart was dropped)
  still_referenced,   ///< refcount decremented and still > 0: the process keeps running
  not_running,        ///< stop of a service that had no process; reload_service of one not running
  unknown_service,    ///< no service of that name is configured
  start_failed,       ///< could not be spawned (message says why), or was stopped before it ran
  shutting_down,      ///< refused: the supervisor is shutting down
  shutdown_complete,  ///< every process has been reaped
  reset,              ///< failure and restart history cleared
  /// reload_service (issue 14):
  reloaded,       ///< the reload signal was sent, or the reload command exited 0
  check_failed,   ///< config_check failed or timed out (message says why): nothing was touched;
                  ///< also a restart a failing check refused
  reload_failed,  ///< the reload command failed or timed out (message says why)
  no_reload       ///< refused: the service has neither reload_signal nor reload (as systemd
                  ///< refuses `reload` without ExecReload=); restart it instead
};
ARM_EXPORT std::string_view to_string(Outcome outcome);  ///< "started", "already_running"...
/// The outcomes that mean the request did not do what it asked: unknown_service, start_failed,
/// shutting_down, check_failed, reload_failed, no_reload.
ARM_EXPORT bool is_failure(Outcome outcome);

/// The answer to one request (start, stop, restart, reload...), sent through Notifier::reply.
struct ARM_EXPORT Reply {
  RequestRef to;  ///< the request it answers
  /// what came of it (is_failure() tells whether it did what was asked)
  Outcome outcome = Outcome::started;
  std::string service;           ///< the service it is about
  std::string message;           ///< human-readable detail: the spawn error, who still holds it...
  std::optional<ProcessId> pid;  ///< the service's process after the request, if it has one
  unsigned refcount = 0;         ///< the service's references after the request
  /// The process this request stopped (stop, restart) or one of those it waited for (shutdown)
  /// did not exit within stop_timeout of SIGTERM and was sent SIGKILL; `message` says so too.
  bool killed = false;
};

/// A state change (or a notable action within a state, such as escalating to SIGKILL, when
/// `previous == state`), for logs and for clients that listen.
struct ARM_EXPORT ServiceEvent {
  std::string service;                            ///< the service whose state changed
  ServiceState previous = ServiceState::stopped;  ///< its state before
  /// its state now (the same as `previous` for a change of health)
  ServiceState state = ServiceState::stopped;
  std::string detail;  ///< for people: "exited unexpectedly with exit code 1; restarting in 100ms"
  /// The process the event is about: when `exit` is set, the one that exited; otherwise the
  /// service's main process at the event, if it has one (a `starting` event sent before the
  /// spawn has none; the next event, `running` or `starting` once spawned, carries the new pid).
  std::optional<ProcessId> pid{};
  /// Set when the exit of the service's main process caused the event: how it ended (on
  /// on_child_exit, or on_main_exit when other processes of the service remain). Only the
  /// service's first state change caused by that exit carries it (a restart that follows at
  /// once comes as a later event).
  std::optional<ExitStatus> exit{};
  /// Set when the event schedules an automatic restart: the delay until it (the backoff of a
  /// move to `backoff`, or retry_failed_after for a `failed` service that will be re-armed).
  std::optional<Milliseconds> restart_delay{};
  /// Set when the event is a change of health (state == previous): the new health, with the
  /// probe's result in `detail`.
  std::optional<HealthState> health{};
  /// A failed config_check or reload command (issue 14): what it printed (as much as the Prober
  /// kept), for the host's log. Empty otherwise.
  std::string output{};
};

/// Where the supervisor's answers and events go: the host's clients, its log.
class ARM_EXPORT Notifier {
 public:
  virtual ~Notifier() = default;
  /// A request is answered (once per request; some only once its service is running or stopped).
  virtual void reply(const Reply& reply) = 0;
  /// A service changed state (or health).
  virtual void service_event(const ServiceEvent& event) = 0;
};

/// One service as status() shows it.
struct ARM_EXPORT ServiceStatus {
  std::string name;                            ///< the service's name
  ServiceState state = ServiceState::stopped;  ///< its state now
  std::optional<ProcessId> pid;                ///< its main process, while it has one
  unsigned restarts = 0;  ///< automatic restarts since it was last started by a request
  unsigned refcount = 0;  ///< requests and default_services, plus hard dependents holding it
  /// how its latest process ended (ExitStatus::Kind::lost: reaped by someone else)
  std::optional<ExitStatus> last_exit;
  std::optional<TimePoint> last_exit_at;   ///< when its latest process ended
  std::optional<TimePoint> running_since;  ///< when its current process started
  std::vector<std::string> depends_on;     ///< as configured
  std::vector<std::string> wants;          ///< as configured
  /// Why it is not moving on: "dependency db (backoff)" while waiting to start, "dependents
  /// web, api" while its stop waits for them to exit first. Empty otherwise.
  std::string waiting_for;
  std::optional<TimePoint> next_restart_at;  ///< in backoff, or failed with a re-arm pending
  Milliseconds next_backoff{0};              ///< the delay the next crash will wait
  std::string last_error;                    ///< why it is failed / in backoff, if known
  std::string status_text;                   ///< the latest STATUS= of a notify service
  std::optional<int> error_number;           ///< the latest ERRNO= of a notify service
  /// its health (HealthState::none without a health check)
  HealthState health = HealthState::none;
  unsigned health_failures = 0;  ///< failed probes in a row that counted
  std::string health_detail;     ///< the latest probe's result (ProbeResult::detail, or why not)
  std::optional<TimePoint> health_checked_at;  ///< when the latest probe ended
  /// The latest configuration change a config_check refused (or a reload command that failed),
  /// while the old process runs on: "config check failed: exit code 1: nginx: [emerg] ...".
  /// Cleared by a check that passes and by the next spawn.
  std::string rejected_change;
  /// Why the service's config_file (or its section) could not be watched, as FileWatcher::watch
  /// said ("cannot watch /etc/app.conf for changes: inotify_add_watch(/etc/app): Permission
  /// denied"): changes of it may go unseen, so restart_on_config_change may not happen. Empty
  /// when it is watched (or the service watches no file).
  std::string watch_error{};
};

/// What a service said about itself over the sd_notify protocol (or, `ready` alone, on its
/// readiness fd), one datagram's worth. Fields it did not send stay empty; unknown ones are
/// ignored by the parser, as systemd does.
struct ARM_EXPORT ServiceNotification {
  bool ready = false;             ///< READY=1
  bool reloading = false;         ///< RELOADING=1
  bool stopping = false;          ///< STOPPING=1
  bool watchdog = false;          ///< WATCHDOG=1: a keep-alive
  bool watchdog_trigger = false;  ///< WATCHDOG=trigger: act as if the watchdog had expired
  /// The `{}` let a notification be written with designated initializers ({.ready = true})
  /// without GCC's -Wmissing-field-initializers, which CI turns into an error.
  std::optional<std::string> status{};             ///< STATUS=: free text for status
  std::optional<Milliseconds> watchdog_timeout{};  ///< WATCHDOG_USEC=: a new watchdog interval
  std::optional<Milliseconds> extend_timeout{};    ///< EXTEND_TIMEOUT_USEC=: more time to be ready
  std::optional<int> error_number{};               ///< ERRNO=
  bool operator==(const ServiceNotification&) const = default;  ///< field by field
};

/// What a reload(Config) changed, by service name.
struct ARM_EXPORT ReloadSummary {
  std::vector<std::string> added;  ///< new services
  /// services no longer configured (stopped first when they ran)
  std::vector<std::string> removed;
  std::vector<std::string> restarted;  ///< launch settings changed while it ran
  std::vector<std::string> updated;    ///< only settings that take effect without a restart
};

/// The supervisor: every service's state machine, driven by the host's calls (this header's
/// opening comment is the embedder's contract: threads, re-entry, the lifecycle of a service).
class ARM_EXPORT ServiceSupervisor {
 public:
  /// `watcher` may be null: then configuration files are not watched. `random` may be null: then
  /// jitter comes from a fixed-seed generator of the supervisor's own (still deterministic).
  /// Throws std::invalid_argument, listing every problem, if check_config(config) fails.
  /// `prober` may be null: then health checks are not run and every service's health stays
  /// unknown.
  /// `listeners` may be null: then `listen` sockets are neither opened nor passed, and an
  /// on-demand service rests stopped (a client cannot start it). With it, every service's
  /// sockets are opened here; one that cannot be (an address in use) throws std::runtime_error
  /// naming it.
  ServiceSupervisor(Config config, Clock& clock, Spawner& spawner, Notifier& notifier,
                    FileWatcher* watcher = nullptr, Random* random = nullptr,
                    Prober* prober = nullptr, Listeners* listeners = nullptr);
  /// The same without exceptions: every problem check_config() finds (or, after those, every
  /// socket that cannot be opened), or the supervisor.
  static std::expected<std::unique_ptr<ServiceSupervisor>, std::vector<Error>> create(
      Config config, Clock& clock, Spawner& spawner, Notifier& notifier,
      FileWatcher* watcher = nullptr, Random* random = nullptr, Prober* prober = nullptr,
      Listeners* listeners = nullptr);
  ~ServiceSupervisor();
  ServiceSupervisor(const ServiceSupervisor&) = delete;
  ServiceSupervisor& operator=(const ServiceSupervisor&) = delete;

  /// Starts [arm].default_services, each holding one reference of its own.
  void start_default_services();

  /// Requests. Each is answered exactly once through Notifier::reply, now or later, whatever
  /// happens to its service meanwhile (unless its client goes first: client_gone). A request
  /// made without a RequestRef (std::nullopt) is carried out but answered to nobody. Every
  /// request by name may be answered unknown_service (never configured, or removed by a reload).
  ///
  /// start: started (it runs now) | already_running (rc+1) | start_failed (could not be
  ///   spawned, a hard dependency failed or stopped, it was stopped or removed before it ran) |
  ///   shutting_down.
  void start(std::optional<RequestRef> from, std::string_view name);
  /// stop: stopped (its process has been reaped; also when it had none but was waiting or in
  ///   backoff; `killed` when it needed SIGKILL) | still_referenced (other references keep it) |
  ///   not_running.
  void stop(std::optional<RequestRef> from, std::string_view name);
  /// stop_all_references: as stop, but every reference of start requests and default_services is
  ///   dropped at once, so it is never still_referenced (a deploy script's three starts undone by
  ///   one request). Hard dependents holding the service do not keep it: as on any last stop,
  ///   they are stopped first and the reply's message names them. Soft dependents keep running.
  ///   stopped | not_running.
  void stop_all_references(std::optional<RequestRef> from, std::string_view name);
  /// restart: restarted (a new process runs; `killed` when the old one needed SIGKILL) | started
  ///   (it was not running) | start_failed | shutting_down | check_failed: a running service
  ///   with a config_check (ServiceSpec::reload) is restarted only once the check passes; a
  ///   failing one leaves it running.
  void restart(std::optional<RequestRef> from, std::string_view name);
  /// force_restart: restart without the config_check (armctl restart --force).
  void force_restart(std::optional<RequestRef> from, std::string_view name);
  /// reload_service (issue 14): the running service takes its configuration again without a
  ///   restart: config_check first when it has one, then its reload signal or command.
  ///   reloaded | check_failed | reload_failed | no_reload | not_running (no ready process: a
  ///   service still starting is not signalled, it may not have its handler yet) |
  ///   start_failed (its process went away while the check ran) | shutting_down. A request
  ///   made while a check runs waits for that one (requests and file changes are coalesced).
  void reload_service(std::optional<RequestRef> from, std::string_view name);
  /// shutdown: shutdown_complete, once every process has been reaped; `killed`, and the services
  ///   named in the message, when some needed SIGKILL.
  void shutdown(std::optional<RequestRef> from);
  /// reset: reset. Clears a service's failure and its restart history (intensity count,
  /// backoff); a failed service becomes stopped, and a pending re-arm is cancelled.
  void reset(std::optional<RequestRef> from, std::string_view name);
  /// Applies a new configuration: added services appear, removed ones are stopped and dropped,
  /// running services whose launch settings (or `listen` sockets) changed are restarted. A
  /// configuration that check_config() refuses, one with a socket that cannot be opened, or a
  /// reload during shutdown changes nothing and returns why.
  std::expected<ReloadSummary, std::vector<Error>> reload(Config config);
  /// Adds one service, as reload() does with the current configuration plus `spec` (named
  /// `spec.name`): the same checks (its dependencies must be configured), the same outcome (it
  /// appears stopped, or listening with start = on-demand; with start = boot it starts). Errors,
  /// with nothing changed: a service of that name is configured already (replace a service with
  /// reload()), what reload() refuses. Built on config() and reload(): O(services) per call.
  std::expected<ReloadSummary, std::vector<Error>> add_service(ServiceSpec spec);
  /// Removes one service, as reload() does with the current configuration without it: a running
  /// one is stopped and forgotten once reaped; its waiting starts are answered start_failed at
  /// once, and requests naming it meanwhile unknown_service. Errors, with nothing
  /// changed: no service is named so; other services depend on it (depends_on or wants: remove
  /// them first, or reload() a configuration without the edges), or arm.default_services names it,
  /// as reload() refuses a configuration naming a service it lacks; a shutdown is in progress.
  /// O(services) per call, as add_service.
  std::expected<ReloadSummary, std::vector<Error>> remove_service(std::string_view name);
  /// Forgets the client's pending requests (they will not be answered, not even by replies
  /// already queued). Its references stay, as in the original ARM: a service started by a
  /// client outlives the connection.
  void client_gone(ClientId client);

  /// Queries, answered synchronously.
  std::vector<ServiceStatus> status() const;  ///< every service, by name
  /// one service; nullopt when none is named so
  std::optional<ServiceStatus> status(std::string_view name) const;
  /// The same status written into `out`, every field assigned, so that its strings and vectors
  /// keep their storage: a host that asks again and again (armd's `status NAME`) with the same
  /// `out` allocates nothing once they are large enough. true: `out` is the service's status;
  /// false: no service is named so, and `out` is unchanged.
  bool status_into(std::string_view name, ServiceStatus& out) const;
  /// What an unknown_service answer says about `name`, with a guess at the configured name meant
  /// (within two edits): "unknown service 'ngnix' (did you mean 'nginx'?)". For hosts that
  /// answer queries by name themselves, as armd's status does.
  std::string unknown_service_message(std::string_view name) const;
  Config config() const;  ///< put together on demand: the supervisor keeps no second copy
  const ArmSettings& settings() const;  ///< the [arm] part alone, without that copy
  std::size_t service_count() const;    ///< how many services are configured
  bool shutting_down() const;           ///< shutdown() was called
  bool finished() const;                ///< shutting down and no process left

  /// Events from the host.
  /// The service whose main process is `pid` has no process left: its main process exited with
  /// `status` (what on_main_exit reported, if it came first, is what counts). Returns false (and
  /// changes nothing) when `pid` is not a process of this supervisor.
  bool on_child_exit(ProcessId pid, ExitStatus status);
  /// The main process exited with `status`, but other processes of its service are still running
  /// (workers, a program that forked into the background). A running service is then stopped as
  /// a whole: its remaining processes get SIGTERM, SIGKILL after stop_timeout, and once
  /// on_child_exit(pid, ...) says nothing is left, the restart policy decides on `status` as for
  /// any exit. A host whose spawner cannot tell (or does not track) the other processes never
  /// calls it. Returns false when `pid` is not a process of this supervisor.
  bool on_main_exit(ProcessId pid, ExitStatus status);
  /// The service whose main process is `pid` sent `notification`; the host has checked that the
  /// sender is one of that service's processes (a child of it may send READY=1). Returns false
  /// (and changes nothing) when `pid` is not a process of this supervisor.
  bool on_notify(ProcessId pid, const ServiceNotification& notification);
  /// The health probe `id` (Prober::start) ended with `result`. Returns false (and changes
  /// nothing) for a probe the supervisor is not waiting for: cancelled, timed out, or unknown.
  bool on_probe_result(ProbeId id, const ProbeResult& result);
  /// A client connected to (or a datagram arrived at) one of `service`'s listening sockets, as
  /// Listeners::watch asked to be told. A listening service starts, with a reference of its own
  /// answered to nobody; a running one with idle_stop is not idle this period. Returns false
  /// (and changes nothing) when no watch of that service was outstanding.
  bool on_socket_activity(std::string_view service);
  /// The content of a watched file (or of its section) changed: the services that read it restart.
  void on_file_changed(const WatchedFile& file);
  /// The same for the whole file at `path` (no section).
  void on_file_changed(std::string_view path);
  /// Handles everything due at clock.now(). Calling it early or late is harmless.
  void on_timer();
  /// When on_timer() must next be called; nullopt when nothing is scheduled. Loops that sleep
  /// in poll/epoll read it before each wait.
  std::optional<TimePoint> next_deadline() const;
  /// For callback-driven loops (asio, libuv), as libcurl's CURLMOPT_TIMERFUNCTION: `listener`
  /// is called with the new next_deadline() whenever it changes, at the end of the call that
  /// changed it (and once when set, with the current one), so a timer re-armed there is never
  /// stale. It may call back into the supervisor. An empty function removes it.
  void set_deadline_listener(std::function<void(std::optional<TimePoint>)> listener);

  /// Live re-exec (issue 15): everything a new supervisor needs to carry on from this one's state
  /// without stopping or restarting anything, as versioned text (the core's own format, TOML).
  std::string handover() const;
  /// The host ended every probe, config_check and reload command in flight without reporting
  /// their results (it was about to exec itself, and the exec failed): each runs again now, with
  /// a new ProbeId, as if it had just become due. A result reported for an old id is ignored.
  void rerun_probes_in_flight();
  /// A supervisor for `config` that carries on from `handover` (another supervisor's handover(),
  /// possibly of an older libarm): same states, processes (pids), references, restart history,
  /// readiness, health, deadlines. `config` must configure every service the handover names
  /// (armd re-reads the same file): an error otherwise, as for text it cannot read (naming the
  /// line/key) or a newer format version. Nothing is spawned, signalled or answered by resume
  /// itself except as described below.
  ///
  /// What is carried, and what is not (libarm/core/handover.cpp has the format):
  /// - Clients do not survive a re-exec: every waiting start, restart or reload request is
  ///   carried with nobody to answer (as after client_gone), and its effect goes on (the
  ///   reference a start holds, a restart or reload waiting for a config check). Stop and
  ///   shutdown requests are only answers (their effect is in the service's state already): not
  ///   carried.
  /// - Health probes, config checks and reload commands in flight are not carried (the host ends
  ///   them before exec). A probe that was in flight is due again at once (next_deadline() is in
  ///   the past: the host's first on_timer() starts it); a config check or reload command that
  ///   was in flight is started again by resume itself, through the Prober (with a new ProbeId),
  ///   for the same change and the same waiting requests. Nothing else reaches the Prober.
  /// - resume re-issues the adapter calls that describe standing state, as the constructor and
  ///   the transitions do: Listeners::hold for every service with `listen` (all or nothing: a
  ///   socket that cannot be held is an error), Listeners::watch for each service whose sockets
  ///   are watched in its state, FileWatcher::watch for each configuration file. It never calls
  ///   Spawner::spawn, signal_group or signal_process: a stopping service whose SIGTERM was sent
  ///   stays so, with its SIGKILL deadline. Deadlines are restored as they were (pass them to
  ///   the host's timer through next_deadline() or the deadline listener, as always).
  /// - A configured service the handover does not name starts as freshly configured (stopped,
  ///   or listening). A service's settings are the ones `config` gives: a process launched with
  ///   other settings (a file edited before the re-exec) is not restarted for it.
  /// - The host reports what happened in between through the usual inputs afterwards: a process
  ///   that exited meanwhile through on_child_exit, as any exit.
  static std::expected<std::unique_ptr<ServiceSupervisor>, std::vector<Error>> resume(
      std::string_view handover, Config config, Clock& clock, Spawner& spawner, Notifier& notifier,
      FileWatcher* watcher = nullptr, Random* random = nullptr, Prober* prober = nullptr,
      Listeners* listeners = nullptr);

 private:
  struct Impl;
  explicit ServiceSupervisor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

ARM_END_NAMESPACE
