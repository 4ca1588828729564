// armd's side of health probes (issue 13): the POSIX prober the supervisor starts probes with,
// its descriptor in armd's loop, and its results handed back to the supervisor.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "arm/posix/prober.hpp"
#include "arm/supervisor.hpp"

namespace armd {

class HealthProbes {
 public:
  // `child_nofile`: the descriptor limit exec probes get (what services get).
  static std::expected<HealthProbes, std::string> create(
      arm::posix::SpawnerOptions::DescriptorLimit child_nofile);

  // For the supervisor's constructor: it must outlive the supervisor.
  arm::Prober* prober() { return prober_.get(); }
  int fd() const { return prober_->fd(); }
  // Reads what the probes found and reports it to `supervisor`.
  void collect(arm::ServiceSupervisor& supervisor);
  // Before a re-exec: every probe in flight ends, unreported (PosixProber::end_all).
  void end_all() { prober_->end_all(); }
  // An exec probe's process: armd's reaping of adopted children must leave it to the prober.
  bool owns_process(arm::ProcessId pid) const { return prober_->owns_process(pid); }

 private:
  explicit HealthProbes(std::unique_ptr<arm::posix::PosixProber> prober)
      : prober_(std::move(prober)) {}
  std::unique_ptr<arm::posix::PosixProber> prober_;
};

// armd's log line for a change of health: "healthy (exit code 0)", "unhealthy (HTTP 503 ...)".
void log_health_change(const arm::ServiceEvent& event);

}  // namespace armd
