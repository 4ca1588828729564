#include "protocol/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace armd::protocol {

namespace {

// Every state a service can be in, each written as a series of arm_service_state (1 for the
// one it is in, 0 for the others), as node_exporter's systemd collector does: a query can
// count services per state without knowing which states exist. Keep in step with ServiceState.
constexpr std::array all_states{arm::ServiceState::stopped,  arm::ServiceState::waiting,
                                arm::ServiceState::starting, arm::ServiceState::running,
                                arm::ServiceState::stopping, arm::ServiceState::backoff,
                                arm::ServiceState::failed,   arm::ServiceState::listening};

// One family's HELP and TYPE lines; its samples follow, and no other family's come between.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
}

void sample(std::string& out, std::string_view name, std::string_view labels, long long value) {
  out += fmt::format("{}{{{}}} {}\n", name, labels, value);
}

std::string service_label(const arm::ServiceStatus& status) {
  return fmt::format("service=\"{}\"", escape_label_value(status.name));
}

void per_service(std::string& out, const std::vector<arm::ServiceStatus>& services,
                 const MetricsInput& input) {
  family(out, "arm_service_up", "gauge", "1 if the service's process is running, else 0.");
  for (const auto& status : services)
    sample(out, "arm_service_up", service_label(status),
           status.state == arm::ServiceState::running ? 1 : 0);

  family(out, "arm_service_state", "gauge",
         "1 for the state the service is in, 0 for every other state.");
  for (const auto& status : services) {
    std::string label = service_label(status);
    for (auto state : all_states)
      sample(out, "arm_service_state", fmt::format("{},state=\"{}\"", label, arm::to_string(state)),
             status.state == state ? 1 : 0);
  }

  family(out, "arm_service_restarts_total", "counter",
         "Automatic restarts since the service was last started by a request (a start resets "
         "it).");
  for (const auto& status : services)
    sample(out, "arm_service_restarts_total", service_label(status), status.restarts);

  family(out, "arm_service_last_exit_code", "gauge",
         "Exit code of the service's last process, when it exited (not killed by a signal).");
  for (const auto& status : services)
    if (status.last_exit && status.last_exit->kind == arm::ExitStatus::Kind::exited)
      sample(out, "arm_service_last_exit_code", service_label(status), status.last_exit->value);

  family(out, "arm_service_last_exit_signal", "gauge",
         "Signal that killed the service's last process, when a signal did.");
  for (const auto& status : services)
    if (status.last_exit && status.last_exit->kind == arm::ExitStatus::Kind::signaled)
      sample(out, "arm_service_last_exit_signal", service_label(status), status.last_exit->value);

  family(out, "arm_service_start_time_seconds", "gauge",
         "When the service's running process started, in seconds since the Unix epoch.");
  for (const auto& status : services) {
    if (!status.running_since || !status.pid) continue;
    auto started = input.wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                        input.steady_now - *status.running_since);
    double seconds = std::chrono::duration<double>(started.time_since_epoch()).count();
    out += fmt::format("arm_service_start_time_seconds{{{}}} {:.3f}\n", service_label(status),
                       seconds);
  }

  family(out, "arm_service_refcount", "gauge",
         "References holding the service up: requests, default_services and hard dependents.");
  for (const auto& status : services)
    sample(out, "arm_service_refcount", service_label(status), status.refcount);
}

// arm_service_healthy (issue 13): 1 healthy, 0 unhealthy; no sample for a service without a
// health check or whose health is not known yet (just started, not running), so that a
// dashboard's "healthy == 0" means a probe said so. The family is written only when some
// service has a sample. (arm_service_ready is not written: nothing says readiness apart from
// the state, which arm_service_state has.)
void readiness_and_health(std::string& out, const std::vector<arm::ServiceStatus>& services) {
  bool any = std::ranges::any_of(services, [](const arm::ServiceStatus& status) {
    return status.health == arm::HealthState::healthy ||
           status.health == arm::HealthState::unhealthy;
  });
  if (!any) return;
  family(out, "arm_service_healthy", "gauge",
         "1 if the service's latest health probes say healthy, 0 if unhealthy; absent when it "
         "has no health check or its health is not known.");
  for (const auto& status : services) {
    if (status.health == arm::HealthState::healthy)
      sample(out, "arm_service_healthy", service_label(status), 1);
    else if (status.health == arm::HealthState::unhealthy)
      sample(out, "arm_service_healthy", service_label(status), 0);
  }
}

void daemon_wide(std::string& out, const MetricsInput& input, std::size_t service_count) {
  family(out, "arm_services", "gauge", "Services configured.");
  out += fmt::format("arm_services {}\n", service_count);
  family(out, "arm_clients", "gauge", "Control socket connections open.");
  out += fmt::format("arm_clients {}\n", input.counters.clients);
  family(out, "arm_requests_total", "counter",
         "Request lines armd received on its control socket, bad ones included.");
  out += fmt::format("arm_requests_total {}\n", input.counters.requests);
  family(out, "arm_events_total", "counter", "Service state changes armd handled.");
  out += fmt::format("arm_events_total {}\n", input.counters.events);
  family(out, "arm_build_info", "gauge", "Always 1; its label is armd's version.");
  out += fmt::format("arm_build_info{{version=\"{}\"}} 1\n", escape_label_value(input.version));
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string encode_metrics(const MetricsInput& input) {
  static const std::vector<arm::ServiceStatus> none;
  const auto& services = input.services ? *input.services : none;
  std::string out;
  out.reserve(1024 + services.size() * 900);
  per_service(out, services, input);
  readiness_and_health(out, services);
  daemon_wide(out, input, services.size());
  return out;
}

}  // namespace armd::protocol
