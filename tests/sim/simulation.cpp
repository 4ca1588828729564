#include "simulation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

#include "arm/testing.hpp"
#include "ledger.hpp"

namespace arm::sim {

namespace {

using namespace std::chrono_literals;
using Random = std::mt19937_64;

std::uint32_t below(Random& random, std::uint32_t bound) {
  return static_cast<std::uint32_t>(random() % bound);
}

std::uint64_t rank(std::string_view name);

ServiceSpec random_service(Random& random, std::string name,
                           const std::vector<std::string>& config_files) {
  ServiceSpec spec;
  spec.binary = "/bin/" + name;
  spec.name = std::move(name);
  spec.restart = static_cast<RestartPolicy>(below(random, 3));
  spec.backoff_initial = Milliseconds(1 + below(random, 2000));
  spec.backoff_max = spec.backoff_initial + Milliseconds(below(random, 60'000));
  spec.backoff_reset_after = Milliseconds(below(random, 20'000));
  spec.stop_timeout = Milliseconds(below(random, 10'000));
  if (below(random, 10) < 3) spec.config_file = config_files[below(random, config_files.size())];
  if (spec.config_file && below(random, 3) == 0) spec.config_section = below(random, 2) ? "a" : "b";
  if (below(random, 10) == 0) spec.options = {"--flag"};
  // A quarter with a tight limit, the rest unlimited (as every service was before the default
  // of 5 in 60 s): crash storms keep being exercised.
  spec.max_restarts = std::nullopt;
  if (below(random, 4) == 0) spec.max_restarts = below(random, 5);
  spec.restart_window = Milliseconds(1 + below(random, 30'000));
  if (below(random, 3) == 0) spec.retry_failed_after = Milliseconds(below(random, 600'000));
  if (below(random, 3) == 0) spec.backoff_jitter = below(random, 101) / 100.0;
  if (below(random, 4) == 0) spec.success_exit_codes = {0, 3};
  if (below(random, 4) == 0) spec.permanent_failure_exit_codes = {78};
  if (below(random, 4) == 0) spec.restart_with_dependencies = false;
  // Issue 13: some are not ready at exec; time passing ends their `after` delays, start
  // timeouts and watchdogs, notify steps make them ready or keep them alive.
  switch (below(random, 8)) {
    case 0:
    case 1:
      spec.readiness.kind = Readiness::Kind::notify;
      if (below(random, 2) == 0) spec.watchdog = Milliseconds(100 + below(random, 10'000));
      break;
    case 2:
      spec.readiness = {.kind = Readiness::Kind::fd, .fd = 3};
      break;
    case 3:
      spec.readiness = {.kind = Readiness::Kind::after,
                        .after = Milliseconds(1 + below(random, 5'000))};
      break;
    default:
      break;
  }
  spec.start_timeout =
      below(random, 4) == 0 ? Milliseconds(0) : Milliseconds(1 + below(random, 20'000));
  // Issue 13: a quarter are probed; time passing starts probes and times them out, probe steps
  // answer them.
  if (below(random, 4) == 0) {
    HealthCheck check;
    check.kind = HealthCheck::Kind::tcp;
    check.address = {"127.0.0.1", 8080, false};
    check.interval = Milliseconds(1 + below(random, 5'000));
    check.timeout =
        Milliseconds(1 + below(random, static_cast<std::uint32_t>(check.interval.count())));
    check.failures = 1 + below(random, 3);
    if (below(random, 3) == 0) check.start_period = Milliseconds(below(random, 10'000));
    if (below(random, 4) == 0) check.on_unhealthy = HealthCheck::OnUnhealthy::ignore;
    spec.health = check;
  }
  // Issue 14: an eighth hold a socket (a port of their own, from their name's rank), most of
  // those start on demand, and some of those stop when idle.
  if (below(random, 8) == 0) {
    std::uint64_t order = rank(spec.name);  // s<N>: N; new<N>: 1,000,000 + N
    std::uint64_t port = order < 1'000'000 ? 1024 + order : 30'000 + order % 30'000;
    spec.listen = {*parse_listen_socket(fmt::format("tcp:127.0.0.1:{}", port))};
    if (spec.readiness.kind == Readiness::Kind::fd) spec.readiness.fd = 4;
    if (below(random, 4) != 0) {
      spec.start = StartMode::on_demand;
      if (below(random, 2) == 0) spec.idle_stop = Milliseconds(1 + below(random, 20'000));
    }
  }
  return spec;
}

// Services are ranked by when they were made (s0, s1, ... then new0, new1, ...); edges only
// point to lower ranks, so every configuration, before and after reloads, has no cycle.
std::uint64_t rank(std::string_view name) {
  bool added = name.starts_with("new");
  auto digits = name.substr(added ? 3 : 1);
  std::uint64_t number = 0;
  for (char c : digits) number = number * 10 + static_cast<std::uint64_t>(c - '0');
  return added ? 1'000'000 + number : number;
}

// Up to three hard and one soft dependency on lower-ranked services of `config`.
void add_random_edges(Random& random, ServiceSpec& spec, const Config& config) {
  std::vector<std::string> lower;
  for (const auto& [name, other] : config.services)
    if (rank(name) < rank(spec.name)) lower.push_back(name);
  if (lower.empty()) return;
  auto pick = [&] { return lower[below(random, static_cast<std::uint32_t>(lower.size()))]; };
  auto add = [&](std::vector<std::string>& list, const std::string& name) {
    bool listed = std::ranges::find(spec.depends_on, name) != spec.depends_on.end() ||
                  std::ranges::find(spec.wants, name) != spec.wants.end();
    if (!listed) list.push_back(name);
  };
  for (unsigned i = below(random, 4); i > 0; --i) add(spec.depends_on, pick());
  if (below(random, 4) == 0) add(spec.wants, pick());
}

Action random_action(Random& random) {
  // Weights: requests and crashes dominate; reloads, disconnects and jumps are rarer.
  static const std::vector<std::pair<Action, unsigned>> weights = {
      {Action::start, 200},         {Action::stop, 150},        {Action::restart, 50},
      {Action::status, 30},         {Action::crash, 150},       {Action::settle, 150},
      {Action::advance_small, 150}, {Action::advance_large, 8}, {Action::file_changed, 30},
      {Action::reload, 15},         {Action::fail_spawns, 15},  {Action::allow_spawns, 20},
      {Action::client_gone, 15},    {Action::reset, 15},        {Action::shutdown, 1},
      {Action::main_exit, 40},      {Action::notify, 150},      {Action::probe, 100},
      {Action::connect, 60}};
  unsigned total = 0;
  for (const auto& [action, weight] : weights) total += weight;
  unsigned pick = below(random, total);
  for (const auto& [action, weight] : weights) {
    if (pick < weight) return action;
    pick -= weight;
  }
  return Action::status;
}

constexpr unsigned client_slots = 4;

// Names no configuration of a scenario ever has: generated names are s<N> and new<N>.
constexpr std::string_view never_configured_names[] = {"ghost", "new", ""};

struct Named {
  std::string name;
  NameKind kind = NameKind::configured;
};

RequestKind request_kind(Action action) {
  switch (action) {
    case Action::start:
      return RequestKind::start;
    case Action::stop:
      return RequestKind::stop;
    case Action::restart:
      return RequestKind::restart;
    case Action::reset:
      return RequestKind::reset;
    case Action::shutdown:
      return RequestKind::shutdown;
    default:
      throw std::logic_error("not a request: " + std::string(action_name(action)));
  }
}

// A status of every service (sorted by name, as status() returns it), looked up by name
// without building a map at every step.
struct StatusByName {
  std::vector<ServiceStatus> all;
  const ServiceStatus* find(std::string_view name) const {
    auto it = std::ranges::lower_bound(all, name, {}, &ServiceStatus::name);
    return it == all.end() || it->name != name ? nullptr : &*it;
  }
  const ServiceStatus& at(std::string_view name) const {
    if (const ServiceStatus* status = find(name)) return *status;
    throw std::out_of_range(std::string(name));
  }
};

// Replays steps and checks invariants; the first broken one is kept in `failure`.
class Runner final : public Notifier {
 public:
  explicit Runner(const Scenario& scenario)
      : scenario_(scenario),
        config_(scenario.config),
        supervisor_(scenario.config, clock_, spawner_, *this, &watcher_, nullptr, &prober_,
                    &listeners_) {
    for (const auto& [name, spec] : scenario.config.services) {
      if (std::hash<std::string>{}(name + std::to_string(scenario.seed)) % 10 == 0)
        spawner_.ignore_terminate(name);
    }
    for (unsigned slot = 0; slot < client_slots; ++slot) clients_[slot] = slot + 1;
    next_client_ = client_slots + 1;
    index_dependents();
    supervisor_.start_default_services();
  }

  std::optional<Failure> run(const std::vector<Step>& steps) {
    step_count_ = steps.size();
    check_invariants();
    for (std::size_t i = 0; i < steps.size() && !failure_; ++i) {
      step_index_ = i;
      if (trace_) fmt::print("step {}: {}\n", i, describe(steps[i]));
      apply(steps[i]);
      collect_signalled_exits();
      supervisor_.on_timer();  // as a host does after every wake-up
      check_invariants();
    }
    if (!failure_) wind_down();
    if (failure_) return failure_;
    return std::nullopt;
  }

  // Notifier: every reply is matched to its request in the ledger and checked against the
  // world at the moment it is sent.
  void reply(const Reply& reply) override {
    if (trace_)
      fmt::print("    reply to {}/{}: {} '{}' ({})\n", reply.to.client, reply.to.request,
                 to_string(reply.outcome), reply.service, reply.message);
    if (auto wrong = ledger_.on_reply(reply)) return fail(std::move(*wrong));
    bool names_live_process =
        reply.pid && spawner_.process(*reply.pid) && spawner_.process(*reply.pid)->alive;
    switch (reply.outcome) {
      case Outcome::started:
      case Outcome::restarted:
      case Outcome::already_running:
        if (!names_live_process)
          fail(fmt::format("{} reply for {} without a live process", to_string(reply.outcome),
                           reply.service));
        if (reply.refcount == 0) fail("a running reply with refcount 0 for " + reply.service);
        if (!config_.services.contains(reply.service))
          fail(fmt::format("{} reply for {}, which is not configured", to_string(reply.outcome),
                           reply.service));
        break;
      case Outcome::stopped:
        if (reply.pid) fail("stopped reply for " + reply.service + " names a process");
        break;
      case Outcome::shutdown_complete:
        if (!spawner_.live().empty()) fail("shutdown_complete while processes are alive");
        break;
      default:
        break;
    }
  }
  // ARMSIM_TRACE=1 prints every step and state change: the way to read a shrunk failure.
  void service_event(const ServiceEvent& event) override {
    if (trace_)
      fmt::print("    {}: {} -> {} ({})\n", event.service, to_string(event.previous),
                 to_string(event.state), event.detail);
  }

 private:
  void fail(std::string what) {
    if (!failure_) failure_ = Failure{step_index_, std::move(what)};
  }

  RequestRef new_request(std::uint32_t slot, Action action, const Named& named) {
    RequestRef ref{clients_[slot % client_slots], next_request_++};
    bool listed = action == Action::shutdown || supervisor_.status(named.name).has_value();
    Request request{request_kind(action), named.name, named.kind, listed, step_index_};
    if (trace_)
      fmt::print("    request {}/{}: {}\n", ref.client, ref.request, Ledger::describe(request));
    ledger_.record(ref, std::move(request));
    return ref;
  }

  // Of twenty indexes, one names a service that was never configured, three (when a reload has
  // removed any) one that a reload removed: half of those among the last four removed, which
  // may still be stopping. The rest name a service configured now.
  Named pick_name(std::uint32_t index) const {
    std::uint32_t slot = index % 20;
    std::uint32_t rest = index / 20;
    const auto& services = config_.services;
    if (slot == 19 || services.empty()) {
      constexpr auto count = std::size(never_configured_names);
      return {std::string(never_configured_names[rest % count]), NameKind::never_configured};
    }
    if (slot >= 16 && !removed_names_.empty()) {
      std::size_t count = removed_names_.size();
      std::size_t pick = rest % 2 == 0 ? count - 1 - (rest / 2) % std::min<std::size_t>(count, 4)
                                       : (rest / 2) % count;
      return {removed_names_[pick], NameKind::removed};
    }
    auto it = services.begin();
    std::advance(it, index % services.size());
    return {it->first, NameKind::configured};
  }

  // status(name) knows the services configured now, and no name never configured.
  void check_status_of(const Named& named) {
    auto status = supervisor_.status(named.name);
    if (named.kind == NameKind::configured && (!status || status->name != named.name))
      return fail("status('" + named.name + "') does not find a configured service");
    if (named.kind == NameKind::never_configured && status)
      return fail("status('" + named.name + "') finds a service never configured");
  }

  void apply(const Step& step) {
    switch (step.action) {
      case Action::start: {
        auto named = pick_name(step.b);
        supervisor_.start(new_request(step.a, step.action, named), named.name);
        break;
      }
      case Action::stop: {
        auto named = pick_name(step.b);
        supervisor_.stop(new_request(step.a, step.action, named), named.name);
        break;
      }
      case Action::restart: {
        auto named = pick_name(step.b);
        supervisor_.restart(new_request(step.a, step.action, named), named.name);
        break;
      }
      case Action::status:
        check_status_of(pick_name(step.b));
        break;
      case Action::crash: {
        auto live = spawner_.live();
        if (live.empty()) break;
        ProcessId pid = live[step.a % live.size()];
        ExitStatus status = step.b % 3 == 0   ? ExitStatus::exited(0)
                            : step.b % 3 == 1 ? ExitStatus::exited(1 + step.c % 100)
                                              : ExitStatus::signaled(step.c % 2 ? 9 : 11);
        spawner_.mark_exited(pid);
        std::erase_if(pending_exits_, [&](const auto& exit) { return exit.first == pid; });
        if (!supervisor_.on_child_exit(pid, status))
          fail(fmt::format("supervisor disowned its live process {}", pid));
        break;
      }
      case Action::main_exit: {
        // The rest of the service ends later, as signals or a crash step end it.
        auto live = spawner_.live();
        if (live.empty()) break;
        ProcessId pid = live[step.a % live.size()];
        if (spawner_.process(pid)->main_exited) break;
        ExitStatus status =
            step.b % 2 == 0 ? ExitStatus::exited(0) : ExitStatus::exited(1 + step.c % 100);
        spawner_.mark_main_exited(pid);
        if (!supervisor_.on_main_exit(pid, status))
          fail(fmt::format("supervisor disowned its live process {}", pid));
        break;
      }
      case Action::settle: {
        std::size_t count = std::min<std::size_t>(pending_exits_.size(), 1 + step.a % 8);
        for (std::size_t i = 0; i < count; ++i) {
          auto [pid, status] = pending_exits_.front();
          pending_exits_.pop_front();
          if (spawner_.mark_exited(pid)) supervisor_.on_child_exit(pid, status);
        }
        break;
      }
      case Action::advance_small:
        advance(Milliseconds(step.a % 1000));
        break;
      case Action::advance_large:
        // A host that was suspended: the clock jumps and on_timer runs once, late.
        clock_.advance(Milliseconds(step.a % 3'600'000));
        supervisor_.on_timer();
        break;
      case Action::file_changed:
        if (!scenario_.config_files.empty()) {
          // The whole file, or its section a or b.
          static const char* const sections[] = {"", "a", "b"};
          std::size_t files = scenario_.config_files.size();
          supervisor_.on_file_changed(
              WatchedFile{scenario_.config_files[step.a % files], sections[step.a / files % 3]});
        }
        break;
      case Action::reload:
        reload(step);
        break;
      case Action::fail_spawns:
        spawner_.fail_service(pick_name(step.a).name,
                              Error::system(2, "cannot execute: injected failure"));
        break;
      case Action::allow_spawns:
        spawner_.allow_service(pick_name(step.a).name);
        break;
      case Action::client_gone: {
        ClientId gone = clients_[step.a % client_slots];
        ledger_.client_gone(gone);
        supervisor_.client_gone(gone);
        clients_[step.a % client_slots] = next_client_++;
        break;
      }
      case Action::reset: {
        auto named = pick_name(step.b);
        supervisor_.reset(new_request(step.a, step.action, named), named.name);
        break;
      }
      case Action::notify:
        notify(step);
        break;
      case Action::probe:
        probe(step);
        break;
      case Action::connect:
        connect(pick_name(step.b).name);
        break;
      case Action::shutdown:
        note_shutdown_began();
        supervisor_.shutdown(new_request(step.a, step.action, Named{}));
        break;
    }
  }

  // A client arrives at a service's socket: reported only when a watch is out (then it must be
  // taken), otherwise it waits in the backlog; a report nobody asked for must be refused.
  void connect(const std::string& name) {
    if (listeners_.watching(name)) {
      listeners_.watched.erase(listeners_.watched.find(name));
      if (!supervisor_.on_socket_activity(name))
        fail(fmt::format("on_socket_activity refused {}, which was watched", name));
    } else if (supervisor_.on_socket_activity(name)) {
      fail(fmt::format("on_socket_activity accepted {}, which was not watched", name));
    }
  }

  // A notification from a live process (mostly READY=1), or from a pid no service owns (one of
  // the reaped, or one never spawned): those must be refused, the others accepted.
  void notify(const Step& step) {
    ProcessId pid = 0;
    auto live = spawner_.live();
    if (step.b % 10 == 0) {
      pid = step.b % 20 == 0 ? 1
                             : static_cast<ProcessId>(1000 + step.c % (spawner_.spawn_count() + 1));
    } else {
      if (live.empty()) return;
      pid = live[step.a % live.size()];
    }
    ServiceNotification notification;
    switch (step.c % 16) {
      case 0:
        notification.watchdog_trigger = true;
        break;
      case 1:
      case 2:
        notification.extend_timeout = Milliseconds(step.a % 10'000);
        break;
      case 3:
        notification.watchdog_timeout = Milliseconds(step.a % 5'000);
        break;
      case 4:
      case 5:
      case 6:
      case 7:
        notification.watchdog = true;
        break;
      case 8:
        notification.status = "working";
        notification.error_number = 5;
        break;
      default:
        notification.ready = true;
        break;
    }
    const testing::FakeProcess* process = spawner_.process(pid);
    bool owned = process && process->alive;
    if (supervisor_.on_notify(pid, notification) != owned)
      fail(fmt::format("on_notify for pid {} ({}) returned {}", pid,
                       owned ? "a live process" : "no live process", !owned));
  }

  // A probe in flight ends, healthy or not; or a result comes for a probe the supervisor no
  // longer waits for (cancelled, never started): that one must be refused.
  void probe(const Step& step) {
    auto& running = prober_.running;
    if (step.b % 8 == 0 || running.empty()) {
      ProbeId stale = prober_.cancelled.empty()
                          ? ProbeId{999'999'999}
                          : prober_.cancelled[step.a % prober_.cancelled.size()];
      if (supervisor_.on_probe_result(stale, {true, "stale"}))
        fail(fmt::format("on_probe_result accepted probe {}, which is not in flight", stale));
      return;
    }
    auto probe = running[step.a % running.size()];
    prober_.answered(probe.id);
    if (!supervisor_.on_probe_result(probe.id, {step.c % 3 != 0, "simulated"}))
      fail(fmt::format("on_probe_result refused probe {} of {}, which is in flight", probe.id,
                       probe.service));
  }

  void reload(const Step& step) {
    Random random(scenario_.seed * 1'000'003 + step.a * 7919 + step.b);
    Config next = config_;
    for (auto it = next.services.begin(); it != next.services.end();) {
      unsigned dice = below(random, 20);
      if (dice == 0) {
        it = next.services.erase(it);
        continue;
      }
      if (dice == 1) it->second.options.push_back("--reloaded");
      if (dice == 2) it->second.restart = static_cast<RestartPolicy>(below(random, 3));
      if (dice == 3) it->second.stop_timeout = Milliseconds(below(random, 5000));
      if (dice == 4) it->second.retry_failed_after.reset();
      if (dice == 5) {
        it->second.depends_on.clear();
        it->second.wants.clear();
        add_random_edges(random, it->second, next);
      }
      if (dice == 6) it->second.restart_with_dependencies = !it->second.restart_with_dependencies;
      if (dice == 8 && !it->second.listen.empty()) {  // on demand, or not any more
        bool was = it->second.start == StartMode::on_demand;
        it->second.start = was ? StartMode::manual : StartMode::on_demand;
        it->second.idle_stop.reset();
        if (!was && below(random, 2) == 0)
          it->second.idle_stop = Milliseconds(1 + below(random, 9'000));
      }
      if (dice == 7) {  // its health check added, changed or removed (probes afresh, no restart)
        if (it->second.health && below(random, 2) == 0) {
          it->second.health.reset();
        } else {
          HealthCheck check;
          check.kind = HealthCheck::Kind::tcp;
          check.address = {"127.0.0.1", 8080, false};
          check.interval = Milliseconds(1 + below(random, 5'000));
          check.timeout = check.interval;
          check.failures = 1 + below(random, 3);
          it->second.health = check;
        }
      }
      ++it;
    }
    for (unsigned i = below(random, 3); i > 0; --i) {
      auto spec =
          random_service(random, fmt::format("new{}", next_added_++), scenario_.config_files);
      if (below(random, 2) == 0) add_random_edges(random, spec, next);
      next.services.emplace(spec.name, spec);
    }
    // One reload in four brings back a service an earlier one removed, often one of the last
    // four, whose process may still be stopping.
    if (!removed_names_.empty() && below(random, 4) == 0) {
      auto count = static_cast<std::uint32_t>(removed_names_.size());
      std::uint32_t pick = below(random, 2) == 0 ? count - 1 - below(random, std::min(count, 4u))
                                                 : below(random, count);
      auto spec = random_service(random, removed_names_[pick], scenario_.config_files);
      if (below(random, 2) == 0) add_random_edges(random, spec, next);
      next.services.emplace(spec.name, spec);
    }
    for (auto& [name, spec] : next.services) {  // edges to removed services go with them
      auto gone = [&](const std::string& dependency) {
        return !next.services.contains(dependency);
      };
      std::erase_if(spec.depends_on, gone);
      std::erase_if(spec.wants, gone);
    }
    // (An on-demand service is never a default service: it starts on its first client.)
    std::erase_if(next.arm.default_services, [&](const std::string& name) {
      auto it = next.services.find(name);
      return it == next.services.end() || it->second.start == StartMode::on_demand;
    });
    if (below(random, 10) == 0) next.arm.global_prefix = {"nice"};
    if (supervisor_.shutting_down()) return;  // a reload is ignored then
    std::vector<std::string> removed;
    for (const auto& [name, spec] : config_.services)
      if (!next.services.contains(name)) removed.push_back(name);
    config_ = next;
    index_dependents();
    auto applied = supervisor_.reload(std::move(next));
    if (!applied) {
      fail("a generated configuration was refused: " + applied.error().front().to_string());
      return;
    }
    auto& summary = *applied;
    if (trace_) {
      fmt::print("    reload: removed [{}], added [{}], restarted [{}], updated [{}]\n",
                 fmt::join(summary.removed, " "), fmt::join(summary.added, " "),
                 fmt::join(summary.restarted, " "), fmt::join(summary.updated, " "));
      for (const auto& name : summary.updated) {
        const ServiceSpec& spec = config_.services.at(name);
        fmt::print("      {}: depends_on [{}], wants [{}], restart_with_dependencies {}\n", name,
                   fmt::join(spec.depends_on, " "), fmt::join(spec.wants, " "),
                   spec.restart_with_dependencies);
      }
    }
    std::ranges::sort(summary.removed);
    if (summary.removed != removed)
      return fail(fmt::format("reload reports {} removed service(s), not {}",
                              summary.removed.size(), removed.size()));
    std::erase_if(removed_names_,
                  [&](const std::string& name) { return config_.services.contains(name); });
    removed_names_.insert(removed_names_.end(), removed.begin(), removed.end());
  }

  void advance(Duration by) {
    TimePoint until = clock_.now() + by;
    for (auto due = supervisor_.next_deadline(); due && *due <= until;
         due = supervisor_.next_deadline()) {
      if (*due > clock_.now()) clock_.set(*due);
      supervisor_.on_timer();
      collect_signalled_exits();
    }
    clock_.set(until);
  }

  void collect_signalled_exits() {
    for (auto& exit : spawner_.take_signalled_exits()) pending_exits_.push_back(exit);
  }

  void check_invariants() {
    if (failure_) return;
    if (spawner_.signals_after_exit() != 0) return fail("a reaped process was signalled");
    auto next = supervisor_.next_deadline();
    if (next && *next <= clock_.now()) return fail("a due deadline was left unprocessed");
    if (spawns_at_shutdown_ && spawner_.spawn_count() != *spawns_at_shutdown_)
      return fail("a process was spawned during shutdown");
    if (supervisor_.service_count() != config_.services.size())
      return fail(fmt::format("{} services configured, but service_count() says {}",
                              config_.services.size(), supervisor_.service_count()));

    std::set<ProcessId> owned;
    StatusByName by_name{supervisor_.status()};
    std::set<std::string> probed;
    for (const auto& probe : prober_.running) {
      const ServiceStatus* status = by_name.find(probe.service);
      if (!status || status->state != ServiceState::running || status->pid != probe.main_pid)
        return fail(fmt::format("probe {} of {} (pid {}) is in flight, but the service is {}",
                                probe.id, probe.service, probe.main_pid,
                                status ? to_string(status->state) : "gone"));
      if (!probed.insert(probe.service).second)
        return fail(fmt::format("two probes of {} are in flight at once", probe.service));
    }
    const auto& statuses = by_name.all;
    auto state_of = [&](const std::string& name) { return by_name.at(name).state; };
    for (const auto& status : statuses) {
      auto where = [&] { return fmt::format("{} ({})", status.name, to_string(status.state)); };
      bool has_process = status.pid.has_value();
      const ServiceSpec* spec = nullptr;
      if (auto it = config_.services.find(status.name); it != config_.services.end())
        spec = &it->second;
      // Issue 14: an on-demand service at rest listens (outside shutdown), and only it; a watch
      // is out exactly while it listens, or runs with idle_stop.
      bool on_demand = spec && spec->start == StartMode::on_demand;
      if (status.state == ServiceState::listening &&
          (!on_demand || !listeners_.watching(status.name) || supervisor_.shutting_down()))
        return fail(where() + " listens, but is not an on-demand service watched outside shutdown");
      if (status.state == ServiceState::stopped && on_demand && !supervisor_.shutting_down())
        return fail(where() + " rests stopped, though it starts on demand");
      if (listeners_.watching(status.name) && status.state != ServiceState::listening &&
          !(on_demand && spec->idle_stop &&
            (status.state == ServiceState::running || status.state == ServiceState::starting)))
        return fail(where() + " has its sockets watched");
      if (spec && listeners_.held.contains(status.name) != !spec->listen.empty())
        return fail(where() + (spec->listen.empty() ? " holds sockets it does not list"
                                                    : " does not hold its sockets"));
      // "removed ones are stopped and dropped": one is listed only while it is being stopped.
      if (!spec && status.state != ServiceState::stopping)
        return fail(where() + " is listed, though a reload removed it");
      if (spec && spec->health.has_value() != (status.health != HealthState::none))
        return fail(fmt::format("{} has health {} with{} a health check", where(),
                                to_string(status.health), spec->health ? "" : "out"));
      if (spec && spec->health && status.state == ServiceState::running &&
          status.health == HealthState::unhealthy &&
          spec->health->on_unhealthy == HealthCheck::OnUnhealthy::restart)
        return fail(where() + " is unhealthy and still running, though on_unhealthy = restart");
      switch (status.state) {
        case ServiceState::running:
          if (!has_process) return fail(where() + " has no process");
          if (status.refcount == 0) return fail(where() + " runs with refcount 0");
          if (spec) {
            if (auto broken = running_without_dependency(*spec, by_name))
              return fail(fmt::format(
                  "{} runs while its hard dependency {}{}", where(), *broken,
                  spec->restart_with_dependencies ? "" : " (restart_with_dependencies = false)"));
          }
          break;
        case ServiceState::stopping:
          if (!has_process) return fail(where() + " has no process");
          break;
        case ServiceState::backoff:
          if (has_process) return fail(where() + " has a process");
          if (status.refcount == 0) return fail(where() + " waits to restart with refcount 0");
          if (!status.next_restart_at) return fail(where() + " has no restart time");
          break;
        case ServiceState::waiting:
          if (has_process) return fail(where() + " has a process");
          if (status.refcount == 0) return fail(where() + " waits with refcount 0");
          if (status.waiting_for.empty()) return fail(where() + " does not say what for");
          if (spec && std::ranges::all_of(spec->depends_on, [&](const std::string& d) {
                return state_of(d) == ServiceState::running;
              }))
            return fail(where() + " waits though every hard dependency runs");
          break;
        case ServiceState::failed:
          if (status.next_restart_at) {
            if (spec && !spec->retry_failed_after)
              return fail(where() + " will re-arm without retry_failed_after");
          }
          [[fallthrough]];
        case ServiceState::stopped:
        case ServiceState::listening: {
          if (has_process) return fail(where() + " has a process");
          // Only dependents still on their way out, or (with a re-arm pending) waiting for it
          // to come back, may hold it.
          unsigned may_hold = 0;
          for (const ServiceSpec* dependent : hard_dependents_[status.name]) {
            ServiceState s = state_of(dependent->name);
            bool waiting_for_rearm =
                status.next_restart_at && s != ServiceState::stopped && s != ServiceState::failed;
            if (s == ServiceState::stopping || waiting_for_rearm) ++may_hold;
          }
          if (status.refcount > may_hold)
            return fail(fmt::format("{} keeps {} reference(s)", where(), status.refcount));
          break;
        }
        case ServiceState::starting:
          // Only a service not ready at exec waits there, with its process, saying what for.
          if (!has_process) return fail(where() + " has no process");
          if (spec && spec->readiness.kind == Readiness::Kind::exec)
            return fail(where() + " is left in starting, though ready at exec");
          if (status.waiting_for.empty()) return fail(where() + " does not say what for");
          break;
      }
      if (supervisor_.shutting_down() && has_process && terminated_in_shutdown(*status.pid)) {
        // Reverse dependency order: nothing that depends on it may still be alive.
        for (const ServiceSpec* dependent : all_dependents_[status.name]) {
          if (by_name.at(dependent->name).pid)
            return fail(where() + " got SIGTERM in shutdown while its dependent " +
                        dependent->name + " lives");
        }
      }
      if (status.refcount > 1'000'000) return fail(where() + ": refcount wrapped around");
      if (has_process) {
        const testing::FakeProcess* process = spawner_.process(*status.pid);
        if (!process || !process->alive) return fail(where() + " names a dead process");
        owned.insert(*status.pid);
      }
      if (auto spec = config_.services.find(status.name); spec != config_.services.end()) {
        if (status.next_backoff > spec->second.backoff_max)
          return fail(where() + ": backoff above its cap");
      }
    }
    auto live = spawner_.live();
    if (std::set<ProcessId>(live.begin(), live.end()) != owned)
      return fail(
          fmt::format("{} live processes but {} owned by services", live.size(), owned.size()));
    if (supervisor_.finished() && !live.empty()) return fail("finished with live processes");
    // A request still waiting on a service the supervisor has forgotten will never be
    // answered: say so at the step that forgot it, so that shrinking keeps the cause.
    ledger_.for_each_pending([&](const Request& request) {
      if (request.kind != RequestKind::shutdown && !by_name.find(request.service))
        fail(Ledger::describe(request) + " is still unanswered, but its service is gone");
    });
  }

  // "the hard dependency NAME is STATE" when `spec`, running, has a dependency that is not
  // running outside the documented window: a dependency whose process is alive but stopping
  // (it waits for its dependents to exit first), or, for restart_with_dependencies = false, a
  // dependency on its way back.
  static std::optional<std::string> running_without_dependency(const ServiceSpec& spec,
                                                               const StatusByName& by_name) {
    for (const auto& name : spec.depends_on) {
      const ServiceStatus& dependency = by_name.at(name);
      if (dependency.state == ServiceState::running || dependency.pid) continue;
      bool coming_back = dependency.state == ServiceState::backoff ||
                         dependency.state == ServiceState::waiting ||
                         (dependency.state == ServiceState::failed && dependency.next_restart_at);
      if (!spec.restart_with_dependencies && coming_back) continue;
      return fmt::format("{} is {}", name, to_string(dependency.state));
    }
    return std::nullopt;
  }

  void index_dependents() {
    hard_dependents_.clear();
    all_dependents_.clear();
    for (const auto& [name, spec] : config_.services) {
      for (const auto& dependency : spec.depends_on) {
        hard_dependents_[dependency].push_back(&spec);
        all_dependents_[dependency].push_back(&spec);
      }
      for (const auto& dependency : spec.wants) all_dependents_[dependency].push_back(&spec);
    }
  }

  void note_shutdown_began() {
    if (supervisor_.shutting_down()) return;
    spawns_at_shutdown_ = spawner_.spawn_count();
    for (ProcessId pid : spawner_.live())
      signals_before_shutdown_[pid] = spawner_.process(pid)->signals.size();
  }

  bool terminated_in_shutdown(ProcessId pid) const {
    const auto* process = spawner_.process(pid);
    auto before = signals_before_shutdown_.find(pid);
    std::size_t from = before == signals_before_shutdown_.end() ? 0 : before->second;
    return std::find(process->signals.begin() + static_cast<std::ptrdiff_t>(from),
                     process->signals.end(), StopSignal::terminate) != process->signals.end();
  }

  void wind_down() {
    step_index_ = step_count_;
    note_shutdown_began();
    supervisor_.shutdown(std::nullopt);
    for (int round = 0; round < 100'000 && !supervisor_.finished() && !failure_; ++round) {
      collect_signalled_exits();
      while (!pending_exits_.empty()) {
        auto [pid, status] = pending_exits_.front();
        pending_exits_.pop_front();
        if (spawner_.mark_exited(pid)) supervisor_.on_child_exit(pid, status);
      }
      if (supervisor_.finished()) break;
      auto due = supervisor_.next_deadline();
      if (!due) return fail("shutdown stalled: processes alive and nothing scheduled");
      clock_.set(std::max(*due, clock_.now()));
      supervisor_.on_timer();
      check_invariants();
    }
    if (!supervisor_.finished()) return fail("shutdown never completed");
    if (!spawner_.live().empty()) return fail("processes alive after shutdown completed");
    // Every request of a client still connected has had its one reply by now.
    if (auto unanswered = ledger_.unanswered()) return fail(std::move(*unanswered));
  }

  const Scenario& scenario_;
  Config config_;  // what the supervisor runs now (after reloads)
  testing::FakeClock clock_;
  testing::FakeSpawner spawner_;
  testing::FakeFileWatcher watcher_;
  testing::FakeProber prober_;
  testing::FakeListeners listeners_;
  ServiceSupervisor supervisor_;
  std::deque<std::pair<ProcessId, ExitStatus>> pending_exits_;
  Ledger ledger_;
  // Every name a reload removed and none brought back, in the order removed.
  std::vector<std::string> removed_names_;
  ClientId clients_[client_slots] = {};
  ClientId next_client_ = 0;
  std::uint64_t next_request_ = 1;
  unsigned next_added_ = 0;
  std::optional<std::size_t> spawns_at_shutdown_;
  std::map<ProcessId, std::size_t> signals_before_shutdown_;
  // Who depends on each service in config_ (hard only, and hard or soft), rebuilt when it
  // changes rather than at every step.
  std::map<std::string, std::vector<const ServiceSpec*>, std::less<>> hard_dependents_;
  std::map<std::string, std::vector<const ServiceSpec*>, std::less<>> all_dependents_;
  bool trace_ = std::getenv("ARMSIM_TRACE") != nullptr;
  std::size_t step_index_ = 0;
  std::size_t step_count_ = 0;
  std::optional<Failure> failure_;
};

}  // namespace

Scenario generate(std::uint64_t seed, std::size_t step_count, std::size_t max_services) {
  Random random(seed);
  Scenario scenario;
  scenario.seed = seed;
  for (unsigned i = 0; i < 5; ++i) scenario.config_files.push_back(fmt::format("/etc/f{}.conf", i));
  std::size_t count = 10 + below(random, static_cast<std::uint32_t>(max_services - 9));
  for (std::size_t i = 0; i < count; ++i) {
    auto spec = random_service(random, fmt::format("s{}", i), scenario.config_files);
    if (below(random, 2) == 0) add_random_edges(random, spec, scenario.config);
    if (below(random, 5) == 0 && spec.start != StartMode::on_demand)
      scenario.config.arm.default_services.push_back(spec.name);
    scenario.config.services.emplace(spec.name, spec);
  }
  scenario.steps.reserve(step_count);
  for (std::size_t i = 0; i < step_count; ++i) {
    Step step;
    step.action = random_action(random);
    step.a = static_cast<std::uint32_t>(random());
    step.b = static_cast<std::uint32_t>(random());
    step.c = static_cast<std::uint32_t>(random());
    scenario.steps.push_back(step);
  }
  return scenario;
}

std::optional<Failure> run(const Scenario& scenario, const std::vector<Step>& steps) {
  Runner runner(scenario);
  return runner.run(steps);
}

std::vector<Step> shrink(const Scenario& scenario, std::vector<Step> steps) {
  // A shorter list is kept only when it fails the same way (the same message but for names,
  // numbers and step indexes), so the list does not drift to another failure on the way.
  auto kind_of = [](std::string what) {
    std::erase_if(what, [](char c) { return c >= '0' && c <= '9'; });
    return what;
  };
  auto first = run(scenario, steps);
  if (!first) return steps;
  const std::string kind = kind_of(first->what);
  auto fails_the_same_way = [&](const std::vector<Step>& candidate) {
    auto failure = run(scenario, candidate);
    return failure && kind_of(failure->what) == kind;
  };
  // Remove chunks of halving size while the failure persists, then single steps again until
  // none can go (removing a late step can make an earlier one unnecessary).
  bool removed_one = true;
  for (std::size_t chunk = steps.size() / 2; chunk >= 1 && removed_one;
       chunk = chunk > 1 ? chunk / 2 : 1) {
    removed_one = chunk > 1;
    for (std::size_t begin = 0; begin + chunk <= steps.size();) {
      std::vector<Step> candidate;
      candidate.reserve(steps.size() - chunk);
      candidate.insert(candidate.end(), steps.begin(), steps.begin() + begin);
      candidate.insert(candidate.end(), steps.begin() + begin + chunk, steps.end());
      if (fails_the_same_way(candidate)) {
        steps = std::move(candidate);
        if (chunk == 1) removed_one = true;
      } else {
        begin += chunk;
      }
    }
  }
  return steps;
}

std::string_view action_name(Action action) {
  static const char* const names[] = {"start",        "stop",   "restart",       "status",
                                      "crash",        "settle", "advance_small", "advance_large",
                                      "file_changed", "reload", "fail_spawns",   "allow_spawns",
                                      "client_gone",  "reset",  "shutdown",      "main_exit",
                                      "notify",       "probe",  "connect"};
  return names[static_cast<int>(action)];
}

std::string describe(const Step& step) {
  return fmt::format("{}(a={}, b={}, c={})", action_name(step.action), step.a, step.b, step.c);
}

}  // namespace arm::sim
