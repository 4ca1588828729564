// Names of the core's enums, as they appear in logs, status and the protocol.
#include "arm/supervisor.hpp"

ARM_BEGIN_NAMESPACE

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
    case ServiceState::listening:
      return "listening";
  }
  return "unknown";
}

std::string_view to_string(HealthState state) {
  switch (state) {
    case HealthState::none:
      return "none";
    case HealthState::unknown:
      return "unknown";
    case HealthState::healthy:
      return "healthy";
    case HealthState::unhealthy:
      return "unhealthy";
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
    case Outcome::reloaded:
      return "reloaded";
    case Outcome::check_failed:
      return "check_failed";
    case Outcome::reload_failed:
      return "reload_failed";
    case Outcome::no_reload:
      return "no_reload";
  }
  return "unknown";
}

bool is_failure(Outcome outcome) {
  switch (outcome) {
    case Outcome::unknown_service:
    case Outcome::start_failed:
    case Outcome::shutting_down:
    case Outcome::check_failed:
    case Outcome::reload_failed:
    case Outcome::no_reload:
      return true;
    case Outcome::started:
    case Outcome::already_running:
    case Outcome::restarted:
    case Outcome::stopped:
    case Outcome::still_referenced:
    case Outcome::not_running:
    case Outcome::shutdown_complete:
    case Outcome::reset:
    case Outcome::reloaded:
      return false;
  }
  return true;
}

ARM_END_NAMESPACE
