// Health probes (issue 13): while a service with a health check runs, the supervisor asks its
// Prober to probe it every `interval` and gives each probe `timeout` to answer. `failures`
// failed probes in a row (those within `start_period` of ready not counted, until one succeeds)
// make it unhealthy; with on_unhealthy = restart it is then stopped and its restart policy
// decides as for a failed exit, as after a watchdog timeout. One probe at a time per service.
//
// The deadline of a running service is the earlier of the watchdog's expiry and the probe's next
// event: its start when none is in flight, its timeout when one is.
#include <fmt/format.h>

#include <algorithm>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

namespace {

// "1 health check", "3 health checks".
std::string failed_checks(unsigned count) {
  return fmt::format("{} health check{}", count, count == 1 ? "" : "s");
}

}  // namespace

// Ready (again): from a clean slate, the first probe `interval` from now (Docker's choice: a probe
// at the instant of an exec would find most services still opening their ports).
void ServiceSupervisor::Impl::start_health_checks(Service& service) {
  if (!service.settings().health || !prober) return;
  if (!service.health) service.health = std::make_unique<Service::Health>();
  auto& health = *service.health;
  HealthState previous = health.state;
  TimePoint now = clock.now();
  health = Service::Health{};
  health.ready_at = now;
  health.next_at = now + service.settings().health->interval;
  health.start_period_over = service.settings().health->start_period.count() == 0;
  if (previous != HealthState::unknown)
    emit_event(service, "ready again; not probed yet", HealthState::unknown);
}

// It leaves `running` (or a reload changed its check): the probe in flight is not wanted, and
// "healthy" is no longer known. "unhealthy" stays, to show why it is restarting.
void ServiceSupervisor::Impl::stop_health_checks(Service& service) {
  if (!service.health) return;
  auto& health = *service.health;
  if (health.in_flight) {
    ProbeId id = *health.in_flight;
    health.in_flight.reset();
    probes_in_flight.erase(id);
    prober->cancel(id);
  }
  if (health.state == HealthState::healthy) {
    health.state = HealthState::unknown;
    emit_event(service, "not probed while it is not running", HealthState::unknown);
  }
}

// A reload changed (or added, or removed) its check: a running service is probed afresh.
void ServiceSupervisor::Impl::health_check_changed(Service& service) {
  bool running = service.state == ServiceState::running;
  HealthState before = service.health ? service.health->state : HealthState::unknown;
  // A running service's health is reset here and said once below, in words about the reload
  // (not stop_health_checks' "not running", nor start_health_checks' "ready again").
  if (running && service.health) service.health->state = HealthState::unknown;
  stop_health_checks(service);
  if (!service.settings().health) service.health.reset();
  if (!running) return;
  if (before != HealthState::unknown) {
    bool kept = service.settings().health.has_value();
    emit_event(service, kept ? "health check changed; not probed yet" : "health check removed",
               kept ? HealthState::unknown : HealthState::none);
  }
  start_health_checks(service);
  schedule_while_running(service);
}

// The running service's deadline came: a probe is due, or the one in flight is late. Returns
// false when neither is (the watchdog's turn).
bool ServiceSupervisor::Impl::health_due(Service& service) {
  if (!service.health || !service.settings().health) return false;
  auto& health = *service.health;
  TimePoint now = clock.now();
  if (now < health.next_at) return false;
  const HealthCheck& check = *service.settings().health;
  if (health.in_flight) {
    ProbeId id = *health.in_flight;
    health.in_flight.reset();
    probes_in_flight.erase(id);
    prober->cancel(id);
    health.next_at = std::max(health.probe_started + check.interval, now);
    count_probe(service, false, fmt::format("timed out after {}", human_duration(check.timeout)));
  } else {
    run_probe(service);
  }
  if (service.state == ServiceState::running) schedule_while_running(service);
  return true;
}

void ServiceSupervisor::Impl::run_probe(Service& service) {
  auto& health = *service.health;
  const auto& spec = service.settings();
  const auto& identity = service.spec.identity();
  ProbeId id = ++last_probe_id;
  TimePoint now = clock.now();
  health.in_flight = id;
  health.probe_started = now;
  health.next_at = now + spec.health->timeout;
  probes_in_flight.emplace(id, &service);
  prober->start(ProbeRequest{
      .id = id,
      .service = service.name(),
      .check = *spec.health,
      .main_pid = *service.process.pid,
      .environment = spec.environment,
      .working_directory = identity.working_directory
                               ? std::string_view(*identity.working_directory)
                               : std::string_view(),
      .execution = spec.execution ? &*spec.execution : nullptr,
  });
}

bool ServiceSupervisor::Impl::probe_ended(ProbeId id, const ProbeResult& result) {
  auto found = probes_in_flight.find(id);
  if (found == probes_in_flight.end()) return config_step_ended(id, result);
  Service& service = *found->second;
  probes_in_flight.erase(found);
  auto& health = *service.health;
  health.in_flight.reset();
  health.next_at =
      std::max(health.probe_started + service.settings().health->interval, clock.now());
  if (result.ran) {
    count_probe(service, result.healthy, result.detail);
  } else {  // the host's shortage, not the service's: said, not counted
    health.detail = result.detail;
    health.checked_at = clock.now();
  }
  if (service.state == ServiceState::running) schedule_while_running(service);
  drain();
  return true;
}

void ServiceSupervisor::Impl::count_probe(Service& service, bool healthy, std::string detail) {
  auto& health = *service.health;
  const HealthCheck& check = *service.settings().health;
  TimePoint now = clock.now();
  health.checked_at = now;
  health.detail = std::move(detail);
  if (healthy) {
    health.failures = 0;
    health.start_period_over = true;
    set_health(service, HealthState::healthy);
    return;
  }
  if (!health.start_period_over) {
    if (now < health.ready_at + check.start_period) return;  // still starting up: not counted
    health.start_period_over = true;
  }
  ++health.failures;
  if (health.failures < check.failures || health.state == HealthState::unhealthy) return;
  set_health(service, HealthState::unhealthy);
  if (check.on_unhealthy == HealthCheck::OnUnhealthy::restart) {
    stop_as_failed(service,
                   fmt::format("unhealthy: {} failed in a row (last: {})",
                               failed_checks(health.failures), health.detail),
                   false);
  }
}

void ServiceSupervisor::Impl::set_health(Service& service, HealthState next) {
  auto& health = *service.health;
  if (health.state == next) return;
  health.state = next;
  std::string detail = next == HealthState::unhealthy
                           ? fmt::format("{} failed in a row (last: {})",
                                         failed_checks(health.failures), health.detail)
                           : health.detail;
  emit_event(service, std::move(detail), next);
}

ARM_END_NAMESPACE
