// armd's metrics (issue 13): the text `armctl metrics` and GET /metrics return, and the
// `[arm] metrics_listen` listener's address. The text itself is written by protocol/metrics.cpp.
#include <chrono>

#include "daemon.hpp"
#include "log.hpp"
#include "protocol/metrics.hpp"
#include "protocol/protocol.hpp"

namespace armd {

std::string Daemon::metrics_text() const {
  std::vector<arm::ServiceStatus> services = supervisor_->status();
  protocol::MetricsInput input;
  input.services = &services;
  input.counters.clients = server_ ? server_->connection_count() : 0;
  input.counters.requests = requests_received_;
  input.counters.events = events_handled_;
  input.version = protocol::server_version;
  // Both clocks at one moment: a start time is the wall clock less how long ago it was.
  input.steady_now = clock_.now();
  input.wall_now = std::chrono::system_clock::now();
  return protocol::encode_metrics(input);
}

std::optional<arm::ListenAddress> Daemon::listening_for_metrics() const {
  if (!metrics_http_) return std::nullopt;
  return metrics_http_->listen_address();
}

std::expected<MetricsHttpServer, std::string> Daemon::listen_for_metrics_reload(
    const arm::ListenAddress& wanted, std::optional<arm::ListenAddress>& released) {
  auto listener = MetricsHttpServer::listen(wanted);
  // Linux refuses a wildcard and a specific address on one port (SO_REUSEADDR or not): the old
  // listener on that port may be all that is in the way.
  if (listener || !metrics_http_ || metrics_http_->listen_address().port != wanted.port)
    return listener;
  released = metrics_http_->listen_address();
  metrics_http_.reset();
  listener = MetricsHttpServer::listen(wanted);
  if (!listener) restore_metrics_listener(released);
  return listener;
}

void Daemon::restore_metrics_listener(std::optional<arm::ListenAddress>& released) {
  if (!released) return;
  auto listener = MetricsHttpServer::listen(*released);
  if (listener)
    metrics_http_.emplace(std::move(*listener));
  else
    log(Level::error, "reload refused, and metrics are no longer served: {}", listener.error());
  released.reset();
}

}  // namespace armd
