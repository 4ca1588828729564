// Socket activation (issue 14): which sockets each service holds, when they are watched, and
// what a client's arrival does. Binding and watching are the Listeners' (an adapter); deciding
// is here. A service with start = on-demand rests in `listening` instead of `stopped`: its
// sockets are watched, and the first client activates it with a reference of its own, answered
// to nobody, as a default service's. With idle_stop, a running one is watched once per period.
#include <fmt/format.h>

#include <algorithm>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

std::expected<void, std::vector<Error>> ServiceSupervisor::Impl::hold_sockets(
    const Config& config) {
  if (!listeners) return {};
  std::vector<const std::string*> held;  // by this call, to undo on an error
  std::vector<Error> errors;
  for (const auto& [name, spec] : config.services) {
    const Service* current = find(name);
    bool had = current && !current->settings().listen.empty();
    if (spec.listen.empty() && !had) continue;
    if (auto done = listeners->hold(name, spec); !done) {
      errors.push_back(std::move(done.error()));
      continue;
    }
    held.push_back(&name);
  }
  if (errors.empty()) return {};
  // Every service holds again what it held before this call (still open: nothing was closed).
  // A removed one still stopping held nothing: its sockets were dropped when it was removed.
  for (const std::string* name : held) {
    const Service* current = find(*name);
    if (current && !current->removed()) {
      (void)listeners->hold(*name, current->spec.joined());
      // A hold of no socket dropped it, and with it its watch: the watch it had is renewed.
      if (current->on_demand && current->on_demand->watched) listeners->watch(*name);
    } else {
      listeners->drop(*name);
    }
  }
  listeners->release_unheld();
  return std::unexpected(std::move(errors));
}

ServiceSupervisor::Impl::SocketsRefused::SocketsRefused(std::vector<Error> refused)
    : std::runtime_error([&] {
        std::string text = "arm::ServiceSupervisor: cannot open the listening sockets:";
        for (const auto& error : refused) text += "\n" + error.to_string();
        return text;
      }()),
      errors(std::move(refused)) {}

void ServiceSupervisor::Impl::rest(Service& service, bool tell) {
  ServiceState resting =
      listens_on_demand(service) && !in_shutdown ? ServiceState::listening : ServiceState::stopped;
  bool at_rest = service.state == ServiceState::stopped || service.state == ServiceState::listening;
  if (!at_rest || service.state == resting) return;
  if (tell) {
    set_state(service, resting, resting == ServiceState::listening ? "listening for a client" : "");
  } else {
    service.state = resting;
    update_socket_watch(service);
  }
}

void ServiceSupervisor::Impl::start_boot_services(const std::vector<std::string>& already) {
  for (auto& [name, service] : services) {
    if (service->settings().start != StartMode::boot || service->removed()) continue;
    if (std::ranges::find(already, name) != already.end()) continue;
    start_request(std::nullopt, name);
  }
}

bool ServiceSupervisor::Impl::listens_on_demand(const Service& service) const {
  return listeners && service.settings().start == StartMode::on_demand && !service.removed();
}

void ServiceSupervisor::Impl::update_socket_watch(Service& service) {
  if (!listeners) return;
  bool on_demand = listens_on_demand(service) && !in_shutdown;
  if (!on_demand && !service.on_demand) return;
  auto& state = service.on_demand;
  if (!state) state = std::make_unique<Service::OnDemand>();
  // At rest with no reference (not about to start), the activation's is gone. (Failed with a
  // re-arm pending, it keeps the mark: the re-arm gives its references back.)
  bool at_rest = service.state == ServiceState::listening ||
                 service.state == ServiceState::stopped ||
                 (service.state == ServiceState::failed && !service.rearm_pending());
  if (at_rest && service.references.requests == 0) state->activated = false;
  bool idles = on_demand && service.state == ServiceState::running &&
               service.settings().idle_stop.has_value();
  if (!idles) {
    state->idle_check_at.reset();
    state->client_came = false;
  } else if (!state->idle_check_at) {
    start_idle_period(service);  // it just became ready, or a reload gave it idle_stop
  }
  // Running, a period is watched only until its first client: the next watch begins with the
  // next period, so a client a slow service has not accepted yet is reported once per period,
  // not in a loop.
  bool wanted = service.state == ServiceState::listening ? on_demand : idles && !state->client_came;
  if (state->watched && !wanted) {
    state->watched = false;
    listeners->unwatch(service.name());
  } else if (!state->watched && wanted) {
    state->watched = true;
    listeners->watch(service.name());
  }
}

// A new idle period of a running service begins: watched from now, checked at its end.
void ServiceSupervisor::Impl::start_idle_period(Service& service) {
  auto& state = *service.on_demand;
  state.client_came = false;
  state.idle_check_at = clock.now() + *service.settings().idle_stop;
  schedule_while_running(service);
}

bool ServiceSupervisor::Impl::socket_activity(std::string_view name) {
  Service* service = find(name);
  if (!service || !service->on_demand || !service->on_demand->watched) return false;
  auto& state = *service->on_demand;
  state.watched = false;  // a watch reports once
  switch (service->state) {
    case ServiceState::listening:
      if (in_shutdown) break;
      // A reference of its own, answered to nobody (a default service's kind): a stop gives it
      // back as it gives back a client's.
      state.activated = true;
      start_fresh(*service, std::nullopt, Outcome::started);
      break;
    case ServiceState::starting:
    case ServiceState::running:
      state.client_came = true;  // looked at when the idle period ends
      break;
    case ServiceState::stopped:
    case ServiceState::waiting:
    case ServiceState::stopping:
    case ServiceState::backoff:
    case ServiceState::failed:
      break;  // not watched in these states: a report that crossed an unwatch
  }
  update_socket_watch(*service);
  drain();
  return true;
}

// Running with idle_stop, its period over: a client came, and the next period begins; none did,
// and the service stops (and listens again) if nothing but its activation holds it.
bool ServiceSupervisor::Impl::idle_due(Service& service) {
  auto& state = service.on_demand;
  if (!state || !state->idle_check_at || clock.now() < *state->idle_check_at) return false;
  unsigned own = state->activated ? 1 : 0;  // started by a request: that request holds it
  bool held_otherwise = service.references.requests > own || service.references.holders > 0;
  if (state->client_came || held_otherwise) {
    start_idle_period(service);
    update_socket_watch(service);
    return true;
  }
  state->idle_check_at.reset();
  // As a last stop by request (nothing holds it but its activation), with the reason said.
  service.references.requests = 0;
  service.after_exit = AfterExit::settle_stopped;
  stop_group({&service}, fmt::format("idle for {}", human_duration(*service.settings().idle_stop)));
  return true;
}

ARM_END_NAMESPACE
