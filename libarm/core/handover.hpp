// A live re-exec's handover (issue 15), read: what each service carries into the new
// supervisor, checked before anything is built from it. Private to libarm/core (handover.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "service.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

// One service's state as the handover carries it: the parts of a Service that are not its
// settings, its graph (resolved from the configuration) or what is derived from them
// (References::holders, StopOrder::leaving_dependents: counted again).
struct CarriedService {
  std::string name;
  int line = 0;  // where its table begins, for errors found once the configuration is known
  std::uint64_t serial = 0;
  ServiceState state = ServiceState::stopped;
  AfterExit after_exit = AfterExit::settle_stopped;
  Service::Process process;
  std::optional<TimePoint> deadline;
  std::unique_ptr<Service::Readiness> readiness;
  std::unique_ptr<Service::Health> health;  // never a probe in flight
  std::unique_ptr<Service::OnDemand> on_demand;
  // `step`: the check or reload command that was in flight (none is carried): run again.
  std::unique_ptr<Service::ConfigChange> config_change;
  Service::References references;
  Milliseconds backoff{0};
  std::vector<TimePoint> recent_restarts;
  unsigned restarts = 0;
  Attempt attempt = Attempt::first;
  std::vector<StartWaiter> start_waiters;  // each with nobody to answer
  Service::StopOrder stop;
  std::string last_error;
  std::string stop_reason;
  std::string waiting_for;
};

struct Handover {
  bool shutting_down = false;
  std::uint64_t last_probe_id = 0;
  std::uint64_t next_serial = 0;
  std::vector<std::string> killed_in_shutdown;
  std::vector<CarriedService> services;
};

}  // namespace detail
ARM_END_NAMESPACE
