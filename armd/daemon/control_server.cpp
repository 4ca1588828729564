#include "control_server.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "log.hpp"
#include "socket_claim.hpp"

namespace armd {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

// A buffer that held a large reply keeps its capacity after the reply is written; past this it is
// handed back, so an idle connection costs little whatever it was once sent.
constexpr std::size_t kept_buffer_capacity = 64 * 1024;
// Dropped connections free their buffers into malloc's free lists; past this much since the last
// time, the heap is trimmed so that the memory goes back to the system.
constexpr std::size_t trim_after_freeing = 1024 * 1024;

void release_if_large(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > kept_buffer_capacity) std::string().swap(buffer);
}

std::expected<sockaddr_un, std::string> unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path))
    return std::unexpected(fmt::format("socket path '{}' is empty or longer than {} bytes", path,
                                       sizeof(address.sun_path) - 1));
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// True when something accepts connections on `path`.
bool someone_listens(const sockaddr_un& address) {
  arm::posix::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return false;
  return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

// Only our own user (and root) may drive us.
bool peer_allowed(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return false;
  return credentials.uid == 0 || credentials.uid == ::geteuid();
}

}  // namespace

std::expected<ControlServer, std::string> ControlServer::listen(const std::string& path,
                                                                std::size_t max_line,
                                                                LineHandler& handler) {
  auto address = unix_address(path);
  if (!address) return std::unexpected(address.error());
  // One armd per path: only the holder of the lock beside it touches the socket file.
  auto lock = claim_socket_path(path);
  if (!lock) return std::unexpected(lock.error());
  // With the lock ours, a live listener is not an armd of this version: leave it alone.
  if (someone_listens(*address))
    return std::unexpected(fmt::format(
        "{}: something is already listening there, without holding {}; not replacing it", path,
        lock_path_for(path)));
  struct stat existing {};
  if (::lstat(path.c_str(), &existing) == 0 && !S_ISSOCK(existing.st_mode))
    return std::unexpected(fmt::format("{}: exists and is not a socket; not replacing it", path));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return std::unexpected(fmt::format("cannot remove stale socket {}: {}", path, errno_text()));

  arm::posix::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return std::unexpected(fmt::format("socket: {}", errno_text()));
  // The mode is decided at bind time by the umask; set it so no other user ever sees it open.
  mode_t old_mask = ::umask(0177);
  int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address);
  int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0)
    return std::unexpected(fmt::format("cannot bind {}: {}", path, std::strerror(bind_errno)));
  if (::listen(fd.get(), 128) != 0) {
    std::string why = errno_text();
    ::unlink(path.c_str());
    return std::unexpected(fmt::format("cannot listen on {}: {}", path, why));
  }
  return ControlServer(std::move(*lock), std::move(fd), path, max_line, handler);
}

ControlServer::ControlServer(arm::posix::UniqueFd lock_fd, arm::posix::UniqueFd listen_fd,
                             std::string path, std::size_t max_line, LineHandler& handler)
    : lock_fd_(std::move(lock_fd)),
      listen_fd_(std::move(listen_fd)),
      path_(std::move(path)),
      max_line_(max_line),
      handler_(&handler) {}

ControlServer ControlServer::adopt(arm::posix::UniqueFd lock_fd, arm::posix::UniqueFd listen_fd,
                                   std::string path, std::size_t max_line, LineHandler& handler) {
  return ControlServer(std::move(lock_fd), std::move(listen_fd), std::move(path), max_line,
                       handler);
}

int ControlServer::connection_fd(ConnectionId connection) const {
  auto found = connections_.find(connection);
  return found == connections_.end() || found->second.gone ? -1 : found->second.fd.get();
}

ConnectionId ControlServer::adopt_connection(arm::posix::UniqueFd fd) {
  ConnectionId id = next_id_++;
  Connection connection;
  connection.fd = std::move(fd);
  connections_.emplace(id, std::move(connection));
  return id;
}

ControlServer::~ControlServer() {
  connections_.clear();
  if (listen_fd_) {
    listen_fd_.reset();
    ::unlink(path_.c_str());
  }
}

void ControlServer::add_poll_fds(std::vector<pollfd>& fds) {
  for (ConnectionId id : std::exchange(pending_drops_, {})) drop(id);
  // Half-closed connections whose last reply went out during the previous turn.
  std::vector<ConnectionId> finished;
  for (const auto& [id, connection] : connections_) {
    if (finished_with(id, connection)) finished.push_back(id);
  }
  for (ConnectionId id : finished) drop(id);
  release_memory_after_drops();
  first_index_ = fds.size();
  if (accept_paused_until_ && std::chrono::steady_clock::now() >= *accept_paused_until_)
    accept_paused_until_.reset();
  // A negative fd is ignored by poll(2): the slot stays, so indexes do not shift.
  fds.push_back({accept_paused_until_ ? -1 : listen_fd_.get(), POLLIN, 0});
  polled_order_.clear();
  for (auto& [id, connection] : connections_) {
    short events = connection.closing || connection.input_ended ? 0 : POLLIN;
    if (!connection.output.empty()) events |= POLLOUT;
    fds.push_back({connection.fd.get(), events, 0});
    polled_order_.push_back(id);
  }
}

void ControlServer::handle_poll(const std::vector<pollfd>& fds) {
  for (std::size_t i = 0; i < polled_order_.size(); ++i) {
    const pollfd& polled = fds[first_index_ + 1 + i];
    if (polled.revents == 0) continue;
    ConnectionId id = polled_order_[i];
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;  // dropped while handling an earlier one
    Connection& connection = it->second;
    if (polled.revents & POLLOUT) write_to(id, connection);
    if (connection.closing || connection.input_ended) {
      // Not reading any more: a hang-up here means the peer closed entirely, and nothing more
      // can reach it.
      if (polled.revents & (POLLHUP | POLLERR)) {
        drop(id);
        continue;
      }
    } else if (polled.revents & (POLLIN | POLLHUP | POLLERR)) {
      read_from(id, connection);
    }
    it = connections_.find(id);
    if (it == connections_.end()) continue;
    if (finished_with(id, it->second)) drop(id);
  }
  if (fds[first_index_].revents & POLLIN) accept_new();
}

std::optional<std::chrono::steady_clock::time_point> ControlServer::next_wakeup() const {
  return accept_paused_until_;
}

void ControlServer::accept_new() {
  // Accept a bounded batch per wake-up, so a connection storm cannot starve served clients.
  for (int batch = 0; batch < 64; ++batch) {
    arm::posix::UniqueFd fd(
        ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::string why = errno_text();
        auto now = std::chrono::steady_clock::now();
        std::size_t suppressed = 0;
        if (accept_failures_.due(now, suppressed)) {
          if (suppressed == 0)
            log(Level::error,
                "accept on {}: {}; not accepting for 100 ms at a time (repeats are summed up "
                "every 10 s)",
                path_, why);
          else
            log(Level::error, "accept on {}: {} (and {} more times in the last 10 s)", path_, why,
                suppressed);
        }
        accept_paused_until_ = now + std::chrono::milliseconds(100);
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log(Level::error, "accept on {}: {}", path_, errno_text());
      }
      return;
    }
    if (!peer_allowed(fd.get())) {
      log(Level::warning, "refused a connection from another user (SO_PEERCRED)");
      continue;
    }
    ConnectionId id = next_id_++;
    Connection connection;
    connection.fd = std::move(fd);
    connections_.emplace(id, std::move(connection));
    handler_->on_connect(id);
  }
}

void ControlServer::read_from(ConnectionId id, Connection& connection) {
  char chunk[16384];
  ssize_t got = ::recv(connection.fd.get(), chunk, sizeof chunk, MSG_DONTWAIT);
  if (got == 0) {
    end_of_input(id, connection);
    return;
  }
  if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    drop(id);
    return;
  }
  if (got < 0) return;
  connection.input.append(chunk, static_cast<std::size_t>(got));

  // The replies to every line of this read go out together, after the loop (see send()).
  replying_to_ = id;
  replying_connection_ = &connection;
  std::size_t begin = 0;
  for (std::size_t newline; (newline = connection.input.find('\n', begin)) != std::string::npos;
       begin = newline + 1) {
    if (newline - begin + 1 > max_line_) break;
    handler_->on_line(id, std::string_view(connection.input).substr(begin, newline - begin));
    // The handler may have closed or dropped this connection.
    if (!replying_connection_ || replying_connection_->closing) {
      end_replies(id);
      return;
    }
  }
  end_replies(id);
  connection.input.erase(0, begin);
  release_if_large(connection.input);
  std::size_t first_line = connection.input.find('\n');
  std::size_t pending = first_line == std::string::npos ? connection.input.size() : first_line + 1;
  if (pending > max_line_) {
    connection.input.clear();
    connection.closing = true;
    handler_->on_line_too_long(id);
  }
}

// The peer shut its write side. A last line without its newline still counts as a request (what
// `printf '{...}' | socat` sends); the connection then stays until it has every reply.
void ControlServer::end_of_input(ConnectionId id, Connection& connection) {
  connection.input_ended = true;
  if (!connection.input.empty()) {
    std::string last = std::exchange(connection.input, {});
    handler_->on_line(id, last);
  }
}

bool ControlServer::finished_with(ConnectionId id, const Connection& connection) const {
  if (!connection.output.empty()) return false;
  if (connection.closing) return true;
  return connection.input_ended && !handler_->awaiting_replies(id);
}

void ControlServer::write_to(ConnectionId id, Connection& connection) {
  while (!connection.output.empty()) {
    ssize_t sent = ::send(connection.fd.get(), connection.output.data(), connection.output.size(),
                          MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        // EPIPE, ECONNRESET: the peer closed; what it was owed cannot reach it. (What it sent
        // is still carried out, unless armd had stopped reading it already.)
        std::string().swap(connection.output);
        connection.hung_up = !connection.closing && !connection.input_ended && !connection.gone;
        connection.gone = true;
        connection.closing = true;
        pending_drops_.push_back(id);
      }
      return;
    }
    auto written = static_cast<std::size_t>(sent);
    connection.output.erase(0, written);
    if (connection.largest_line_end <= written) {
      connection.largest_line_end = connection.largest_line_size = 0;
    } else {
      connection.largest_line_end -= written;
      connection.largest_line_size =
          std::min(connection.largest_line_size, connection.largest_line_end);
    }
  }
  release_if_large(connection.output);
}

bool ControlServer::send(ConnectionId id, std::string_view line) {
  std::string* output = line_buffer(id);
  if (!output) return false;
  std::size_t line_start = output->size();
  output->append(line);
  return commit_line(id, line_start);
}

std::string* ControlServer::line_buffer(ConnectionId id) {
  Connection* connection = find_connection(id);
  if (!connection || connection->gone) return nullptr;
  return &connection->output;
}

bool ControlServer::commit_line(ConnectionId id, std::size_t line_start) {
  Connection* found = find_connection(id);
  if (!found) return false;
  Connection& connection = *found;
  std::size_t line_size = connection.output.size() - line_start;
  // Only what waits beside the reply being sent counts (every queued line ends in '\n', and a
  // reply holds no raw newline); see max_queued_output. Nor does the largest line queued: a
  // subscriber's or log follower's events may be ahead of a large reply.
  if (line_start != 0 && connection.output.size() > max_queued_output) {
    std::size_t first_line = connection.output.find('\n') + 1;
    std::size_t largest = std::max({first_line, connection.largest_line_size, line_size});
    std::size_t behind = connection.output.size() - largest;
    if (behind > max_queued_output) {
      log(Level::warning, "client {} does not read its replies ({} bytes queued); disconnecting it",
          id, line_start);
      std::string().swap(connection.output);
      connection.gone = true;
      connection.closing = true;
      pending_drops_.push_back(id);
      return false;
    }
  }
  if (line_size >= connection.largest_line_size) {
    connection.largest_line_size = line_size;
    connection.largest_line_end = connection.output.size();
  }
  // Most replies fit the socket buffer: no need to wait for POLLOUT. But the replies to the lines
  // of one read are written together, once they are all queued: a send per reply would cost a
  // system call and a wake-up of the client each (most of pipelined requests' cost).
  if (id != replying_to_ || connection.output.size() >= replies_written_at)
    write_to(id, connection);
  return true;
}

void ControlServer::end_replies(ConnectionId id) {
  Connection* connection = find_connection(id);
  replying_to_ = 0;
  replying_connection_ = nullptr;
  if (connection && !connection->output.empty()) write_to(id, *connection);
}

std::optional<std::size_t> ControlServer::queued_output(ConnectionId id) const {
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second.gone || it->second.closing) return std::nullopt;
  return it->second.output.size();
}

void ControlServer::close_after_flush(ConnectionId id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  it->second.closing = true;
  if (it->second.output.empty()) pending_drops_.push_back(id);
}

void ControlServer::flush_all(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> fds;
    for (auto& [id, connection] : connections_) {
      if (!connection.output.empty()) fds.push_back({connection.fd.get(), POLLOUT, 0});
    }
    if (fds.empty()) return;
    ::poll(fds.data(), fds.size(), 50);
    for (auto& [id, connection] : connections_) write_to(id, connection);
  }
}

// A peer that sent its requests and closed at once (before armd could even greet it) still
// has them carried out, as it would had armd read them a moment earlier; only the replies are
// lost. Bounded, so that a flood of such connections costs no more than ordinary requests: what
// one read returns, at most a few lines of it.
void ControlServer::carry_out_what_was_sent(ConnectionId id) {
  constexpr int most_lines = 8;
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second.input_ended) return;
  Connection& connection = it->second;
  if (connection.closing && !connection.hung_up) return;
  char chunk[16384];
  ssize_t got = ::recv(connection.fd.get(), chunk, sizeof chunk, MSG_DONTWAIT);
  if (got <= 0) return;
  connection.input.append(chunk, static_cast<std::size_t>(got));
  std::string input = std::exchange(connection.input, {});
  std::size_t begin = 0;
  int lines = 0;
  for (std::size_t newline;
       lines < most_lines && (newline = input.find('\n', begin)) != std::string::npos;
       begin = newline + 1, ++lines) {
    if (newline - begin + 1 > max_line_) return;
    handler_->on_line(id, std::string_view(input).substr(begin, newline - begin));
    if (!connections_.contains(id)) return;
  }
}

void ControlServer::drop(ConnectionId id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  if (it->second.hung_up) {
    carry_out_what_was_sent(id);
    it = connections_.find(id);
    if (it == connections_.end()) return;
  }
  freed_since_trim_ += it->second.input.capacity() + it->second.output.capacity();
  if (id == replying_to_) replying_connection_ = nullptr;
  connections_.erase(it);  // closes the socket
  handler_->on_disconnect(id);
}

void ControlServer::release_memory_after_drops() {
  if (freed_since_trim_ < trim_after_freeing) return;
  freed_since_trim_ = 0;
  malloc_trim(0);
}

}  // namespace armd
