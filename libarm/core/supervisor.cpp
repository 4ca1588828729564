// The supervisor's state machine. The lifecycle and the table of (state, input) decisions are
// in include/arm/supervisor.hpp; each public entry point below has one `switch` over the state
// so that every cell of that table is visible here too.
#include "arm/supervisor.hpp"

#include <fmt/format.h>

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
  unsigned refcount = 0;
  std::optional<ProcessId> pid;
  bool restart_pending = false;  // spawn again as soon as the current process is reaped
  bool removed = false;          // dropped by reload: forget it once its process is reaped
  Milliseconds backoff{0};       // the delay the next crash will wait
  unsigned restarts = 0;
  std::optional<ExitStatus> last_exit;
  std::optional<TimePoint> last_exit_at;
  std::optional<TimePoint> running_since;
  // Restart due (backoff), SIGKILL due (stopping) or re-arm due (failed).
  std::optional<TimePoint> deadline;
  std::deque<TimePoint> recent_restarts;   // automatic restarts within restart_window
  unsigned references_before_failure = 0;  // given back when a re-arm restarts it
  std::string last_error;
  std::vector<StartWaiter> start_waiters;
  std::vector<RequestRef> stop_waiters;
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
      : config(std::move(initial)),
        clock(c),
        spawner(s),
        notifier(n),
        watcher(w),
        random(r ? *r : own_random) {
    for (const auto& [name, spec] : config.services) add_service(spec);
  }

  Config config;
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
  bool in_shutdown = false;

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
    service->launch = make_launch(spec, config.arm);
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

  // ---- replies -----------------------------------------------------------------------------

  void answer(std::optional<RequestRef> to, const Service& service, Outcome outcome,
              std::string message = {}) {
    if (!to) return;
    notifier.reply(
        {*to, outcome, service.spec.name, std::move(message), service.pid, service.refcount});
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
    for (const auto& to : waiters) answer(to, service, Outcome::stopped);
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

  // For a service that is wanted (refcount > 0) but just failed to run: its waiters learn
  // why, and it retries after the backoff, unless no reference is left.
  void after_failure_to_run(Service& service, const std::string& why) {
    fail_start_waiters(service, Outcome::start_failed, why);
    if (service.refcount == 0) {
      set_state(service, ServiceState::failed, why);
      return;
    }
    schedule_restart(service, why);
  }

  void schedule_restart(Service& service, const std::string& why) {
    Milliseconds delay = jittered(service.backoff, service.spec);
    service.backoff = std::min(service.backoff * 2, service.spec.backoff_max);
    service.recent_restarts.push_back(clock.now());
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
    while (!recent.empty() && now - recent.front() >= service.spec.restart_window)
      recent.pop_front();
    return recent.size() >= *service.spec.max_restarts;
  }

  // Gives up on a crash-looping service; it may be re-armed later.
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
  }

  // A start of a service that is stopped or failed: a new run, with a fresh restart count and
  // backoff.
  void start_fresh(Service& service, std::optional<RequestRef> from) {
    service.recent_restarts.clear();
    service.restarts = 0;
    service.backoff = service.spec.backoff_initial;
    start_now(service, from, Outcome::started, true);
  }

  // An explicit start (or restart) of a service with no process: spawn it now.
  void start_now(Service& service, std::optional<RequestRef> from, Outcome on_success,
                 bool takes_reference) {
    cancel_deadline(service);
    add_start_waiter(service, from, on_success, takes_reference);
    if (!spawn(service)) after_failure_to_run(service, service.last_error);
  }

  void begin_stop(Service& service, std::string why) {
    cancel_deadline(service);
    spawner.signal_group(*service.pid, StopSignal::terminate);
    schedule(service, clock.now() + service.spec.stop_timeout);
    set_state(service, ServiceState::stopping, std::move(why));
  }

  void restart_with_fresh_backoff(Service& service, std::string why) {
    service.backoff = service.spec.backoff_initial;
    switch (service.state) {
      case ServiceState::running:
        service.restart_pending = true;
        begin_stop(service, std::move(why));
        return;
      case ServiceState::backoff:
        // The change may well be the fix for the crash it is waiting out: try now.
        start_now(service, std::nullopt, Outcome::restarted, false);
        return;
      case ServiceState::stopping:  // it restarts (or not) as already decided, with the change
      case ServiceState::starting:  // not observable: spawning is synchronous
      case ServiceState::stopped:
      case ServiceState::failed:
        return;
    }
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
  for (const auto& name : impl_->config.arm.default_services) start(std::nullopt, name);
}

void ServiceSupervisor::start(std::optional<RequestRef> from, std::string_view name) {
  Impl& m = *impl_;
  Service* service = m.find_or_answer(from, name);
  if (!service || m.refused_in_shutdown(from, *service)) return;
  switch (service->state) {
    case ServiceState::stopped:
    case ServiceState::failed:
      m.start_fresh(*service, from);
      return;
    case ServiceState::starting:
    case ServiceState::running:
      ++service->refcount;
      m.answer(from, *service, Outcome::already_running);
      return;
    case ServiceState::stopping:
      // The old process is still on its way out; a new one follows once it is reaped.
      service->restart_pending = true;
      m.add_start_waiter(*service, from, Outcome::started, true);
      return;
    case ServiceState::backoff:
      // Someone wants it now: no reason to wait out the backoff.
      m.start_now(*service, from, Outcome::started, true);
      return;
  }
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
  switch (service->state) {
    case ServiceState::stopped:
      m.answer(from, *service, Outcome::not_running, "not running");
      return;
    case ServiceState::failed:
      m.cancel_deadline(*service);  // a pending re-arm
      m.set_state(*service, ServiceState::stopped, "failure acknowledged by stop");
      m.answer(from, *service, Outcome::not_running,
               "not running (was failed: " + service->last_error + ")");
      return;
    case ServiceState::starting:
    case ServiceState::running:
      service->refcount = 0;
      m.add_stop_waiter(*service, from);
      m.begin_stop(*service, "stop requested");
      return;
    case ServiceState::stopping:
      if (service->refcount == 1) {
        service->refcount = 0;
        service->restart_pending = false;
        m.fail_start_waiters(*service, Outcome::start_failed, "stopped before it could start");
      }
      m.add_stop_waiter(*service, from);
      return;
    case ServiceState::backoff:
      service->refcount = 0;
      m.cancel_deadline(*service);
      m.set_state(*service, ServiceState::stopped, "stop requested during backoff");
      m.answer(from, *service, Outcome::stopped);
      return;
  }
}

void ServiceSupervisor::restart(std::optional<RequestRef> from, std::string_view name) {
  Impl& m = *impl_;
  Service* service = m.find_or_answer(from, name);
  if (!service || m.refused_in_shutdown(from, *service)) return;
  switch (service->state) {
    case ServiceState::stopped:
    case ServiceState::failed:
      // Like systemd: restarting a service that is not running starts it.
      m.start_fresh(*service, from);
      return;
    case ServiceState::starting:
    case ServiceState::running:
      service->restart_pending = true;
      m.add_start_waiter(*service, from, Outcome::restarted, false);
      m.begin_stop(*service, "restart requested");
      return;
    case ServiceState::stopping:
      service->restart_pending = true;
      m.add_start_waiter(*service, from, Outcome::restarted, service->refcount == 0);
      return;
    case ServiceState::backoff:
      m.start_now(*service, from, Outcome::restarted, false);
      return;
  }
}

void ServiceSupervisor::shutdown(std::optional<RequestRef> from) {
  Impl& m = *impl_;
  if (from) m.shutdown_waiters.push_back(*from);
  if (!m.in_shutdown) {
    m.in_shutdown = true;
    for (auto& [name, owned] : m.services) {
      Service& service = *owned;
      service.restart_pending = false;
      m.fail_start_waiters(service, Outcome::shutting_down, "armd is shutting down");
      service.refcount = 0;
      switch (service.state) {
        case ServiceState::starting:
        case ServiceState::running:
          m.begin_stop(service, "shutdown");
          break;
        case ServiceState::backoff:
          m.cancel_deadline(service);
          m.set_state(service, ServiceState::stopped, "shutdown");
          break;
        case ServiceState::failed:
          m.cancel_deadline(service);  // a pending re-arm
          break;
        case ServiceState::stopping:
        case ServiceState::stopped:
          break;
      }
    }
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
  }
  m.answer(from, *service, Outcome::reset, "restart history cleared");
}

ReloadSummary ServiceSupervisor::reload(Config next) {
  Impl& m = *impl_;
  ReloadSummary summary;
  if (m.in_shutdown) return summary;

  std::vector<Service*> gone;
  for (auto& [name, owned] : m.services) {
    if (!next.services.contains(name) && !owned->removed) gone.push_back(owned.get());
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
        m.begin_stop(*service, "removed from the configuration");
        break;
      case ServiceState::stopping:
        service->removed = true;
        break;
      case ServiceState::backoff:
      case ServiceState::stopped:
      case ServiceState::failed:
        m.forget(*service);
        break;
    }
  }

  std::set<std::string> old_defaults(m.config.arm.default_services.begin(),
                                     m.config.arm.default_services.end());
  m.config = std::move(next);
  for (const auto& [name, spec] : m.config.services) {
    Service* service = m.find(name);
    if (!service || service->removed) {
      if (service) {  // same name, removed earlier and still stopping: replace it when gone
        summary.updated.push_back(name);
        service->removed = false;
        m.unwatch_config_file(*service);
        service->spec = spec;
        service->launch = make_launch(spec, m.config.arm);
        m.watch_config_file(*service);
        continue;
      }
      m.add_service(spec);
      summary.added.push_back(name);
      continue;
    }
    SpawnRequest launch = make_launch(spec, m.config.arm);
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
      m.restart_with_fresh_backoff(*service, "configuration reloaded");
    } else {
      summary.updated.push_back(name);
    }
  }
  for (const auto& name : m.config.arm.default_services) {
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
  status.refcount = service->refcount;
  status.last_exit = service->last_exit;
  status.last_exit_at = service->last_exit_at;
  if (service->pid) status.running_since = service->running_since;
  if (service->state == ServiceState::backoff || service->state == ServiceState::failed)
    status.next_restart_at = service->deadline;
  status.next_backoff = service->backoff;
  status.last_error = service->last_error;
  return status;
}

std::vector<ServiceStatus> ServiceSupervisor::status() const {
  std::vector<ServiceStatus> all;
  all.reserve(impl_->services.size());
  for (const auto& [name, service] : impl_->services) all.push_back(*status(name));
  return all;
}

const Config& ServiceSupervisor::config() const {
  return impl_->config;
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
          m.schedule_restart(service, why);
        }
      } else {
        service.refcount = 0;
        bool clean = exit_class == ExitClass::clean;
        service.last_error = clean ? std::string{} : "exited with " + what;
        if (exit_class == ExitClass::permanent_failure)
          service.last_error += " (a permanent failure exit code)";
        m.set_state(service, clean ? ServiceState::stopped : ServiceState::failed,
                    "exited with " + what + "; not restarting");
      }
      break;
    }
    case ServiceState::stopping:
      m.answer_stop_waiters(service);
      if (service.removed) {
        m.set_state(service, ServiceState::stopped, "exited with " + what);
        m.forget(service);
      } else if (service.restart_pending && !m.in_shutdown) {
        service.restart_pending = false;
        if (!m.spawn(service)) m.after_failure_to_run(service, service.last_error);
      } else {
        m.set_state(service, ServiceState::stopped, "exited with " + what);
      }
      break;
    case ServiceState::stopped:
    case ServiceState::backoff:
    case ServiceState::failed:
      break;  // no process in these states: cannot happen
  }
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
        if (!m.spawn(service)) m.after_failure_to_run(service, service.last_error);
        break;
      case ServiceState::stopping:
        m.spawner.signal_group(*service.pid, StopSignal::kill);
        m.set_state(service, ServiceState::stopping,
                    fmt::format("still running {} ms after SIGTERM; sent SIGKILL",
                                service.spec.stop_timeout.count()));
        break;
      case ServiceState::failed:  // a re-arm after the intensity limit tripped
        service.refcount = std::max(1U, service.references_before_failure);
        service.recent_restarts.clear();
        service.backoff = service.spec.backoff_initial;
        ++service.restarts;
        if (!m.spawn(service)) m.after_failure_to_run(service, service.last_error);
        break;
      case ServiceState::stopped:
      case ServiceState::starting:
      case ServiceState::running:
        break;  // deadlines are cancelled on leaving backoff, stopping and failed
    }
  }
}

std::optional<TimePoint> ServiceSupervisor::next_deadline() const {
  if (impl_->deadlines.empty()) return std::nullopt;
  return std::get<0>(*impl_->deadlines.begin());
}

}  // namespace arm
