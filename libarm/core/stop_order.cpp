// Stopping processes in reverse dependency order: every member of a group is marked as leaving
// first, then those with no leaving dependents get SIGTERM; the rest get it as their
// dependents are reaped. SIGKILL follows each SIGTERM after the service's stop_timeout.
#include <fmt/format.h>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

using detail::StopPhase;

// The caller has set each member's after_exit.
void ServiceSupervisor::Impl::stop_group(const std::vector<Service*>& group,
                                         const std::string& why) {
  for (Service* service : group) {
    if (service->state == ServiceState::stopping) continue;
    cancel_deadline(*service);
    service->stop.phase = StopPhase::awaiting_dependents;
    service->stop.killed = false;
    for_each_dependency(*service, [](Service& d) { ++d.stop.leaving_dependents; });
    set_state(*service, ServiceState::stopping, why);
  }
  for (Service* service : group) send_term_when_clear(*service);
}

void ServiceSupervisor::Impl::send_term_when_clear(Service& service) {
  if (service.state != ServiceState::stopping || !service.process.pid ||
      service.stop.phase != StopPhase::awaiting_dependents || service.stop.leaving_dependents > 0)
    return;
  service.stop.phase = StopPhase::terminate_sent;
  spawner.signal_group(*service.process.pid,
                       service.stop.abort_first ? StopSignal::abort : StopSignal::terminate);
  schedule(service, clock.now() + service.settings().stop_timeout);
}

// Its process is gone: the dependencies that waited for it may go now.
void ServiceSupervisor::Impl::left(Service& service) {
  if (!service.leaving()) return;
  service.stop.phase = StopPhase::none;
  service.stop.abort_first = false;
  for_each_dependency(service, [&](Service& dependency) {
    if (dependency.stop.leaving_dependents > 0) --dependency.stop.leaving_dependents;
    send_term_when_clear(dependency);
  });
}

std::string ServiceSupervisor::Impl::leaving_dependents_of(const Service& service) const {
  std::string names;
  auto add = [&](const std::vector<Service*>& dependents) {
    for (const Service* dependent : dependents) {
      if (!dependent->leaving()) continue;
      if (!names.empty()) names += ", ";
      names += dependent->name();
    }
  };
  add(service.graph.hard_dependents());
  add(service.graph.soft_dependents());
  return names.empty() ? names : "dependents " + names;
}

ARM_END_NAMESPACE
