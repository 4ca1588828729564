// The control socket: a Unix stream listener and its connections, as line-oriented byte pipes.
// It knows nothing of JSON or services; it hands complete lines to a LineHandler and sends
// what it is given. Every socket is non-blocking, so one slow or stalled client never delays
// another: its unsent output waits in its own buffer, and a client that stops reading for too
// long (more than max_pending_output bytes queued) is disconnected.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "arm/posix/unique_fd.hpp"

namespace armd {

using ConnectionId = std::uint64_t;

class LineHandler {
 public:
  virtual ~LineHandler() = default;
  virtual void on_connect(ConnectionId connection) = 0;
  // One complete line, without its '\n'.
  virtual void on_line(ConnectionId connection, std::string_view line) = 0;
  // A line longer than the limit arrived; the connection is closed after what is queued.
  virtual void on_line_too_long(ConnectionId connection) = 0;
  virtual void on_disconnect(ConnectionId connection) = 0;
};

class ControlServer {
 public:
  static constexpr std::size_t max_pending_output = 64 * 1024 * 1024;

  // Claims `path` (its directory checked, `<path>.lock` locked: see socket_claim.hpp), then
  // binds it with mode 0600. A stale socket file is replaced; a lock held by another armd, or
  // something listening there anyway, is an error.
  static std::expected<ControlServer, std::string> listen(const std::string& path,
                                                          std::size_t max_line,
                                                          LineHandler& handler);
  ControlServer(ControlServer&& other) noexcept = default;
  ControlServer& operator=(ControlServer&&) = delete;
  // Closes every connection and the listening socket, and removes the socket file; then lets go
  // of the lock (whose file stays).
  ~ControlServer();

  // The host's poll loop: append our descriptors, then hand back the same array.
  void add_poll_fds(std::vector<pollfd>& fds);
  void handle_poll(const std::vector<pollfd>& fds);
  // When the server needs a wake-up of its own (accepting paused after running out of
  // descriptors); nullopt when it has nothing scheduled.
  std::optional<std::chrono::steady_clock::time_point> next_wakeup() const;

  // Queues a line (which must end in '\n'). Returns false if the connection is gone or is
  // being dropped for not reading. Never calls back into the LineHandler.
  bool send(ConnectionId connection, std::string_view line);
  // Closes the connection once everything queued for it is written.
  void close_after_flush(ConnectionId connection);
  // Best effort at exit: writes what is queued, waiting at most `timeout_ms` in total.
  void flush_all(int timeout_ms);
  std::size_t connection_count() const { return connections_.size(); }

 private:
  struct Connection {
    arm::posix::UniqueFd fd;
    std::string input;
    std::string output;
    bool closing = false;  // no more reading; close when output is flushed
  };

  ControlServer(arm::posix::UniqueFd lock_fd, arm::posix::UniqueFd listen_fd, std::string path,
                std::size_t max_line, LineHandler& handler);
  void accept_new();
  void read_from(ConnectionId id, Connection& connection);
  void write_to(Connection& connection);
  void drop(ConnectionId id);

  // Held for the server's life, never unlinked: this armd alone may touch the socket file.
  arm::posix::UniqueFd lock_fd_;
  arm::posix::UniqueFd listen_fd_;  // empty once moved from: then the file is not ours
  std::string path_;
  std::size_t max_line_;
  LineHandler* handler_;
  ConnectionId next_id_ = 1;
  std::unordered_map<ConnectionId, Connection> connections_;
  // send() and close_after_flush() run inside the supervisor's Notifier calls; dropping there
  // would call back into the supervisor (client_gone). Drops wait for the next loop turn.
  std::vector<ConnectionId> pending_drops_;
  // Out of descriptors, accept() fails at once while the listening socket stays readable: stop
  // polling it for a moment instead of spinning, and let served clients go on meanwhile.
  std::optional<std::chrono::steady_clock::time_point> accept_paused_until_;
  std::size_t first_index_ = 0;             // where our fds begin in the poll array
  std::vector<ConnectionId> polled_order_;  // the connection polled at first_index_ + 1 + i
};

}  // namespace armd
