// The control socket: a Unix stream listener and its connections, as line-oriented byte pipes.
// It knows nothing of JSON or services; it hands complete lines to a LineHandler and sends
// what it is given. Every socket is non-blocking, so one slow or stalled client never delays
// another: its unsent output waits in its own buffer, and a client that stops reading for too
// long (more than max_queued_output bytes queued behind the reply being sent) is disconnected.
//
// A client that shuts down its write side (end of input, `printf ... | socat`) is still owed
// the replies to what it asked: the connection stays until the LineHandler says nothing more is
// awaited and the output is written, then closes. A peer that closed entirely is dropped.
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
#include "repeated_message.hpp"

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
  // Whether requests of this connection are still to be answered: a half-closed connection is
  // kept open until they are.
  virtual bool awaiting_replies(ConnectionId connection) const = 0;
};

class ControlServer {
 public:
  // Output queued behind the first unsent reply. The reply being sent may be larger (status of
  // 10,000 services is about 4 MiB): a reply is never cut, but a client that lets more than
  // this pile up behind it does not read, and is disconnected. The largest line queued does not
  // count either, so a large reply behind a subscriber's events does not disconnect it.
  static constexpr std::size_t max_queued_output = 1024 * 1024;

  // Claims `path` (its directory checked, `<path>.lock` locked: see socket_claim.hpp), then
  // binds it with mode 0600. A stale socket file is replaced; a lock held by another armd, or
  // something listening there anyway, is an error.
  static std::expected<ControlServer, std::string> listen(const std::string& path,
                                                          std::size_t max_line,
                                                          LineHandler& handler);
  // Live re-exec (issue 15): a server over the lock and listening socket a previous armd of this
  // process held (kept across exec): clients that connected meanwhile wait in its backlog.
  static ControlServer adopt(arm::posix::UniqueFd lock_fd, arm::posix::UniqueFd listen_fd,
                             std::string path, std::size_t max_line, LineHandler& handler);
  // The descriptors adopt() takes, for the armd that execs.
  int lock_fd() const { return lock_fd_.get(); }
  int listen_fd() const { return listen_fd_.get(); }
  // The connection's socket, for an armd that execs to answer it after (flush_all() first); -1
  // when it is gone.
  int connection_fd(ConnectionId connection) const;
  // Takes over a connection the previous armd kept across exec, without greeting it (it was
  // greeted), as a new connection: its id is returned.
  ConnectionId adopt_connection(arm::posix::UniqueFd fd);
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
  // send() in two steps, for a reply written in place (the status of one service, the most
  // frequent request) instead of built apart and copied: line_buffer() is the connection's
  // output, to which the caller appends one line (ending in '\n'), then commit_line() with the
  // size the output had before, which queues it as send() would (or drops the connection for
  // not reading, and the line with its output). Null, and nothing to commit, when the connection
  // is gone or being dropped. Nothing else may be sent between the two.
  std::string* line_buffer(ConnectionId connection);
  bool commit_line(ConnectionId connection, std::size_t line_start);
  // While the lines of one read are handled, their replies are queued and written together
  // after the last; this much queued is written at once (a reply to `status` of thousands of
  // services is not held back).
  static constexpr std::size_t replies_written_at = 64 * 1024;
  // Bytes queued for the connection and not yet written; nullopt when it is gone or being
  // dropped. Lets a sender that may skip (a log follower) stay below max_queued_output.
  std::optional<std::size_t> queued_output(ConnectionId connection) const;
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
    bool closing = false;      // no more reading; close when output is flushed
    bool input_ended = false;  // the peer shut its write side; close once all is answered
    bool gone = false;         // being dropped (peer gone, or not reading): queue nothing more
    bool hung_up = false;      // a write failed: the peer closed (its requests still count)
    // The largest line in `output`: where it ends there, and how much of it is unsent. It is
    // the one line max_queued_output does not count (a large reply behind a subscriber's
    // events is still the reply being sent, in effect).
    std::size_t largest_line_end = 0;
    std::size_t largest_line_size = 0;
  };

  ControlServer(arm::posix::UniqueFd lock_fd, arm::posix::UniqueFd listen_fd, std::string path,
                std::size_t max_line, LineHandler& handler);
  void accept_new();
  void read_from(ConnectionId id, Connection& connection);
  void end_of_input(ConnectionId id, Connection& connection);
  void write_to(ConnectionId id, Connection& connection);
  // Writes what the lines of the read just handled were answered (see replies_written_at).
  void end_replies(ConnectionId id);
  bool finished_with(ConnectionId id, const Connection& connection) const;
  void drop(ConnectionId id);
  void carry_out_what_was_sent(ConnectionId id);
  void release_memory_after_drops();

  // Held for the server's life, never unlinked: this armd alone may touch the socket file.
  arm::posix::UniqueFd lock_fd_;
  arm::posix::UniqueFd listen_fd_;  // empty once moved from: then the file is not ours
  std::string path_;
  std::size_t max_line_;
  LineHandler* handler_;
  ConnectionId next_id_ = 1;
  // The connection whose lines are being handled (0: none): its replies wait for end_replies().
  ConnectionId replying_to_ = 0;
  std::unordered_map<ConnectionId, Connection> connections_;
  // replying_to_'s entry (null once dropped): each reply to a pipelined request finds its
  // connection here instead of in the map, three times a request (the map's nodes stay put).
  Connection* replying_connection_ = nullptr;
  Connection* find_connection(ConnectionId id) {
    if (id == replying_to_ && id != 0) return replying_connection_;
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : &it->second;
  }
  // send() and close_after_flush() run inside the supervisor's Notifier calls; dropping there
  // would call back into the supervisor (client_gone). Drops wait for the next loop turn.
  std::vector<ConnectionId> pending_drops_;
  // Out of descriptors, accept() fails at once while the listening socket stays readable: stop
  // polling it for a moment instead of spinning, and let served clients go on meanwhile.
  std::optional<std::chrono::steady_clock::time_point> accept_paused_until_;
  RepeatedMessage accept_failures_{std::chrono::seconds(10)};
  // Bytes of buffer capacity freed by drops since the heap was last trimmed.
  std::size_t freed_since_trim_ = 0;
  std::size_t first_index_ = 0;             // where our fds begin in the poll array
  std::vector<ConnectionId> polled_order_;  // the connection polled at first_index_ + 1 + i
};

}  // namespace armd
