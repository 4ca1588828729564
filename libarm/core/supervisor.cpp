// The supervisor's state machine. The lifecycle and the table of (state, input) decisions are
// in include/arm/supervisor.hpp; each public entry point below has one `switch` over the state
// so that every cell of that table is visible here too.
#include "arm/supervisor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace arm {

std::string_view to_string(ServiceState state) {
  switch (state) {
    case ServiceState::stopped:
      return "stopped";
    case ServiceState::waiting:
      return "waiting";
    case ServiceState::starting:
      return "starting";
    case ServiceState::running:
      return "running";
    case ServiceState::stopping:
      return "stopping";
    case ServiceState::backoff:
      return "backoff";
    case ServiceState::failed:
      return "failed";
  }
  return "unknown";
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::started:
      return "started";
    case Outcome::already_running:
      return "already_running";
    case Outcome::restarted:
      return "restarted";
    case Outcome::stopped:
      return "stopped";
    case Outcome::still_referenced:
      return "still_referenced";
    case Outcome::not_running:
      return "not_running";
    case Outcome::unknown_service:
      return "unknown_service";
    case Outcome::start_failed:
      return "start_failed";
    case Outcome::shutting_down:
      return "shutting_down";
    case Outcome::shutdown_complete:
      return "shutdown_complete";
    case Outcome::reset:
      return "reset";
  }
  return "unknown";
}

namespace {

// A request waiting for a process to run: answered `on_success` once it does, start_failed if
// it cannot. A start takes a reference; if the start fails, that reference is given back.
struct StartWaiter {
  RequestRef to;
  Outcome on_success;
  bool holds_reference;
};

struct Service {
  ServiceSpec spec;
  SpawnRequest launch;       // derived from spec and the global settings
  std::uint64_t serial = 0;  // orders deadlines that fall on the same instant
  ServiceState state = ServiceState::stopped;
  unsigned refcount = 0;  // references from requests and default_services
  std::optional<ProcessId> pid;
  bool restart_pending = false;  // start again as soon as the current process is reaped
  bool removed = false;          // dropped by reload: forget it once its process is reaped
  Milliseconds backoff{0};       // the delay the next crash will wait
  unsigned restarts = 0;
  std::optional<ExitStatus> last_exit;
  std::optional<TimePoint> last_exit_at;
  std::optional<TimePoint> running_since;
  // Restart due (backoff), SIGKILL due (stopping) or re-arm due (failed).
  std::optional<TimePoint> deadline;
  // Automatic restarts within restart_window, oldest first; kept only with max_restarts. (A
  // vector, not a deque: libstdc++'s deque allocates over half a KiB even when empty.)
  std::vector<TimePoint> recent_restarts;
  unsigned references_before_failure = 0;  // given back when a re-arm restarts it
  std::string last_error;
  std::vector<StartWaiter> start_waiters;
  std::vector<RequestRef> stop_waiters;

  // ---- the dependency graph (resolved from spec.depends_on / spec.wants) ----
  std::vector<Service*> requires_;  // hard dependencies
  std::vector<Service*> wants_;     // soft dependencies
  std::vector<Service*> hard_dependents;
  std::vector<Service*> soft_dependents;
  // Set from the moment it is wanted until it is stopped or failed again: it then holds one
  // reference (counted in `holders`) on each hard dependency.
  bool holding = false;
  unsigned holders = 0;  // hard dependents that hold it
  // Stopping with its process still alive. Its dependencies wait for it: `leaving_dependents`
  // counts, on each dependency, the dependents that are leaving, and SIGTERM goes out only when
  // that count is zero (reverse dependency order).
  bool leaving = false;
  unsigned leaving_dependents = 0;
  bool term_sent = false;
  // Started from stopped or failed and not yet run: a spawn error fails it, and with it its
  // dependents, instead of backing off.
  bool fresh = false;
  bool queued = false;           // in the start queue
  std::uint64_t visited = 0;     // traversal epoch, so a walk visits each service once
  bool fail_after_stop = false;  // taken down because a dependency failed
  std::string stop_reason;       // why it was taken down, for last_error
  std::string waiting_for;       // the dependency it waits for, when waiting
  std::string stop_note;         // for the stop reply: the dependents stopped with it

  bool wanted() const { return refcount + holders > 0; }
};

bool same_launch(const SpawnRequest& a, const SpawnRequest& b) {
  return a.argv == b.argv && a.environment == b.environment &&
         a.working_directory == b.working_directory && a.required_files == b.required_files;
}

SpawnRequest make_launch(const ServiceSpec& spec, const ArmSettings& arm) {
  SpawnRequest launch;
  launch.service = spec.name;
  launch.argv = compose_argv(spec, arm);
  launch.environment.assign(spec.environment.begin(), spec.environment.end());
  launch.working_directory = spec.working_directory.value_or("");
  if (spec.config_file) launch.required_files.push_back(*spec.config_file);
  return launch;
}

enum class ExitClass { clean, failure, permanent_failure };

ExitClass classify(const ServiceSpec& spec, const ExitStatus& status) {
  if (status.kind == ExitStatus::Kind::exited) {
    auto listed = [&](const std::vector<int>& codes) {
      return std::find(codes.begin(), codes.end(), status.value) != codes.end();
    };
    if (listed(spec.success_exit_codes)) return ExitClass::clean;
    if (listed(spec.permanent_failure_exit_codes)) return ExitClass::permanent_failure;
  }
  return ExitClass::failure;
}

bool restart_wanted(RestartPolicy policy, ExitClass exit) {
  if (exit == ExitClass::permanent_failure) return false;
  switch (policy) {
    case RestartPolicy::always:
      return true;
    case RestartPolicy::on_failure:
      return exit == ExitClass::failure;
    case RestartPolicy::never:
      return false;
  }
  return false;
}

// splitmix64: the supervisor's own deterministic randomness when the host injects none.
class FixedSeedRandom final : public Random {
 public:
  double unit() override {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t state_ = 0;
};

}  // namespace

struct ServiceSupervisor::Impl {
  Impl(Config initial, Clock& c, Spawner& s, Notifier& n, FileWatcher* w, Random* r)
      : arm(std::move(initial.arm)),
        clock(c),
        spawner(s),
        notifier(n),
        watcher(w),
        random(r ? *r : own_random) {
    for (const auto& [name, spec] : initial.services) add_service(spec);
    rebuild_graph();
  }

  // The [arm] settings; each service's settings live in its Service only (config() puts the
  // two back together), so a configuration is not held twice.
  ArmSettings arm;
  Clock& clock;
  Spawner& spawner;
  Notifier& notifier;
  FileWatcher* watcher;
  FixedSeedRandom own_random;
  Random& random;

  std::map<std::string, std::unique_ptr<Service>, std::less<>> services;
  std::unordered_map<ProcessId, Service*> by_pid;
  std::unordered_map<std::string, std::vector<Service*>> by_config_file;
  std::set<std::tuple<TimePoint, std::uint64_t, Service*>> deadlines;
  std::unordered_set<Service*> with_waiters;  // so client_gone need not scan every service
  std::vector<RequestRef> shutdown_waiters;
  std::uint64_t next_serial = 0;
  std::uint64_t epoch = 0;
  bool in_shutdown = false;
  // Work that dependency changes cause is queued rather than done recursively, so a chain of
  // ten thousand services cannot exhaust the stack; drain() runs it at the end of each input.
  std::deque<Service*> start_queue;    // wanted, no process: may be able to start now
  std::deque<Service*> release_queue;  // lost a holder: stop it if nothing wants it any more

  // ---- bookkeeping -------------------------------------------------------------------------

  Service* find(std::string_view name) {
    auto it = services.find(name);
    return it == services.end() ? nullptr : it->second.get();
  }

  // The named service, or nullptr after answering unknown_service.
  Service* find_or_answer(std::optional<RequestRef> from, std::string_view name) {
    Service* service = find(name);
    if (!service && from)
      notifier.reply({*from, Outcome::unknown_service, std::string(name), {}, {}, 0});
    return service;
  }

  bool refused_in_shutdown(std::optional<RequestRef> from, const Service& service) {
    if (!in_shutdown) return false;
    answer(from, service, Outcome::shutting_down, "armd is shutting down");
    return true;
  }

  Service& add_service(const ServiceSpec& spec) {
    auto service = std::make_unique<Service>();
    service->spec = spec;
    service->launch = make_launch(spec, arm);
    service->serial = next_serial++;
    service->backoff = spec.backoff_initial;
    Service& added = *service;
    services.emplace(spec.name, std::move(service));
    watch_config_file(added);
    return added;
  }

  void watch_config_file(Service& service) {
    if (!service.spec.config_file) return;
    by_config_file[*service.spec.config_file].push_back(&service);
    if (watcher) watcher->watch(*service.spec.config_file);
  }

  void unwatch_config_file(Service& service) {
    if (!service.spec.config_file) return;
    auto it = by_config_file.find(*service.spec.config_file);
    if (it != by_config_file.end()) {
      std::erase(it->second, &service);
      if (it->second.empty()) by_config_file.erase(it);
    }
    if (watcher) watcher->unwatch(*service.spec.config_file);
  }

  void forget(Service& service) {
    cancel_deadline(service);
    unwatch_config_file(service);
    with_waiters.erase(&service);
    deactivate(service);
    std::erase(start_queue, &service);
    std::erase(release_queue, &service);
    std::string name = service.spec.name;  // the key must outlive the node it erases
    services.erase(name);
  }

  void set_state(Service& service, ServiceState next, std::string detail = {}) {
    ServiceState previous = service.state;
    service.state = next;
    notifier.service_event({service.spec.name, previous, next, std::move(detail)});
  }

  void schedule(Service& service, TimePoint at) {
    cancel_deadline(service);
    service.deadline = at;
    deadlines.emplace(at, service.serial, &service);
  }

  void cancel_deadline(Service& service) {
    if (!service.deadline) return;
    deadlines.erase({*service.deadline, service.serial, &service});
    service.deadline.reset();
  }

  // Not wanted and without a process: what activation has to wake up.
  static bool dormant(const Service& service) {
    return !service.holding &&
           (service.state == ServiceState::stopped || service.state == ServiceState::failed);
  }

  static bool rearm_pending(const Service& service) {
    return service.state == ServiceState::failed && service.deadline.has_value();
  }

  // ---- the dependency graph ----------------------------------------------------------------

  // Resolves every service's edges from its spec and recounts what depends on the edges:
  // `holders` and `leaving_dependents`. O(services + edges); run on construction and reload.
  void rebuild_graph() {
    for (auto& [name, service] : services) {
      service->requires_.clear();
      service->wants_.clear();
      service->hard_dependents.clear();
      service->soft_dependents.clear();
    }
    for (auto& [name, owned] : services) {
      Service& service = *owned;
      if (service.removed) continue;
      auto resolve = [&](const std::vector<std::string>& names, std::vector<Service*>& into,
                         auto dependents) {
        for (const auto& dependency_name : names) {
          Service* dependency = find(dependency_name);
          // check_dependencies() rules unknown names out; a removed service has no future.
          if (!dependency || dependency->removed || dependency == &service) continue;
          into.push_back(dependency);
          (dependency->*dependents).push_back(&service);
        }
      };
      resolve(service.spec.depends_on, service.requires_, &Service::hard_dependents);
      resolve(service.spec.wants, service.wants_, &Service::soft_dependents);
    }
    recount();
  }

  void recount() {
    for (auto& [name, service] : services) {
      service->holders = 0;
      service->leaving_dependents = 0;
    }
    for (auto& [name, service] : services) {
      if (service->holding)
        for (Service* dependency : service->requires_) ++dependency->holders;
      if (service->leaving)
        for_each_dependency(*service, [](Service& d) { ++d.leaving_dependents; });
    }
  }

  template <class F>
  static void for_each_dependency(Service& service, F&& f) {
    for (Service* dependency : service.requires_) f(*dependency);
    for (Service* dependency : service.wants_) f(*dependency);
  }

  void enqueue_start(Service& service) {
    if (service.queued) return;
    service.queued = true;
    start_queue.push_back(&service);
  }

  void enqueue_waiting_dependents(Service& service) {
    for (Service* dependent : service.hard_dependents)
      if (dependent->state == ServiceState::waiting) enqueue_start(*dependent);
  }

  // A service with no process is wanted from now on: it takes a reference on each hard
  // dependency and gives one to each soft dependency, starting those that are stopped or
  // failed, transitively. Every service this wakes is queued for a start check in
  // post-order, dependencies before their dependents, so each is checked once.
  void activate(Service& root) {
    if (root.holding) {
      enqueue_start(root);
      return;
    }
    mark_active(root);
    struct Frame {
      Service* service;
      std::size_t next_edge;
    };
    std::vector<Frame> stack{{&root, 0}};
    while (!stack.empty()) {
      Service& service = *stack.back().service;
      std::size_t edge = stack.back().next_edge++;
      std::size_t hard = service.requires_.size();
      if (edge == hard + service.wants_.size()) {
        enqueue_start(service);
        stack.pop_back();
        continue;
      }
      bool is_hard = edge < hard;
      Service& dependency = is_hard ? *service.requires_[edge] : *service.wants_[edge - hard];
      if (is_hard) ++dependency.holders;
      if (take_interest(dependency, !is_hard)) stack.push_back({&dependency, 0});
    }
  }

  // `dependency` is now wanted by a dependent. Returns true when it must be activated.
  bool take_interest(Service& dependency, bool soft) {
    switch (dependency.state) {
      case ServiceState::stopped:
      case ServiceState::failed:
        if (!dormant(dependency)) return false;  // already activated, waiting in the queue
        if (soft) ++dependency.refcount;
        mark_active(dependency);
        return true;
      case ServiceState::stopping:
        // On its way out: it comes back once reaped.
        if (!dependency.restart_pending) {
          if (soft) ++dependency.refcount;
          revive(dependency);
        }
        return false;
      case ServiceState::waiting:
      case ServiceState::starting:
      case ServiceState::running:
      case ServiceState::backoff:
        return false;
    }
    return false;
  }

  // A service stopping for good is wanted again: it starts again once reaped, and so does
  // whatever it needs that is on its way out too (it still holds those).
  void revive(Service& root) {
    std::vector<Service*> walk{&root};
    while (!walk.empty()) {
      Service& service = *walk.back();
      walk.pop_back();
      if (service.state != ServiceState::stopping || service.restart_pending) continue;
      service.restart_pending = true;
      service.fail_after_stop = false;
      service.stop_reason.clear();
      for (Service* dependency : service.requires_) {
        if (dependency->state == ServiceState::stopping) {
          walk.push_back(dependency);
        } else if (dormant(*dependency)) {
          activate(*dependency);  // gone already: started again (the edge is still counted)
        }
      }
    }
  }

  // `dependency` of a wanted service must come up: started if stopped, revived if stopping.
  void ensure_interest(Service& dependency) {
    if (dependency.state == ServiceState::stopping) {
      revive(dependency);
    } else if (dormant(dependency)) {
      activate(dependency);
    }
  }

  void mark_active(Service& service) {
    service.holding = true;
    if (service.state == ServiceState::stopped || service.state == ServiceState::failed) {
      cancel_deadline(service);  // a pending re-arm: it is starting now anyway
      service.recent_restarts.clear();
      service.restarts = 0;
      service.backoff = service.spec.backoff_initial;
      service.fresh = true;
    }
  }

  // The service no longer holds its hard dependencies; those nobody wants any more stop.
  void deactivate(Service& service) {
    if (!service.holding) return;
    service.holding = false;
    for (Service* dependency : service.requires_) {
      if (dependency->holders > 0) --dependency->holders;
      if (!dependency->wanted()) release_queue.push_back(dependency);
    }
  }

  // Runs the work queued by dependency changes until there is none.
  void drain() {
    while (!release_queue.empty() || !start_queue.empty()) {
      if (!release_queue.empty()) {
        Service* service = release_queue.front();
        release_queue.pop_front();
        release_if_unwanted(*service);
        continue;
      }
      Service* service = start_queue.front();
      start_queue.pop_front();
      service->queued = false;
      check_start(*service);
    }
  }

  void check_start(Service& service) {
    if (!service.holding || service.pid || in_shutdown) return;
    switch (service.state) {
      case ServiceState::stopped:
      case ServiceState::failed:
      case ServiceState::waiting:
        try_start_now(service);
        return;
      case ServiceState::backoff:  // waits out its own delay
      case ServiceState::starting:
      case ServiceState::running:
      case ServiceState::stopping:
        return;
    }
  }

  // Spawns the service if every hard dependency runs; waits if one is on its way; fails if
  // one has failed or stopped for good.
  void try_start_now(Service& service) {
    Service* blocker = nullptr;
    for (Service* dependency : service.requires_) {
      if (dependency->state == ServiceState::running) continue;
      if (!dependency->holding && !rearm_pending(*dependency)) {
        fail_for_dependency(service, *dependency);
        return;
      }
      if (!blocker) blocker = dependency;
    }
    if (blocker) {
      service.waiting_for =
          fmt::format("dependency {} ({})", blocker->spec.name, to_string(blocker->state));
      if (service.state != ServiceState::waiting)
        set_state(service, ServiceState::waiting, "waiting for " + service.waiting_for);
      return;
    }
    service.waiting_for.clear();
    if (spawn(service)) {
      service.fresh = false;
      enqueue_waiting_dependents(service);
    } else {
      after_failure_to_run(service, service.last_error);
    }
  }

  void fail_for_dependency(Service& service, const Service& dependency) {
    std::string why =
        dependency.state == ServiceState::failed
            ? fmt::format("dependency {} failed: {}", dependency.spec.name, dependency.last_error)
            : fmt::format("dependency {} is stopped", dependency.spec.name);
    become_inactive(service, ServiceState::failed, why);
  }

  // A service that nothing wants any more (no reference, no holder) stops.
  void release_if_unwanted(Service& service) {
    if (service.wanted() || in_shutdown) return;
    switch (service.state) {
      case ServiceState::starting:
      case ServiceState::running:
        stop_group({&service}, "no longer needed by its dependents");
        return;
      case ServiceState::stopping:
        if (service.restart_pending) {
          service.restart_pending = false;
          fail_start_waiters(service, Outcome::start_failed, "no longer needed");
        }
        return;
      case ServiceState::waiting:
      case ServiceState::backoff:
        become_inactive(service, ServiceState::stopped, "no longer needed by its dependents");
        return;
      case ServiceState::stopped:
      case ServiceState::failed:
        deactivate(service);  // activated but never started
        return;
    }
  }

  // A service with no process leaves for good, stopped or failed: it answers who waited and
  // gives back what it held.
  void settle_inactive(Service& service, ServiceState final_state, const std::string& why) {
    cancel_deadline(service);
    service.restart_pending = false;
    service.fresh = false;
    service.waiting_for.clear();
    fail_start_waiters(service, Outcome::start_failed, why);
    service.refcount = 0;
    if (final_state == ServiceState::failed) service.last_error = why;
    if (service.state != final_state || final_state == ServiceState::failed)
      set_state(service, final_state, why);
    deactivate(service);
  }

  // ... and its hard dependents go with it. Returns their names.
  std::vector<std::string> become_inactive(Service& service, ServiceState final_state,
                                           const std::string& why) {
    settle_inactive(service, final_state, why);
    return take_down_dependents(service, final_state);
  }

  // Visits each hard dependent of `root` that holds it, transitively, once; `visit` returns
  // whether to go on through that dependent to its own dependents.
  template <class Visit>
  void for_each_holding_dependent(Service& root, Visit&& visit) {
    std::vector<Service*> walk{&root};
    root.visited = ++epoch;
    while (!walk.empty()) {
      Service& service = *walk.back();
      walk.pop_back();
      for (Service* dependent : service.hard_dependents) {
        if (dependent->visited == epoch || !dependent->holding) continue;
        dependent->visited = epoch;
        if (visit(*dependent)) walk.push_back(dependent);
      }
    }
  }

  // Every hard dependent of `root` that is wanted stops, transitively, dependents first: they
  // cannot run without it. They end stopped or failed as `root` did, and say why.
  std::vector<std::string> take_down_dependents(Service& root, ServiceState root_state) {
    std::string why = root_state == ServiceState::failed
                          ? fmt::format("dependency {} failed: {}", root.spec.name, root.last_error)
                          : fmt::format("dependency {} stopped", root.spec.name);
    bool failed = root_state == ServiceState::failed;
    std::vector<std::string> names;
    std::vector<Service*> to_stop;
    std::vector<Service*> without_process;
    for_each_holding_dependent(root, [&](Service& dependent) {
      names.push_back(dependent.spec.name);
      dependent.restart_pending = false;
      dependent.fail_after_stop = failed;
      dependent.stop_reason = why;
      fail_start_waiters(dependent, Outcome::start_failed, why);
      dependent.refcount = 0;
      (dependent.pid ? to_stop : without_process).push_back(&dependent);
      return true;
    });
    stop_group(to_stop, why);
    for (Service* service : without_process)
      settle_inactive(*service, failed ? ServiceState::failed : ServiceState::stopped, why);
    return names;
  }

  // The hard dependents of `root` restart after it (a group restart), transitively through
  // those that restart; those with restart_with_dependencies = false keep running, unless
  // `everyone` (the dependency is gone for a long while).
  void restart_dependents(Service& root, bool everyone) {
    std::vector<Service*> group;
    for_each_holding_dependent(root, [&](Service& dependent) {
      if (!everyone && !dependent.spec.restart_with_dependencies) return false;
      if (dependent.state == ServiceState::running || dependent.state == ServiceState::starting) {
        dependent.restart_pending = true;
        group.push_back(&dependent);
        return true;
      }
      // Restarting already, or stopping for good: as decided. Its dependents follow it.
      return dependent.state == ServiceState::stopping;
    });
    stop_group(group, fmt::format("restarting after its dependency {}", root.spec.name));
  }

  // Stops processes in reverse dependency order: every member is marked as leaving first,
  // then those with no leaving dependents get SIGTERM; the rest get it as their dependents
  // are reaped.
  void stop_group(const std::vector<Service*>& group, const std::string& why) {
    for (Service* service : group) {
      if (service->state == ServiceState::stopping) continue;
      cancel_deadline(*service);
      service->leaving = true;
      service->term_sent = false;
      for_each_dependency(*service, [](Service& d) { ++d.leaving_dependents; });
      set_state(*service, ServiceState::stopping, why);
    }
    for (Service* service : group) send_term_when_clear(*service);
  }

  void send_term_when_clear(Service& service) {
    if (service.state != ServiceState::stopping || !service.pid || service.term_sent ||
        service.leaving_dependents > 0)
      return;
    service.term_sent = true;
    spawner.signal_group(*service.pid, StopSignal::terminate);
    schedule(service, clock.now() + service.spec.stop_timeout);
  }

  // Its process is gone: the dependencies that waited for it may go now.
  void left(Service& service) {
    if (!service.leaving) return;
    service.leaving = false;
    service.term_sent = false;
    for_each_dependency(service, [&](Service& dependency) {
      if (dependency.leaving_dependents > 0) --dependency.leaving_dependents;
      send_term_when_clear(dependency);
    });
  }

  // ---- replies -----------------------------------------------------------------------------

  void answer(std::optional<RequestRef> to, const Service& service, Outcome outcome,
              std::string message = {}) {
    if (!to) return;
    notifier.reply({*to, outcome, service.spec.name, std::move(message), service.pid,
                    service.refcount + service.holders});
  }

  void add_start_waiter(Service& service, std::optional<RequestRef> to, Outcome on_success,
                        bool holds_reference) {
    if (holds_reference) ++service.refcount;
    if (!to && !holds_reference) return;
    // A reference taken by nobody in particular (default services) still needs its entry so
    // that a failed start gives it back.
    service.start_waiters.push_back({to.value_or(RequestRef{}), on_success, holds_reference});
    if (to)
      with_waiters.insert(&service);
    else
      service.start_waiters.back().to.client = no_client;
  }

  void add_stop_waiter(Service& service, std::optional<RequestRef> to) {
    if (!to) return;
    service.stop_waiters.push_back(*to);
    with_waiters.insert(&service);
  }

  void release_waiter_set(Service& service) {
    if (service.start_waiters.empty() && service.stop_waiters.empty()) with_waiters.erase(&service);
  }

  void answer_start_waiters(Service& service) {
    auto waiters = std::exchange(service.start_waiters, {});
    for (const auto& waiter : waiters) {
      if (waiter.to.client != no_client) answer(waiter.to, service, waiter.on_success);
    }
    release_waiter_set(service);
  }

  // Each waiter is told why; references the failed starts took are given back.
  void fail_start_waiters(Service& service, Outcome outcome, const std::string& why) {
    auto waiters = std::exchange(service.start_waiters, {});
    for (const auto& waiter : waiters) {
      if (waiter.holds_reference && service.refcount > 0) --service.refcount;
    }
    for (const auto& waiter : waiters) {
      if (waiter.to.client != no_client) answer(waiter.to, service, outcome, why);
    }
    release_waiter_set(service);
  }

  void answer_stop_waiters(Service& service) {
    auto waiters = std::exchange(service.stop_waiters, {});
    for (const auto& to : waiters) answer(to, service, Outcome::stopped, service.stop_note);
    service.stop_note.clear();
    release_waiter_set(service);
  }

  // ---- transitions -------------------------------------------------------------------------

  // Spawns the service's process. On success it is running and its waiters are answered; on
  // failure the caller decides between backoff and failed.
  bool spawn(Service& service) {
    set_state(service, ServiceState::starting);
    auto spawned = spawner.spawn(service.launch);
    if (!spawned) {
      service.last_error = spawned.error().message;
      return false;
    }
    service.pid = *spawned;
    by_pid.emplace(*spawned, &service);
    service.running_since = clock.now();
    service.last_error.clear();
    set_state(service, ServiceState::running, fmt::format("pid {}", *spawned));
    answer_start_waiters(service);
    return true;
  }

  // The service could not be spawned. A fresh start fails (and so do the dependents waiting
  // for it); an automatic restart of a wanted service counts as a crash and backs off.
  void after_failure_to_run(Service& service, const std::string& why) {
    if (service.fresh) {
      become_inactive(service, ServiceState::failed, why);
      return;
    }
    fail_start_waiters(service, Outcome::start_failed, why);
    if (!service.wanted()) {
      become_inactive(service, ServiceState::failed, why);
      return;
    }
    schedule_restart(service, why);
  }

  void schedule_restart(Service& service, const std::string& why) {
    Milliseconds delay = jittered(service.backoff, service.spec);
    service.backoff = std::min(service.backoff * 2, service.spec.backoff_max);
    if (service.spec.max_restarts) service.recent_restarts.push_back(clock.now());
    schedule(service, clock.now() + delay);
    set_state(service, ServiceState::backoff,
              fmt::format("{}; restarting in {} ms", why, delay.count()));
  }

  // The delay moved by up to ± backoff_jitter of itself, never beyond backoff_max.
  Milliseconds jittered(Milliseconds delay, const ServiceSpec& spec) {
    if (spec.backoff_jitter <= 0.0) return delay;
    double factor = 1.0 + spec.backoff_jitter * (2.0 * random.unit() - 1.0);
    auto moved = Milliseconds(std::llround(static_cast<double>(delay.count()) * factor));
    return std::clamp(moved, Milliseconds(0), spec.backoff_max);
  }

  // Restart intensity: would one more automatic restart exceed max_restarts in the window?
  bool intensity_exceeded(Service& service, TimePoint now) {
    if (!service.spec.max_restarts) return false;
    auto& recent = service.recent_restarts;
    auto first_within = std::ranges::find_if(
        recent, [&](TimePoint at) { return now - at < service.spec.restart_window; });
    recent.erase(recent.begin(), first_within);
    return recent.size() >= *service.spec.max_restarts;
  }

  // Gives up on a crash-looping service; it may be re-armed later. Its hard dependents stop:
  // with a re-arm pending they wait for it, otherwise they fail too.
  void give_up(Service& service, const std::string& why) {
    service.references_before_failure = service.refcount;
    service.refcount = 0;
    service.last_error =
        fmt::format("{}; restarted {} times within {} ms, not restarting", why,
                    service.recent_restarts.size(), service.spec.restart_window.count());
    std::string detail = service.last_error;
    if (service.spec.retry_failed_after) {
      schedule(service, clock.now() + *service.spec.retry_failed_after);
      detail += fmt::format("; trying again in {} ms", service.spec.retry_failed_after->count());
    }
    set_state(service, ServiceState::failed, detail);
    deactivate(service);
    if (service.spec.retry_failed_after) {
      restart_dependents(service, true);
    } else {
      take_down_dependents(service, ServiceState::failed);
    }
  }

  // A start of a service that is stopped or failed: a new run, with a fresh restart count and
  // backoff, its dependencies started first.
  void start_fresh(Service& service, std::optional<RequestRef> from, Outcome on_success) {
    add_start_waiter(service, from, on_success, true);
    activate(service);
  }

  // An explicit start (or restart) of a service in backoff: try now.
  void start_now(Service& service, std::optional<RequestRef> from, Outcome on_success,
                 bool takes_reference) {
    cancel_deadline(service);
    add_start_waiter(service, from, on_success, takes_reference);
    try_start_now(service);
  }

  // A running service stops and starts again, its dependents after it.
  void group_restart(Service& service, const std::string& why) {
    service.restart_pending = true;
    restart_dependents(service, false);
    stop_group({&service}, why);
  }

  // Restarts a running service, its dependents after it; cuts a backoff short.
  void restart_with_fresh_backoff(Service& service, std::string why) {
    service.backoff = service.spec.backoff_initial;
    switch (service.state) {
      case ServiceState::running:
        group_restart(service, why);
        return;
      case ServiceState::backoff:
        // The change may well be the fix for the crash it is waiting out: try now.
        start_now(service, std::nullopt, Outcome::restarted, false);
        return;
      case ServiceState::stopping:  // it restarts (or not) as already decided, with the change
      case ServiceState::starting:  // not observable: spawning is synchronous
      case ServiceState::waiting:   // it starts with the change once its dependencies run
      case ServiceState::stopped:
      case ServiceState::failed:
        return;
    }
  }

  // Dependents whose stop waits for `service`, for status.
  std::string leaving_dependents_of(const Service& service) const {
    std::string names;
    auto add = [&](const std::vector<Service*>& dependents) {
      for (const Service* dependent : dependents) {
        if (!dependent->leaving) continue;
        if (!names.empty()) names += ", ";
        names += dependent->spec.name;
      }
    };
    add(service.hard_dependents);
    add(service.soft_dependents);
    return names.empty() ? names : "dependents " + names;
  }

  void finish_shutdown_if_done() {
    if (!in_shutdown || !by_pid.empty()) return;
    auto waiters = std::exchange(shutdown_waiters, {});
    for (const auto& to : waiters) {
      notifier.reply({to, Outcome::shutdown_complete, {}, "every service is stopped", {}, 0});
    }
  }

  static constexpr ClientId no_client = ~ClientId{0};
};

ServiceSupervisor::ServiceSupervisor(Config config, Clock& clock, Spawner& spawner,
                                     Notifier& notifier, FileWatcher* watcher, Random* random)
    : impl_(std::make_unique<Impl>(std::move(config), clock, spawner, notifier, watcher, random)) {}

ServiceSupervisor::~ServiceSupervisor() = default;

void ServiceSupervisor::start_default_services() {
  for (const auto& name : impl_->arm.default_services) start(std::nullopt, name);
}

void ServiceSupervisor::start(std::optional<RequestRef> from, std::string_view name) {
  Impl& m = *impl_;
  Service* service = m.find_or_answer(from, name);
  if (!service || m.refused_in_shutdown(from, *service)) return;
  switch (service->state) {
    case ServiceState::stopped:
    case ServiceState::failed:
      m.start_fresh(*service, from, Outcome::started);
      break;
    case ServiceState::waiting:
      // Answered once its dependencies run and it does.
      m.add_start_waiter(*service, from, Outcome::started, true);
      break;
    case ServiceState::starting:
    case ServiceState::running:
      ++service->refcount;
      m.answer(from, *service, Outcome::already_running);
      break;
    case ServiceState::stopping:
      // The old process is still on its way out; a new one follows once it is reaped.
      service->restart_pending = true;
      service->fail_after_stop = false;
      m.add_start_waiter(*service, from, Outcome::started, true);
      break;
    case ServiceState::backoff:
      // Someone wants it now: no reason to wait out the backoff.
      m.start_now(*service, from, Outcome::started, true);
      break;
  }
  m.drain();
}

void ServiceSupervisor::stop(std::optional<RequestRef> from, std::string_view name) {
  Impl& m = *impl_;
  Service* service = m.find_or_answer(from, name);
  if (!service) return;
  if (service->refcount > 1) {
    --service->refcount;
    m.answer(from, *service, Outcome::still_referenced,
             fmt::format("still held by {} other reference(s)", service->refcount));
    return;
  }
  // The last reference: the service stops, and its hard dependents with it (first).
  auto also = [](const std::vector<std::string>& names) {
    return names.empty() ? std::string{}
                         : fmt::format("also stopped its dependents: {}", fmt::join(names, ", "));
  };
  switch (service->state) {
    case ServiceState::stopped:
      m.answer(from, *service, Outcome::not_running, "not running");
      break;
    case ServiceState::failed: {
      m.cancel_deadline(*service);  // a pending re-arm
      m.set_state(*service, ServiceState::stopped, "failure acknowledged by stop");
      m.take_down_dependents(*service, ServiceState::stopped);
      m.answer(from, *service, Outcome::not_running,
               "not running (was failed: " + service->last_error + ")");
      break;
    }
    case ServiceState::starting:
    case ServiceState::running: {
      service->refcount = 0;
      m.add_stop_waiter(*service, from);
      service->stop_note = also(m.take_down_dependents(*service, ServiceState::stopped));
      m.stop_group({service}, "stop requested");
      break;
    }
    case ServiceState::stopping:
      service->refcount = 0;
      service->restart_pending = false;
      m.fail_start_waiters(*service, Outcome::start_failed, "stopped before it could start");
      m.take_down_dependents(*service, ServiceState::stopped);
      m.add_stop_waiter(*service, from);
      break;
    case ServiceState::waiting:
    case ServiceState::backoff: {
      auto names = m.become_inactive(*service, ServiceState::stopped, "stop requested");
      m.answer(from, *service, Outcome::stopped, also(names));
      break;
    }
  }
  m.drain();
}

void ServiceSupervisor::restart(std::optional<RequestRef> from, std::string_view name) {
  Impl& m = *impl_;
  Service* service = m.find_or_answer(from, name);
  if (!service || m.refused_in_shutdown(from, *service)) return;
  switch (service->state) {
    case ServiceState::stopped:
    case ServiceState::failed:
      // Like systemd: restarting a service that is not running starts it.
      m.start_fresh(*service, from, Outcome::started);
      break;
    case ServiceState::waiting:
      m.add_start_waiter(*service, from, Outcome::restarted, false);
      break;
    case ServiceState::starting:
    case ServiceState::running:
      m.add_start_waiter(*service, from, Outcome::restarted, false);
      m.group_restart(*service, "restart requested");
      break;
    case ServiceState::stopping:
      service->restart_pending = true;
      service->fail_after_stop = false;
      m.add_start_waiter(*service, from, Outcome::restarted, !service->wanted());
      break;
    case ServiceState::backoff:
      m.start_now(*service, from, Outcome::restarted, false);
      break;
  }
  m.drain();
}

void ServiceSupervisor::shutdown(std::optional<RequestRef> from) {
  Impl& m = *impl_;
  if (from) m.shutdown_waiters.push_back(*from);
  if (!m.in_shutdown) {
    m.in_shutdown = true;
    m.start_queue.clear();
    m.release_queue.clear();
    std::vector<Service*> running;
    for (auto& [name, owned] : m.services) {
      Service& service = *owned;
      service.queued = false;
      service.restart_pending = false;
      m.fail_start_waiters(service, Outcome::shutting_down, "armd is shutting down");
      service.refcount = 0;
      switch (service.state) {
        case ServiceState::starting:
        case ServiceState::running:
          running.push_back(&service);
          break;
        case ServiceState::waiting:
        case ServiceState::backoff:
          m.cancel_deadline(service);
          service.waiting_for.clear();
          m.set_state(service, ServiceState::stopped, "shutdown");
          break;
        case ServiceState::failed:
          m.cancel_deadline(service);  // a pending re-arm
          break;
        case ServiceState::stopping:
        case ServiceState::stopped:
          break;
      }
      if (!service.pid) service.holding = false;
    }
    // Dependents first: each service gets SIGTERM once everything that depends on it is gone.
    m.stop_group(running, "shutdown");
    m.recount();  // the holds dropped above, without the releases they would set off
  }
  m.finish_shutdown_if_done();
}

void ServiceSupervisor::reset(std::optional<RequestRef> from, std::string_view name) {
  Impl& m = *impl_;
  Service* service = m.find_or_answer(from, name);
  if (!service) return;
  service->recent_restarts.clear();
  service->backoff = service->spec.backoff_initial;
  service->references_before_failure = 0;
  if (service->state == ServiceState::failed) {
    m.cancel_deadline(*service);
    service->last_error.clear();
    m.set_state(*service, ServiceState::stopped, "reset");
    // Dependents waiting for a re-arm that will not come now.
    m.take_down_dependents(*service, ServiceState::stopped);
  }
  m.answer(from, *service, Outcome::reset, "restart history cleared");
  m.drain();
}

ReloadSummary ServiceSupervisor::reload(Config next) {
  Impl& m = *impl_;
  ReloadSummary summary;
  if (m.in_shutdown) return summary;

  std::vector<Service*> gone;
  for (auto& [name, owned] : m.services) {
    if (!next.services.contains(name) && !owned->removed) gone.push_back(owned.get());
  }
  // Their edges may point at services forgotten in the loop below: cut them all first, and let
  // rebuild_graph() recount holders and leaving dependents from the new configuration.
  for (Service* service : gone) {
    service->holding = false;
    service->requires_.clear();
    service->wants_.clear();
  }
  for (Service* service : gone) {
    summary.removed.push_back(service->spec.name);
    service->refcount = 0;
    service->restart_pending = false;
    m.fail_start_waiters(*service, Outcome::start_failed, "removed from the configuration");
    switch (service->state) {
      case ServiceState::starting:
      case ServiceState::running:
        service->removed = true;
        m.stop_group({service}, "removed from the configuration");
        break;
      case ServiceState::stopping:
        service->removed = true;
        break;
      case ServiceState::waiting:
      case ServiceState::backoff:
      case ServiceState::stopped:
      case ServiceState::failed:
        m.forget(*service);
        break;
    }
  }

  std::set<std::string> old_defaults(m.arm.default_services.begin(), m.arm.default_services.end());
  // Soft edges give a reference once, when they appear: remember the old ones.
  std::map<std::string, std::vector<std::string>> old_wants;
  for (auto& [name, service] : m.services) old_wants[name] = service->spec.wants;

  m.arm = std::move(next.arm);
  std::vector<Service*> launch_changed_running;
  for (const auto& [name, spec] : next.services) {
    Service* service = m.find(name);
    if (!service || service->removed) {
      if (service) {  // same name, removed earlier and still stopping: replace it when gone
        summary.updated.push_back(name);
        service->removed = false;
        m.unwatch_config_file(*service);
        service->spec = spec;
        service->launch = make_launch(spec, m.arm);
        m.watch_config_file(*service);
        continue;
      }
      m.add_service(spec);
      summary.added.push_back(name);
      continue;
    }
    SpawnRequest launch = make_launch(spec, m.arm);
    bool launch_changed = !same_launch(launch, service->launch);
    if (!launch_changed && spec == service->spec) continue;
    m.unwatch_config_file(*service);
    service->spec = spec;
    service->launch = std::move(launch);
    m.watch_config_file(*service);
    service->backoff = std::min(service->backoff, spec.backoff_max);
    // A re-arm pending under the old settings goes when the new ones have none.
    if (service->state == ServiceState::failed && !spec.retry_failed_after)
      m.cancel_deadline(*service);
    if (launch_changed && service->state == ServiceState::running) {
      summary.restarted.push_back(name);
      launch_changed_running.push_back(service);
    } else {
      summary.updated.push_back(name);
    }
  }

  // New edges: what a wanted service now depends on is started; what no one holds any more
  // stops. Then changed services restart, their dependents after them.
  m.rebuild_graph();
  for (auto& [name, owned] : m.services) {
    Service& service = *owned;
    if (!service.holding) continue;
    for (Service* dependency : service.requires_) m.ensure_interest(*dependency);
    auto previous = old_wants.find(name);
    for (Service* wanted : service.wants_) {
      bool is_new =
          previous == old_wants.end() ||
          std::ranges::find(previous->second, wanted->spec.name) == previous->second.end();
      if (is_new && Impl::dormant(*wanted)) {
        ++wanted->refcount;
        m.activate(*wanted);
      }
    }
  }
  m.recount();  // activation counted the holders of the new edges again
  for (auto& [name, owned] : m.services) {
    m.send_term_when_clear(*owned);  // a stop that waited for a dependent it no longer has
    if (owned->state == ServiceState::waiting) m.enqueue_start(*owned);
    if (owned->holding && !owned->wanted()) m.release_queue.push_back(owned.get());
  }
  for (Service* service : launch_changed_running)
    m.restart_with_fresh_backoff(*service, "configuration reloaded");
  m.drain();
  // A running service that gained a hard dependency which is not up (yet) stops and waits for
  // it, as after a crash of that dependency: order holds.
  for (auto& [name, owned] : m.services) {
    Service& service = *owned;
    if (service.state != ServiceState::running || !service.spec.restart_with_dependencies) continue;
    bool dependency_down = std::ranges::any_of(
        service.requires_, [](const Service* d) { return d->state != ServiceState::running; });
    if (dependency_down) m.restart_with_fresh_backoff(service, "a new dependency is not running");
  }
  m.drain();
  for (const auto& name : m.arm.default_services) {
    if (!old_defaults.contains(name)) start(std::nullopt, name);
  }
  return summary;
}

void ServiceSupervisor::client_gone(ClientId client) {
  Impl& m = *impl_;
  std::erase_if(m.shutdown_waiters, [&](const RequestRef& r) { return r.client == client; });
  std::vector<Service*> touched(m.with_waiters.begin(), m.with_waiters.end());
  for (Service* service : touched) {
    // Its references stay (as in the original ARM); only the answers are no longer wanted.
    for (auto& waiter : service->start_waiters) {
      if (waiter.to.client == client) waiter.to.client = Impl::no_client;
    }
    std::erase_if(service->stop_waiters, [&](const RequestRef& r) { return r.client == client; });
  }
}

std::optional<ServiceStatus> ServiceSupervisor::status(std::string_view name) const {
  const Service* service = impl_->find(name);
  if (!service) return std::nullopt;
  ServiceStatus status;
  status.name = service->spec.name;
  status.state = service->state;
  status.pid = service->pid;
  status.restarts = service->restarts;
  status.refcount = service->refcount + service->holders;
  status.last_exit = service->last_exit;
  status.last_exit_at = service->last_exit_at;
  if (service->pid) status.running_since = service->running_since;
  if (service->state == ServiceState::backoff || service->state == ServiceState::failed)
    status.next_restart_at = service->deadline;
  status.next_backoff = service->backoff;
  status.last_error = service->last_error;
  status.depends_on = service->spec.depends_on;
  status.wants = service->spec.wants;
  if (service->state == ServiceState::waiting) status.waiting_for = service->waiting_for;
  if (service->state == ServiceState::stopping && !service->term_sent)
    status.waiting_for = impl_->leaving_dependents_of(*service);
  return status;
}

std::vector<ServiceStatus> ServiceSupervisor::status() const {
  std::vector<ServiceStatus> all;
  all.reserve(impl_->services.size());
  for (const auto& [name, service] : impl_->services) all.push_back(*status(name));
  return all;
}

Config ServiceSupervisor::config() const {
  Config config;
  config.arm = impl_->arm;
  for (const auto& [name, service] : impl_->services)
    if (!service->removed) config.services.emplace(name, service->spec);
  return config;
}
const ArmSettings& ServiceSupervisor::settings() const {
  return impl_->arm;
}
std::size_t ServiceSupervisor::service_count() const {
  return static_cast<std::size_t>(std::ranges::count_if(
      impl_->services, [](const auto& entry) { return !entry.second->removed; }));
}
bool ServiceSupervisor::shutting_down() const {
  return impl_->in_shutdown;
}
bool ServiceSupervisor::finished() const {
  return impl_->in_shutdown && impl_->by_pid.empty();
}

bool ServiceSupervisor::on_child_exit(ProcessId pid, ExitStatus exit) {
  Impl& m = *impl_;
  auto found = m.by_pid.find(pid);
  if (found == m.by_pid.end()) return false;
  Service& service = *found->second;
  m.by_pid.erase(found);
  TimePoint now = m.clock.now();
  service.pid.reset();
  service.last_exit = exit;
  service.last_exit_at = now;
  m.cancel_deadline(service);
  std::string what = describe(exit);

  switch (service.state) {
    case ServiceState::starting:
    case ServiceState::running: {
      bool was_healthy =
          service.running_since && now - *service.running_since >= service.spec.backoff_reset_after;
      if (was_healthy) service.backoff = service.spec.backoff_initial;
      ExitClass exit_class = classify(service.spec, exit);
      std::string why = "exited unexpectedly with " + what;
      if (!m.in_shutdown && restart_wanted(service.spec.restart, exit_class)) {
        if (m.intensity_exceeded(service, now)) {
          m.give_up(service, why);
        } else {
          service.last_error = why;  // so status can say why it is backing off
          m.schedule_restart(service, why);
          m.restart_dependents(service, false);
        }
      } else {
        bool clean = exit_class == ExitClass::clean;
        std::string error = clean ? std::string{} : "exited with " + what;
        if (exit_class == ExitClass::permanent_failure) error += " (a permanent failure exit code)";
        service.refcount = 0;
        service.last_error = error;
        m.set_state(service, clean ? ServiceState::stopped : ServiceState::failed,
                    "exited with " + what + "; not restarting");
        m.deactivate(service);
        m.take_down_dependents(service, service.state);
      }
      break;
    }
    case ServiceState::stopping:
      m.left(service);
      m.answer_stop_waiters(service);
      if (service.removed) {
        m.set_state(service, ServiceState::stopped, "exited with " + what);
        m.forget(service);
      } else if (service.restart_pending && !m.in_shutdown) {
        service.restart_pending = false;
        m.try_start_now(service);
      } else {
        ServiceState final_state =
            service.fail_after_stop ? ServiceState::failed : ServiceState::stopped;
        service.fail_after_stop = false;
        service.refcount = 0;
        if (final_state == ServiceState::failed) service.last_error = service.stop_reason;
        m.fail_start_waiters(service, Outcome::start_failed, "stopped before it could start");
        m.set_state(service, final_state,
                    service.stop_reason.empty()
                        ? "exited with " + what
                        : fmt::format("exited with {}; {}", what, service.stop_reason));
        service.stop_reason.clear();
        m.deactivate(service);
        if (!m.in_shutdown) m.take_down_dependents(service, final_state);
      }
      break;
    case ServiceState::stopped:
    case ServiceState::waiting:
    case ServiceState::backoff:
    case ServiceState::failed:
      break;  // no process in these states: cannot happen
  }
  m.drain();
  m.finish_shutdown_if_done();
  return true;
}

void ServiceSupervisor::on_file_changed(std::string_view path) {
  Impl& m = *impl_;
  if (m.in_shutdown) return;
  auto it = m.by_config_file.find(std::string(path));
  if (it == m.by_config_file.end()) return;
  std::vector<Service*> affected = it->second;
  for (Service* service : affected) {
    m.restart_with_fresh_backoff(*service, fmt::format("configuration file {} changed", path));
  }
  m.drain();
}

void ServiceSupervisor::on_timer() {
  Impl& m = *impl_;
  TimePoint now = m.clock.now();
  while (!m.deadlines.empty() && std::get<0>(*m.deadlines.begin()) <= now) {
    Service& service = *std::get<2>(*m.deadlines.begin());
    m.deadlines.erase(m.deadlines.begin());
    service.deadline.reset();
    switch (service.state) {
      case ServiceState::backoff:
        ++service.restarts;
        m.try_start_now(service);
        break;
      case ServiceState::stopping:
        m.spawner.signal_group(*service.pid, StopSignal::kill);
        m.set_state(service, ServiceState::stopping,
                    fmt::format("still running {} ms after SIGTERM; sent SIGKILL",
                                service.spec.stop_timeout.count()));
        break;
      case ServiceState::failed: {  // a re-arm after the intensity limit tripped
        service.refcount = service.references_before_failure;
        if (!service.wanted()) service.refcount = 1;
        unsigned restarts = service.restarts + 1;
        m.activate(service);
        service.restarts = restarts;
        service.fresh = false;  // a spawn error now is one more crash, not the end
        break;
      }
      case ServiceState::stopped:
      case ServiceState::waiting:
      case ServiceState::starting:
      case ServiceState::running:
        break;  // deadlines are cancelled on leaving backoff, stopping and failed
    }
    m.drain();
  }
}

std::optional<TimePoint> ServiceSupervisor::next_deadline() const {
  if (impl_->deadlines.empty()) return std::nullopt;
  return std::get<0>(*impl_->deadlines.begin());
}

}  // namespace arm
