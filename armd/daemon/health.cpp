#include "health.hpp"

#include "log.hpp"

namespace armd {

std::expected<HealthProbes, std::string> HealthProbes::create(
    arm::posix::SpawnerOptions::DescriptorLimit child_nofile) {
  auto prober = arm::posix::PosixProber::create(child_nofile);
  if (!prober) return std::unexpected(prober.error().message);
  return HealthProbes(std::move(*prober));
}

void HealthProbes::collect(arm::ServiceSupervisor& supervisor) {
  // A result for a probe the supervisor gave up on (timed out, cancelled) is simply ignored.
  prober_->collect([&](arm::ProbeId id, const arm::ProbeResult& result) {
    supervisor.on_probe_result(id, result);
  });
}

void log_health_change(const arm::ServiceEvent& event) {
  Level level = *event.health == arm::HealthState::unhealthy ? Level::warning : Level::info;
  if (event.detail.empty())
    log_service(level, event.service, "{}", arm::to_string(*event.health));
  else
    log_service(level, event.service, "{} ({})", arm::to_string(*event.health), event.detail);
}

}  // namespace armd
