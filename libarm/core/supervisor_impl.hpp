// ServiceSupervisor::Impl: the supervisor's private state and the operations its public inputs
// are made of, grouped by the file that implements them. Private to libarm/core.
//
// Glossary of the dependency verbs:
//   activate   a service with no process becomes wanted: it holds its hard dependencies and
//              gives a reference to its soft ones, starting them first, transitively.
//   deactivate it stops holding its hard dependencies; those nobody wants any more are queued
//              for release.
//   revive     a service on its way out is wanted again: it starts again once reaped, and so
//              does whatever it needs that is on its way out too.
//   release    a service nothing wants any more stops.
//   take down  the hard dependents holding a service stop (or fail) with it, dependents first.
//   drain      run the start checks and releases that those verbs queued, until none is left.
//   settle     a service with no process leaves for good: stopped or failed, its start
//              waiters answered, its references dropped.
#pragma once

#include <fmt/format.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "arm/supervisor.hpp"
#include "fixed_seed_random.hpp"
#include "name_index.hpp"
#include "service.hpp"
#include "spare_nodes.hpp"

ARM_BEGIN_NAMESPACE

namespace detail {
struct Handover;  // handover.hpp
}  // namespace detail

using detail::AfterExit;
using detail::Service;

struct ARM_HIDDEN ServiceSupervisor::Impl {
  // Throws SocketsRefused when a listening socket of `initial` cannot be opened.
  // `at_rest` false (resume): the services are left `stopped` without listening, for
  // take_over() to give each its state.
  Impl(Config initial, Clock& clock, Spawner& spawner, Notifier& notifier, FileWatcher* watcher,
       Random* random, Prober* prober, Listeners* listeners, bool at_rest = true);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  ArmSettings arm;  // each service's spec lives in its Service (stored_spec.hpp)
  Clock& clock;
  Spawner& spawner;
  Notifier& notifier;
  FileWatcher* watcher;
  detail::FixedSeedRandom own_random;
  Random& random;
  Prober* prober;

  // The settings blocks services share; before `services`, so it outlives every user.
  detail::SettingsPool settings_pool;
  // By name. The key views the service's own name (the Service does not move, and
  // replace_spec keeps that string's buffer): a copy of every name in its node cost 16 bytes and,
  // for names past 15 characters, an allocation per service.
  std::map<std::string_view, std::unique_ptr<Service>, std::less<>> services;
  // The same services, for finding one by name (name_index.hpp says why).
  detail::NameIndex<Service> by_name;
  std::unordered_map<ProcessId, Service*> by_pid;
  detail::SpareNodes<std::unordered_map<ProcessId, Service*>> spare_pid_nodes;
  // The services reading each watched file (or section): a change touches only those.
  std::map<WatchedFile, std::vector<Service*>> by_config_file;
  // Why the FileWatcher could not watch a file (or section), while services read it: for their
  // status. Rare, so kept here rather than in every Service.
  std::map<WatchedFile, std::string> watch_errors;
  using Deadlines = std::set<std::tuple<TimePoint, std::uint64_t, Service*>>;
  Deadlines deadlines;
  detail::SpareNodes<Deadlines> spare_deadline_nodes;
  std::unordered_set<Service*> with_waiters;
  std::unordered_map<ProbeId, Service*> probes_in_flight;
  ProbeId last_probe_id = 0;  // so client_gone need not scan every service
  std::vector<RequestRef> shutdown_waiters;
  std::vector<std::string> killed_in_shutdown;  // for shutdown's reply: who needed SIGKILL
  SpawnRequest launch_buffer;  // reused by every spawn: its buffers keep their capacity
  // A state change's detail, formatted here rather than into a new string each time (a
  // restart's "...; restarting in 0ms"). Used only to build an argument of set_state().
  fmt::memory_buffer detail_buffer;
  std::uint64_t next_serial = 0;
  std::uint64_t epoch = 0;
  bool in_shutdown = false;
  // Work that dependency changes cause is queued rather than done recursively, so a chain of
  // ten thousand services cannot exhaust the stack; drain() runs it at the end of each input.
  std::deque<Service*> start_queue;    // wanted, no process: may be able to start now
  std::deque<Service*> release_queue;  // lost a holder: stop it if nothing wants it any more

  // ---- the inputs, one switch over the state each (supervisor.cpp) -------------------------
  void start_request(std::optional<RequestRef> from, std::string_view name);
  void stop_request(std::optional<RequestRef> from, std::string_view name, bool all_references);
  void restart_request(std::optional<RequestRef> from, std::string_view name, bool force);
  void reload_service_request(std::optional<RequestRef> from, std::string_view name);
  void reset_request(std::optional<RequestRef> from, std::string_view name);
  void shutdown_request(std::optional<RequestRef> from);
  bool child_exited(ProcessId pid, ExitStatus exit);
  bool main_exited(ProcessId pid, ExitStatus exit);
  void file_changed(const WatchedFile& file);
  void timer_due(Service& service);

  // ---- calls and notifications (notifications.cpp) -----------------------------------------
  // Notifications wait in the outbox until the outermost public call has finished its state
  // change, so a Notifier may call back into the supervisor.
  struct Notification {
    std::variant<std::monostate, Reply, ServiceEvent> what;  // monostate: cheap to make
    bool dropped = false;  // to a client that went away before it was delivered
  };
  // A queue of reusable slots: the first `count` entries are queued, the rest are kept with
  // their strings' capacity for the next call (no allocation per notification in the steady
  // state). Two are swapped batch by batch: delivery reads one by reference while the calls a
  // Notifier makes queue into the other.
  struct Queue {
    std::vector<Notification> slots;
    std::size_t count = 0;
    Notification& next();
    void clear();  // keeps at most a small number of slots
    std::span<Notification> queued() { return {slots.data(), count}; }
  };
  Queue outbox;
  Queue batch;
  int call_depth = 0;
  bool delivering = false;
  bool telling_deadline = false;
  // A callback may destroy the supervisor (on shutdown_complete, say); whoever called that
  // callback must then touch nothing of it. Each such caller keeps a DestructionWatch on its
  // stack; the destructor marks every one of them (a chain: they nest).
  struct DestructionWatch {
    explicit DestructionWatch(Impl& impl) : impl(impl), outer(impl.watches) { impl.watches = this; }
    ~DestructionWatch() {
      if (!destroyed) impl.watches = outer;
    }
    DestructionWatch(const DestructionWatch&) = delete;
    DestructionWatch& operator=(const DestructionWatch&) = delete;
    Impl& impl;
    DestructionWatch* outer;
    bool destroyed = false;
  };
  DestructionWatch* watches = nullptr;
  std::function<void(std::optional<TimePoint>)> deadline_listener;
  std::optional<TimePoint> deadline_told;
  bool deadline_ever_told = false;

  class Call;  // a public call in progress; see notifications.cpp
  // Both return false when a callback destroyed the supervisor.
  bool deliver();
  bool notify_deadline_change();
  void emit(Reply reply);
  // The structured fields of a ServiceEvent beyond its state and detail.
  struct EventFacts {
    std::optional<ProcessId> pid{};
    std::optional<ExitStatus> exit{};
    std::optional<Milliseconds> restart_delay{};
    std::optional<HealthState> health{};
  };
  // `detail` is copied into the event's slot, whose string keeps its capacity from one use to
  // the next (it must not view a queued notification: the queue may grow first).
  void emit_event(const Service& service, ServiceState previous, std::string_view detail,
                  const EventFacts& facts);
  // An event within a state (health, a reload signal...): about the service's current process.
  void emit_event(const Service& service, std::string_view detail,
                  std::optional<HealthState> health = std::nullopt);
  // The exit on_child_exit or on_main_exit is handling: the first state change of its service
  // that follows carries it (ServiceEvent::exit and pid), and takes it.
  struct ExitBeingHandled {
    const Service* service = nullptr;
    ProcessId pid = 0;
    ExitStatus status;
  };
  std::optional<ExitBeingHandled> exit_being_handled;

  // ---- bookkeeping (registry.cpp) ------------------------------------------------------------
  Service* find(std::string_view name);
  const Service* find(std::string_view name) const;
  // The named service if requests may reach it; otherwise answers unknown_service.
  Service* find_or_answer(std::optional<RequestRef> from, std::string_view name);
  std::string unknown_service_message(std::string_view name) const;
  bool refused_in_shutdown(std::optional<RequestRef> from, const Service& service);
  Service& add_service(ServiceSpec& spec);  // copies what it keeps (StoredSpec)
  void replace_spec(Service& service, detail::StoredSpec spec);
  void forget(Service& service);
  static std::optional<WatchedFile> watched_file_of(const Service& service);
  void watch_config_file(Service& service);
  void unwatch_config_file(Service& service);
  void unwatch_file(Service& service, const WatchedFile& file);
  // `restart_delay`: the move schedules an automatic restart that far ahead (ServiceEvent).
  void set_state(Service& service, ServiceState next, std::string_view detail = {},
                 std::optional<Milliseconds> restart_delay = std::nullopt);
  void schedule(Service& service, TimePoint at);
  void cancel_deadline(Service& service);

  // ---- the dependency graph (dependency_graph.cpp) -----------------------------------------
  void rebuild_graph();
  void recount();
  void activate(Service& root);
  bool take_interest(Service& dependency, bool soft);
  void revive(Service& root);
  void ensure_interest(Service& dependency);
  void mark_active(Service& service);
  void deactivate(Service& service);
  void enqueue_start(Service& service);
  void enqueue_waiting_dependents(Service& service);
  void drain();
  void check_start(Service& service);
  void try_start_now(Service& service);
  void release_if_unwanted(Service& service);
  std::vector<std::string> take_down_dependents(Service& root, ServiceState root_state);
  void restart_dependents(Service& root, bool everyone);
  template <class Visit>
  void for_each_holding_dependent(Service& root, Visit&& visit);
  template <class F>
  static void for_each_dependency(Service& service, F&& f) {
    for (Service* dependency : service.graph.hard_dependencies()) f(*dependency);
    for (Service* dependency : service.graph.soft_dependencies()) f(*dependency);
  }

  // ---- stopping in reverse dependency order (stop_order.cpp) -------------------------------
  void stop_group(const std::vector<Service*>& group, const std::string& why);
  void send_term_when_clear(Service& service);
  void left(Service& service);
  std::string leaving_dependents_of(const Service& service) const;

  // ---- transitions (transitions.cpp) -------------------------------------------------------
  bool spawn(Service& service);
  void after_failure_to_run(Service& service, const std::string& why);
  // `failure`: the supervisor stopped it for that reason (readiness, watchdog): the exit
  // counts as a failure, whatever its code, and the reason is its last error.
  void after_unexpected_exit(Service& service, const ExitStatus& exit, TimePoint now,
                             bool left_processes = false, const std::string* failure = nullptr);
  void after_stopping_exit(Service& service, const ExitStatus& exit);
  void schedule_restart(Service& service, const std::string& why);
  void back_off_or_give_up(Service& service, const std::string& why);
  void give_up(Service& service, const std::string& why);
  void start_fresh(Service& service, std::optional<RequestRef> from, Outcome on_success);
  void start_now(Service& service, std::optional<RequestRef> from, Outcome on_success,
                 bool takes_reference);
  void start_again_after_exit(Service& service);
  void group_restart(Service& service, const std::string& why,
                     AfterExit after = AfterExit::start_again);
  void restart_with_fresh_backoff(Service& service, std::string why);
  void restart_for_config_change(Service& service, std::string why);
  void fail_for_dependency(Service& service, const Service& dependency);
  void settle_inactive(Service& service, ServiceState final_state, const std::string& why);
  std::vector<std::string> become_inactive(Service& service, ServiceState final_state,
                                           const std::string& why);

  // ---- readiness, start timeout and watchdog (readiness.cpp) --------------------------------
  bool notified(ProcessId pid, const ServiceNotification& notification);
  Service::Readiness& readiness_of(Service& service);
  void await_readiness(Service& service);
  void become_ready(Service& service);
  void readiness_deadline_due(Service& service);
  void arm_watchdog(Service& service);
  void stop_as_failed(Service& service, const std::string& why, bool abort_first);
  void exited_before_ready(Service& service, const ExitStatus& exit);
  // The deadline of a running service: the earlier of its watchdog's and its health probe's.
  void schedule_while_running(Service& service);

  // ---- socket activation (socket_activation.cpp) -------------------------------------------
  Listeners* listeners;
  struct SocketsRefused : std::runtime_error {
    explicit SocketsRefused(std::vector<Error> errors);
    std::vector<Error> errors;
  };
  // Opens what each service of `config` lists (for the constructor and reload): all or nothing.
  std::expected<void, std::vector<Error>> hold_sockets(const Config& config);
  // Whether `service` listens for its first client instead of resting stopped.
  bool listens_on_demand(const Service& service) const;
  // Watches its sockets exactly when its state wants it (after every state change).
  void update_socket_watch(Service& service);
  bool socket_activity(std::string_view name);
  // A service with no process takes the resting state its spec says: listening or stopped.
  void rest(Service& service, bool tell);
  // Starts the services with start = boot that `already` (the default services) does not name.
  void start_boot_services(const std::vector<std::string>& already);
  void start_idle_period(Service& service);
  bool idle_due(Service& service);

  // ---- health probes (health.cpp) ------------------------------------------------------------
  void start_health_checks(Service& service);
  void stop_health_checks(Service& service);
  void health_check_changed(Service& service);
  bool health_due(Service& service);
  void run_probe(Service& service);
  bool probe_ended(ProbeId id, const ProbeResult& result);
  void count_probe(Service& service, bool healthy, std::string detail);
  void set_health(Service& service, HealthState next);

  // ---- reload without restart, and the check before acting (config_change.cpp) -------------
  std::unordered_map<ProbeId, Service*> config_steps_in_flight;  // checks and reload commands
  bool checks_before_acting(const Service& service) const;
  Service::ConfigChange& config_change_of(Service& service);
  void config_file_changed(Service& service, std::string why);
  void restart_once_checked(Service& service, std::optional<RequestRef> from);
  void join_restart(Service& service);
  void run_config_step(Service& service, Service::ConfigChange::Step step);
  void apply_config_change(Service& service);
  void send_reload_signal(Service& service, ReloadSignal signal);
  bool config_step_ended(ProbeId id, const ProbeResult& result);
  bool config_step_due(Service& service);
  void config_step_finished(Service& service, bool passed, const std::string& detail,
                            const std::string& output);
  void cancel_config_step(Service::ConfigChange& change);
  void abandon_config_change(Service& service);
  void config_change_spawned(Service& service);
  void release_config_change_if_idle(Service& service);

  // ---- waiters and replies (waiters.cpp) ---------------------------------------------------
  void answer(std::optional<RequestRef> to, const Service& service, Outcome outcome,
              std::string message = {});
  void add_start_waiter(Service& service, std::optional<RequestRef> to, Outcome on_success,
                        bool holds_reference);
  void add_stop_waiter(Service& service, std::optional<RequestRef> to, std::string note = {});
  Service::Waiters& waiters_of(Service& service);
  void release_waiters_if_none(Service& service);
  void answer_start_waiters(Service& service);
  // `give_back`: the references the starts took are returned (false: a start that failed but
  // the restart policy will retry keeps them, as a systemd unit stays wanted in auto-restart).
  void fail_start_waiters(Service& service, Outcome outcome, const std::string& why,
                          bool give_back = true);
  void answer_stop_waiters(Service& service);
  // A reply that says its process needed SIGKILL (Reply::killed), with kill_note's words.
  void answer_killed(std::optional<RequestRef> to, const Service& service, Outcome outcome,
                     std::string message);
  static std::string kill_note(const Service& service);
  void forget_client(ClientId client);
  void finish_shutdown_if_done();

  // ---- reload (reload.cpp) -------------------------------------------------------------------
  struct ReloadPlan;
  ReloadSummary apply(Config next);
  void drop_removed(ReloadPlan& plan);
  void apply_specs(ReloadPlan& plan);
  void follow_new_edges(ReloadPlan& plan);
  void restart_changed(ReloadPlan& plan);
  void start_new_defaults(const ReloadPlan& plan);

  // ---- live re-exec (handover.cpp) ----------------------------------------------------------
  std::string write_handover() const;
  // Gives the services the states `handover` carries (read and checked against this
  // configuration already), then re-issues the adapter calls of standing state.
  void take_over(detail::Handover& handover);

  // ---- queries (status.cpp) ------------------------------------------------------------------
  ServiceStatus status_of(const Service& service) const;
  // The same into an existing status, whose strings' and vectors' storage is reused.
  void fill_status(const Service& service, ServiceStatus& status) const;
};

// A public call in progress. Only one may run at a time, except calls a Notifier or the
// deadline listener makes while the outermost call delivers; when the outermost call ends, the
// notifications its state change queued are delivered and the deadline listener is told if the
// earliest deadline moved.
class ServiceSupervisor::Impl::Call {
 public:
  explicit Call(Impl& impl);
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

 private:
  Impl& impl_;
  int exceptions_at_start_;
};

ARM_END_NAMESPACE
