// `[arm] metrics_listen`: a small HTTP/1.x server in armd's poll loop that answers
// `GET /metrics` with the Prometheus text, one request per connection (`Connection: close`).
// It never blocks the loop and a hostile peer costs it little:
// - every socket is non-blocking; the response is written as the peer takes it;
// - a request head is at most max_request_bytes (more: 431, then close);
// - each connection has exchange_deadline to send its request and take the answer (a slowloris
//   peer is closed then), and a short linger after the answer to read what it still sends;
// - at most max_connections at once: a new connection beyond it closes the oldest, so a pile of
//   idle connections cannot lock a scraper out.
// With no connection open it asks for no wake-up (next_wakeup() is nullopt): an idle armd stays
// idle.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/config.hpp"
#include "arm/posix/unique_fd.hpp"
#include "repeated_message.hpp"

namespace armd {

// What a request head (the bytes up to and including its blank line) asks for, as an HTTP status.
struct HttpVerdict {
  int status = 400;  // 200 (GET /metrics), 400, 404 or 405
  std::string_view reason;
};
HttpVerdict judge_metrics_request(std::string_view head);

class MetricsHttpServer {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t max_request_bytes = 8 * 1024;
  static constexpr std::size_t max_connections = 64;
  static constexpr Clock::duration exchange_deadline = std::chrono::seconds(10);
  static constexpr Clock::duration linger = std::chrono::seconds(2);

  // Binds and listens; the error names the address ("cannot listen on 127.0.0.1:9321: ...").
  static std::expected<MetricsHttpServer, std::string> listen(const arm::ListenAddress& address);
  MetricsHttpServer(MetricsHttpServer&&) noexcept = default;
  MetricsHttpServer& operator=(MetricsHttpServer&&) noexcept = default;

  // The host's poll loop, as ControlServer's: append our descriptors, then hand back the array.
  // Connections past their deadline are closed here.
  void add_poll_fds(std::vector<pollfd>& fds, Clock::time_point now);
  // `metrics` is called for each GET /metrics, for the body.
  void handle_poll(const std::vector<pollfd>& fds, const std::function<std::string()>& metrics);
  // The earliest deadline of an open connection (or of a paused accept); nullopt when none.
  std::optional<Clock::time_point> next_wakeup() const;
  std::size_t connection_count() const { return connections_.size(); }
  const std::string& address() const { return address_; }  // "127.0.0.1:9321"
  const arm::ListenAddress& listen_address() const { return listen_address_; }

 private:
  struct Connection {
    arm::posix::UniqueFd fd;
    std::string input;
    std::string output;  // the response, while it is being written
    Clock::time_point deadline;
    bool lingering = false;  // the response is written and our side shut: drain until EOF
  };

  MetricsHttpServer(arm::posix::UniqueFd fd, arm::ListenAddress address);
  void accept_new(Clock::time_point now);
  // False when the connection is finished with (to be closed).
  bool read_from(Connection& connection, const std::function<std::string()>& metrics);
  bool write_to(Connection& connection);
  void respond(Connection& connection, int status, std::string_view reason, std::string body,
               bool metrics);

  arm::posix::UniqueFd listen_fd_;
  arm::ListenAddress listen_address_;
  std::string address_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Connection> connections_;  // by arrival: the oldest first
  std::optional<Clock::time_point> accept_paused_until_;
  RepeatedMessage accept_failures_{std::chrono::seconds(10)};
  // Where our fds are in the poll array; `polled_` false for a listener made during the turn (a
  // reload), whose fds were not in it.
  bool polled_ = false;
  std::size_t first_index_ = 0;
  std::vector<std::uint64_t> polled_order_;
};

}  // namespace armd
