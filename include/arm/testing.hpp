// Fakes for testing code that uses the supervisor, without real processes or real time: the
// same ones libarm's own tests use. An embedder can check their own restart policy with them:
//
//   arm::testing::SupervisorRig rig(config);
//   rig.supervisor.start(rig.request(), "web");
//   rig.exit("web", arm::ExitStatus::exited(1));   // the process crashes
//   rig.advance(std::chrono::milliseconds(100));   // the backoff passes: it runs again
//   CHECK(rig.state_of("web") == arm::ServiceState::running);
//
// A service with readiness other than exec is `starting` after its spawn until rig.ready(name)
// (or rig.notify(name, {...}) with other sd_notify fields) or rig.advance past its `after`.
// A service with a health check is probed once it is ready: rig.probe(name, true) answers the
// probe in flight; rig.advance past its timeout lets it time out.
#pragma once

#include "arm/abi.hpp"

#include <initializer_list>
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "arm/supervisor.hpp"

ARM_BEGIN_NAMESPACE
/// Enums print as their names (in doctest's and other frameworks' failure messages).
ARM_EXPORT std::ostream& operator<<(std::ostream& out, ServiceState state);
/// Prints the outcome's name, as to_string(Outcome).
ARM_EXPORT std::ostream& operator<<(std::ostream& out, Outcome outcome);
/// Prints the health's name, as to_string(HealthState).
ARM_EXPORT std::ostream& operator<<(std::ostream& out, HealthState state);
ARM_END_NAMESPACE

ARM_BEGIN_NAMESPACE
namespace testing {

/// Time stands still until a test moves it.
class ARM_EXPORT FakeClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }  ///< the time the test has set
  void advance(Duration by) { now_ += by; }        ///< moves time forward by `by`
  void set(TimePoint to) { now_ = to; }            ///< jumps to `to`

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
};

/// Hands out the values a test queued, then `fallback`, so jitter is exactly predictable.
class ARM_EXPORT FakeRandom final : public Random {
 public:
  double unit() override {
    if (queued.empty()) return fallback;
    double value = queued.front();
    queued.erase(queued.begin());
    return value;
  }
  std::vector<double> queued;  ///< handed out first, in order
  double fallback = 0.5;       ///< no jitter: the middle of the range
};

/// One process the FakeSpawner spawned, as it stands.
struct ARM_EXPORT FakeProcess {
  ProcessId pid = 0;                ///< its pid (from 1000 up)
  SpawnRequest request;             ///< what it was spawned with
  bool alive = true;                ///< not yet ended
  bool ignores_terminate = false;   ///< only SIGKILL ends it (ignore_terminate)
  bool main_exited = false;         ///< its main process is gone; other processes of it still run
  std::vector<StopSignal> signals;  ///< as received, in order
  std::vector<ReloadSignal> reload_signals;  ///< signal_process: as received, in order
};

/// Hands out increasing pids and remembers every process. Processes do not die by themselves:
/// a test ends them with SupervisorRig::exit, or lets signals end them with settle().
class ARM_EXPORT FakeSpawner final : public Spawner {
 public:
  std::expected<ProcessId, SpawnError> spawn(const SpawnRequest& request) override;
  void signal_group(ProcessId leader, StopSignal signal) override;
  void signal_process(ProcessId pid, ReloadSignal signal) override;

  /// The next spawn fails with `error` (once).
  void fail_next_spawn(SpawnError error);
  /// Every spawn of `service` fails with `error` until allowed again.
  void fail_service(std::string service, SpawnError error);
  void allow_service(const std::string& service);  ///< spawns of `service` succeed again
  /// New processes of `service` ignore SIGTERM (only SIGKILL ends them).
  void ignore_terminate(std::string service);

  const FakeProcess* process(ProcessId pid) const;  ///< the process `pid`, or null if never spawned
  /// The most recent process of `service`, if it ever had one.
  const FakeProcess* latest(std::string_view service) const;
  std::vector<ProcessId> live() const;  ///< pids of the processes still alive
  /// spawns so far (failed ones not counted)
  std::size_t spawn_count() const { return processes_.size(); }
  /// Marks the process dead; returns false if it was not alive.
  bool mark_exited(ProcessId pid);
  /// Its main process is gone, the rest of it still runs (and still takes signals).
  void mark_main_exited(ProcessId pid);
  /// Processes that a signal has ended but whose exit has not been reported yet.
  std::vector<std::pair<ProcessId, ExitStatus>> take_signalled_exits();
  /// Signals sent to a process already reported as exited: always a supervisor bug.
  std::size_t signals_after_exit() const { return signals_after_exit_; }

 private:
  ProcessId next_pid_ = 1000;
  std::map<ProcessId, FakeProcess> processes_;
  std::map<std::string, ProcessId, std::less<>> latest_;
  std::optional<SpawnError> next_failure_;
  std::map<std::string, SpawnError, std::less<>> failing_services_;
  std::map<std::string, bool, std::less<>> ignoring_terminate_;
  std::vector<std::pair<ProcessId, ExitStatus>> signalled_exits_;
  std::size_t signals_after_exit_ = 0;
};

/// Records every notification, and passes it on to `forward_to` when set (the test's own
/// Notifier, which may call back into the supervisor).
class ARM_EXPORT RecordingNotifier final : public Notifier {
 public:
  void reply(const Reply& reply) override {  ///< recorded, then forwarded
    replies.push_back(reply);
    if (forward_to) forward_to->reply(reply);
  }
  void service_event(const ServiceEvent& event) override {  ///< recorded, then forwarded
    events.push_back(event);
    if (forward_to) forward_to->service_event(event);
  }

  std::vector<Reply> replies_to(ClientId client) const;  ///< every reply to `client`, in order
  /// The reply to exactly this request, if it has been sent.
  std::optional<Reply> reply_to(RequestRef request) const;
  /// how many replies `request` got (more than one is a supervisor bug)
  std::size_t replies_count_for(RequestRef request) const;

  std::vector<Reply> replies;        ///< every reply, in order
  std::vector<ServiceEvent> events;  ///< every event, in order
  Notifier* forward_to = nullptr;    ///< the test's own Notifier, or null
};

/// Records watches, nothing watched: a test reports changes with on_file_changed itself.
class ARM_EXPORT FakeFileWatcher final : public FileWatcher {
 public:
  /// Counts the watch; fails (still counting it) while `file`'s path is in `refused`.
  std::expected<void, Error> watch(const WatchedFile& file) override;
  void unwatch(const WatchedFile& file) override;  ///< gives back one watch
  /// Watching `path` fails from now on, as inotify_add_watch fails on a directory that may not
  /// be read, with "cannot watch PATH for changes: Permission denied".
  void refuse(std::string path) { refused.insert(std::move(path)); }
  /// Watched whole, or (with `section`) that section of it.
  bool watching(const std::string& path, const std::string& section = {}) const;

  std::map<WatchedFile, int> watch_counts;  ///< watch() calls not yet given back, by file
  std::set<std::string> refused;            ///< paths whose watch() fails
};

/// Records the health probes the supervisor starts and cancels; nothing runs. A test answers the
/// one in flight with SupervisorRig::probe.
class ARM_EXPORT FakeProber final : public Prober {
 public:
  /// A probe started and not yet answered or cancelled.
  struct Probe {
    ProbeId id = 0;                                    ///< as ProbeRequest::id
    std::string service;                               ///< as ProbeRequest::service
    HealthCheck::Kind kind = HealthCheck::Kind::exec;  ///< the health check's kind
    ProcessId main_pid = 0;                            ///< as ProbeRequest::main_pid
    ProbePurpose purpose = ProbePurpose::health;       ///< as ProbeRequest::purpose
    std::vector<std::string> command;                  ///< exec: the argv, placeholders replaced
  };
  void start(const ProbeRequest& request) override;
  void cancel(ProbeId id) override;
  /// The probe of `service` for `purpose` started and neither answered nor cancelled yet.
  std::optional<Probe> in_flight(std::string_view service,
                                 ProbePurpose purpose = ProbePurpose::health) const;
  void answered(ProbeId id);  ///< the probe `id` was answered: no longer running

  std::vector<Probe> running;      ///< started, neither answered nor cancelled
  std::vector<ProbeId> cancelled;  ///< ids of the probes cancelled, in order
  std::size_t started = 0;         ///< probes started so far
};

/// Listening sockets without sockets (issue 14): each socket a service holds gets a made-up
/// descriptor number, kept while any service holds it; watches are recorded. A test lets a
/// client arrive with SupervisorRig::connect, and makes a socket impossible to open with refuse.
class ARM_EXPORT FakeListeners final : public Listeners {
 public:
  std::expected<void, Error> hold(std::string_view service, const ServiceSpec& spec) override;
  void drop(std::string_view service) override;
  void release_unheld() override;
  void descriptors(std::string_view service, std::vector<int>& out) const override;
  void watch(std::string_view service) override;
  void unwatch(std::string_view service) override;  ///< cancels `service`'s watch

  /// Holding `socket` ("tcp:127.0.0.1:80", as to_string writes it) fails from now on, as a bind
  /// to an address in use does.
  void refuse(std::string socket) { refused.insert(std::move(socket)); }
  /// a watch of `service`'s sockets is outstanding
  bool watching(std::string_view service) const { return watched.contains(service); }
  /// `socket` is held open by some service
  bool is_open(const std::string& socket) const { return open.contains(socket); }

  std::map<std::string, int> open;                                    ///< socket -> descriptor
  std::map<std::string, std::vector<std::string>, std::less<>> held;  ///< service -> sockets
  std::set<std::string, std::less<>> watched;  ///< services with a watch outstanding
  std::set<std::string> refused;               ///< sockets that refuse to open (refuse())
  std::size_t watch_calls = 0;                 ///< watch() calls so far

 private:
  int next_descriptor_ = 100;
};

/// A service that runs /usr/bin/NAME with the defaults; adjust the fields a test cares about.
ARM_EXPORT ServiceSpec service(std::string name);
/// A Config of `services` (by their names) with the default [arm] settings.
ARM_EXPORT Config config_with(std::initializer_list<ServiceSpec> services);

/// What advance() does with the processes its SIGKILLs (and SIGTERMs) end.
enum class Exits {
  held,      ///< they stay dead but unreported until settle(): a test can look in between
  delivered  ///< reported at once, as a host would see them
};

/// The supervisor wired to the fakes, with helpers that read like what happens.
class ARM_EXPORT SupervisorRig {
 public:
  explicit SupervisorRig(Config config);  ///< the supervisor over `config`, with every fake
  /// Every notification also goes to `also_notify` (after it is recorded).
  SupervisorRig(Config config, Notifier& also_notify);

  /// A fresh request of `client` (request numbers increase).
  RequestRef request(ClientId client = 1);
  /// The live process of `service` ends with `status`, and the supervisor is told.
  void exit(std::string_view service, ExitStatus status = ExitStatus::exited(1));
  /// The main process of `service` ends with `status` but leaves other processes running (the
  /// supervisor is told with on_main_exit). They end as signals or exit() end them.
  void exit_leaving_processes(std::string_view service, ExitStatus status = ExitStatus::exited(0));
  /// The live process of `service` sends `notification` (sd_notify), as a host reports it with
  /// on_notify; returns what on_notify returned. ready() is {.ready = true}: READY=1, or a line
  /// on its readiness descriptor.
  bool notify(std::string_view service, const ServiceNotification& notification);
  /// `service` says READY=1 (see notify())
  bool ready(std::string_view service) { return notify(service, {.ready = true}); }
  /// The health probe in flight for `service` ends: healthy or not, with `detail`. Returns what
  /// on_probe_result returned; throws std::logic_error when no probe of it is in flight.
  bool probe(std::string_view service, bool healthy, std::string detail = {});
  /// A client connects to one of `service`'s sockets. When a watch of them is outstanding, it
  /// is reported (on_socket_activity) and its result returned; otherwise nobody is told (the
  /// client waits in the backlog) and it returns false.
  bool connect(std::string_view service);
  /// The config_check (or, with ProbePurpose::reload, the reload command) of `service` in flight
  /// ends: passed or not, with `detail` and `output`. As probe(): what on_probe_result returned;
  /// throws std::logic_error when none is in flight.
  bool command_ends(std::string_view service, ProbePurpose purpose, bool passed,
                    std::string detail = {}, std::string output = {});
  /// Processes that signals have ended (those that do not ignore them) exit now.
  void settle();
  /// Moves time forward by `by`, stopping at every deadline on the way and handling it then,
  /// exactly as a host driven by next_deadline() would.
  void advance(Duration by, Exits exits = Exits::held);

  /// the live process of `service`, if it has one
  std::optional<ProcessId> pid_of(std::string_view service) const;
  ServiceState state_of(std::string_view service) const;  ///< its state now

  FakeClock clock;               ///< starts at one hour past the clock's epoch
  FakeSpawner spawner;           ///< the supervisor's Spawner
  RecordingNotifier notifier;    ///< records every notification
  FakeFileWatcher watcher;       ///< the supervisor's FileWatcher
  FakeRandom random;             ///< the supervisor's Random
  FakeProber prober;             ///< the supervisor's Prober
  FakeListeners listeners;       ///< the supervisor's Listeners
  ServiceSupervisor supervisor;  ///< wired to the fakes above

 private:
  std::uint64_t next_request_ = 1;
};

}  // namespace testing
ARM_END_NAMESPACE
