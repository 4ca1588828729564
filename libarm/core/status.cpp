// Queries, answered synchronously from the supervisor's state.
#include <algorithm>

#include <fmt/format.h>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

namespace {

// What a starting service waits for, in the words of its readiness setting.
std::string readiness_awaited(const ServiceSpec& spec) {
  switch (spec.readiness.kind) {
    case Readiness::Kind::notify:
      return "READY=1 on $NOTIFY_SOCKET";
    case Readiness::Kind::fd:
      return fmt::format("a line on its descriptor {}", spec.readiness.fd);
    case Readiness::Kind::after:
      return fmt::format("{} up", human_duration(spec.readiness.after));
    case Readiness::Kind::exec:
      break;
  }
  return {};
}

}  // namespace

ServiceStatus ServiceSupervisor::Impl::status_of(const Service& service) const {
  ServiceStatus status;
  fill_status(service, status);
  return status;
}

// Every field is assigned, none reset by constructing anew: assigning a string or a vector
// keeps the storage it has when the new value fits (status_into's point).
void ServiceSupervisor::Impl::fill_status(const Service& service, ServiceStatus& status) const {
  status.name = service.name();
  status.state = service.state;
  status.pid = service.process.pid;
  status.restarts = service.history.restarts;
  status.refcount = service.refcount();
  status.last_exit = service.process.last_exit;
  status.last_exit_at = service.process.last_exit_at;
  status.running_since.reset();
  if (service.process.pid) status.running_since = service.process.running_since;
  status.next_restart_at.reset();
  if (service.state == ServiceState::backoff || service.state == ServiceState::failed)
    status.next_restart_at = service.deadline;
  status.next_backoff =
      std::max(service.history.backoff.next(), detail::restart_delay_floor(service.settings()));
  status.last_error = service.last_error.str();
  status.depends_on = service.spec.depends_on().to_vector();
  status.wants = service.spec.wants().to_vector();
  status.waiting_for.clear();
  if (service.state == ServiceState::waiting && !service.waiting_for.empty()) {
    // Its dependency's state now, not when it started waiting (it may have gone from stopping
    // to backoff meanwhile).
    const Service* dependency = find(service.waiting_for.str());
    status.waiting_for = dependency ? fmt::format("dependency {} ({})", service.waiting_for.str(),
                                                  to_string(dependency->state))
                                    : "dependency " + service.waiting_for.str();
  }
  if (service.state == ServiceState::stopping &&
      service.stop.phase == detail::StopPhase::awaiting_dependents)
    status.waiting_for = leaving_dependents_of(service);
  status.status_text.clear();
  status.error_number.reset();
  if (service.readiness) {
    status.status_text = service.readiness->status_text;
    status.error_number = service.readiness->error_number;
  }
  status.rejected_change.clear();
  if (service.config_change) status.rejected_change = service.config_change->rejected;
  status.watch_error.clear();
  if (!watch_errors.empty()) {
    if (auto file = watched_file_of(service)) {
      if (auto found = watch_errors.find(*file); found != watch_errors.end())
        status.watch_error = found->second;
    }
  }
  status.health = HealthState::none;
  status.health_failures = 0;
  status.health_detail.clear();
  status.health_checked_at.reset();
  if (service.settings().health) {
    status.health = service.health ? service.health->state : HealthState::unknown;
    if (service.health) {
      status.health_failures = service.health->failures;
      status.health_detail = service.health->detail;
      status.health_checked_at = service.health->checked_at;
    }
  }
  if (service.state == ServiceState::starting)
    status.waiting_for = readiness_awaited(service.settings());
  if (service.removed()) status.last_error = "removed from the configuration";
}

std::optional<ServiceStatus> ServiceSupervisor::status(std::string_view name) const {
  const Service* service = impl_->find(name);
  if (!service) return std::nullopt;
  return impl_->status_of(*service);
}

bool ServiceSupervisor::status_into(std::string_view name, ServiceStatus& out) const {
  const Service* service = impl_->find(name);
  if (!service) return false;
  impl_->fill_status(*service, out);
  return true;
}

std::vector<ServiceStatus> ServiceSupervisor::status() const {
  std::vector<ServiceStatus> all;
  all.reserve(impl_->services.size());
  for (const auto& [name, service] : impl_->services) all.push_back(impl_->status_of(*service));
  return all;
}

Config ServiceSupervisor::config() const {
  Config config;
  config.arm = impl_->arm;
  for (const auto& [name, service] : impl_->services)
    if (!service->removed()) config.services.emplace(name, service->spec.joined());
  return config;
}

const ArmSettings& ServiceSupervisor::settings() const {
  return impl_->arm;
}

std::size_t ServiceSupervisor::service_count() const {
  return static_cast<std::size_t>(std::ranges::count_if(
      impl_->services, [](const auto& entry) { return !entry.second->removed(); }));
}

std::string ServiceSupervisor::unknown_service_message(std::string_view name) const {
  return impl_->unknown_service_message(name);
}

bool ServiceSupervisor::shutting_down() const {
  return impl_->in_shutdown;
}

bool ServiceSupervisor::finished() const {
  return impl_->in_shutdown && impl_->by_pid.empty();
}

std::optional<TimePoint> ServiceSupervisor::next_deadline() const {
  if (impl_->deadlines.empty()) return std::nullopt;
  return std::get<0>(*impl_->deadlines.begin());
}

ARM_END_NAMESPACE
