#include "metrics_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "log.hpp"
#include "protocol/metrics.hpp"

namespace armd {

namespace {

// Where the request head ends (after its blank line), or npos while it has not arrived.
// Bare LF line ends are accepted, as most servers do.
std::size_t head_end(std::string_view input) {
  auto crlf = input.find("\r\n\r\n");
  auto lf = input.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string_view::npos;
  if (crlf == std::string_view::npos) return lf + 2;
  if (lf == std::string_view::npos) return crlf + 4;
  return std::min(crlf + 4, lf + 2);
}

// The path of a request target. Besides the usual origin-form ("/metrics?x"), RFC 9112 3.2.2
// has servers accept the absolute-form ("http://host:9321/metrics") that a client talking to a
// proxy sends; its scheme and authority are dropped. nullopt: neither form.
std::optional<std::string_view> target_path(std::string_view target) {
  if (!target.starts_with('/')) {
    auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return std::nullopt;
    std::string scheme(target.substr(0, scheme_end));
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "http" && scheme != "https") return std::nullopt;
    target.remove_prefix(scheme_end + 3);
    auto path_start = target.find_first_of("/?");
    // No path ("http://host" or "http://host?x"): the root, as RFC 9112 says.
    if (path_start == std::string_view::npos || target[path_start] == '?') return "/";
    target.remove_prefix(path_start);
  }
  return target.substr(0, target.find('?'));
}

bool is_token(std::string_view word) {
  if (word.empty()) return false;
  for (unsigned char c : word)
    if (c <= 0x20 || c >= 0x7f || std::strchr("()<>@,;:\\\"/[]?={}", c)) return false;
  return true;
}

}  // namespace

HttpVerdict judge_metrics_request(std::string_view head) {
  std::string_view line = head.substr(0, head.find('\n'));
  if (line.ends_with('\r')) line.remove_suffix(1);
  auto first_space = line.find(' ');
  auto second_space =
      first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) return {400, "Bad Request"};
  std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  std::string_view version = line.substr(second_space + 1);
  auto path = target_path(target);
  if (!is_token(method) || !path || target.find(' ') != std::string_view::npos ||
      (version != "HTTP/1.0" && version != "HTTP/1.1"))
    return {400, "Bad Request"};
  if (method != "GET") return {405, "Method Not Allowed"};
  if (*path != "/metrics") return {404, "Not Found"};
  return {200, "OK"};
}

std::expected<MetricsHttpServer, std::string> MetricsHttpServer::listen(
    const arm::ListenAddress& address) {
  std::string name = arm::to_string(address);
  auto failed = [&](std::string_view what) {
    return std::unexpected(
        fmt::format("[arm] metrics_listen: cannot {} {}: {}", what, name, std::strerror(errno)));
  };
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (address.ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    if (::inet_pton(AF_INET6, address.host.c_str(), &in6->sin6_addr) != 1)
      return std::unexpected(fmt::format("[arm] metrics_listen: {} is not an address", name));
    length = sizeof *in6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(address.port);
    if (::inet_pton(AF_INET, address.host.c_str(), &in4->sin_addr) != 1)
      return std::unexpected(fmt::format("[arm] metrics_listen: {} is not an address", name));
    length = sizeof *in4;
  }
  arm::posix::UniqueFd fd(
      ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return failed("open a socket for");
  int on = 1;
  // A restarted armd binds again at once, despite its predecessor's connections in TIME_WAIT.
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (address.ipv6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0)
    return failed("bind");
  if (::listen(fd.get(), 64) != 0) return failed("listen on");
  return MetricsHttpServer(std::move(fd), address);
}

MetricsHttpServer::MetricsHttpServer(arm::posix::UniqueFd fd, arm::ListenAddress address)
    : listen_fd_(std::move(fd)),
      listen_address_(std::move(address)),
      address_(arm::to_string(listen_address_)) {}

void MetricsHttpServer::add_poll_fds(std::vector<pollfd>& fds, Clock::time_point now) {
  std::erase_if(connections_, [&](const auto& entry) { return entry.second.deadline <= now; });
  if (accept_paused_until_ && now >= *accept_paused_until_) accept_paused_until_.reset();
  polled_ = true;
  first_index_ = fds.size();
  // A negative fd is ignored by poll(2): the slot stays, so indexes do not shift.
  fds.push_back({accept_paused_until_ ? -1 : listen_fd_.get(), POLLIN, 0});
  polled_order_.clear();
  for (const auto& [id, connection] : connections_) {
    short events = connection.output.empty() ? POLLIN : POLLOUT;
    fds.push_back({connection.fd.get(), events, 0});
    polled_order_.push_back(id);
  }
}

void MetricsHttpServer::handle_poll(const std::vector<pollfd>& fds,
                                    const std::function<std::string()>& metrics) {
  if (!std::exchange(polled_, false)) return;
  for (std::size_t i = 0; i < polled_order_.size(); ++i) {
    const pollfd& polled = fds[first_index_ + 1 + i];
    if (polled.revents == 0) continue;
    auto it = connections_.find(polled_order_[i]);
    if (it == connections_.end()) continue;
    Connection& connection = it->second;
    bool keep = true;
    if (!connection.output.empty()) {
      // Only POLLOUT was asked for: anything else is the peer gone (POLLERR, POLLHUP).
      keep = (polled.revents & POLLOUT) && write_to(connection);
    } else if (polled.revents & (POLLIN | POLLHUP | POLLERR)) {
      keep = read_from(connection, metrics);
    }
    if (!keep) connections_.erase(it);
  }
  if (fds[first_index_].revents & POLLIN) accept_new(Clock::now());
}

std::optional<MetricsHttpServer::Clock::time_point> MetricsHttpServer::next_wakeup() const {
  std::optional<Clock::time_point> earliest = accept_paused_until_;
  for (const auto& [id, connection] : connections_)
    if (!earliest || connection.deadline < *earliest) earliest = connection.deadline;
  return earliest;
}

void MetricsHttpServer::accept_new(Clock::time_point now) {
  for (int batch = 0; batch < 64; ++batch) {
    arm::posix::UniqueFd fd(
        ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::size_t suppressed = 0;
        std::string why = std::strerror(errno);
        if (accept_failures_.due(now, suppressed))
          log(Level::error, "metrics: accept on {}: {} (and {} more times in the last 10 s)",
              address_, why, suppressed);
        accept_paused_until_ = now + std::chrono::milliseconds(100);
      }
      return;
    }
    // The cap: the oldest goes, so idle connections piling up cannot lock a scraper out.
    if (connections_.size() >= max_connections) connections_.erase(connections_.begin());
    Connection connection;
    connection.fd = std::move(fd);
    connection.deadline = now + exchange_deadline;
    connections_.emplace(next_id_++, std::move(connection));
  }
}

bool MetricsHttpServer::read_from(Connection& connection,
                                  const std::function<std::string()>& metrics) {
  char chunk[4096];
  ssize_t got = ::recv(connection.fd.get(), chunk, sizeof chunk, MSG_DONTWAIT);
  if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  if (connection.lingering) return got > 0;  // what follows the answer is read and dropped
  if (got == 0) {
    // The peer ended without a whole request: a partial one is answered as garbage.
    if (connection.input.empty()) return false;
    respond(connection, 400, "Bad Request", "incomplete request\n", false);
    return write_to(connection);
  }
  connection.input.append(chunk, static_cast<std::size_t>(got));
  std::size_t end = head_end(connection.input);
  if (end == std::string::npos || end > max_request_bytes) {
    if (connection.input.size() <= max_request_bytes) return true;  // more to come
    respond(connection, 431, "Request Header Fields Too Large",
            fmt::format("a request is limited to {} bytes\n", max_request_bytes), false);
    return write_to(connection);
  }
  HttpVerdict verdict = judge_metrics_request(std::string_view(connection.input).substr(0, end));
  switch (verdict.status) {
    case 200:
      respond(connection, 200, verdict.reason, metrics(), true);
      break;
    case 404:
      respond(connection, 404, verdict.reason, "only /metrics is served here\n", false);
      break;
    case 405:
      respond(connection, 405, verdict.reason, "only GET is served here\n", false);
      break;
    default:
      respond(connection, 400, verdict.reason, "not an HTTP/1.x request\n", false);
      break;
  }
  return write_to(connection);
}

void MetricsHttpServer::respond(Connection& connection, int status, std::string_view reason,
                                std::string body, bool metrics) {
  connection.input.clear();
  connection.input.shrink_to_fit();
  connection.output = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
      status, reason,
      metrics ? protocol::metrics_content_type : std::string_view("text/plain; charset=utf-8"),
      body.size(), status == 405 ? "Allow: GET\r\n" : "");
  connection.output += body;
}

bool MetricsHttpServer::write_to(Connection& connection) {
  while (!connection.output.empty()) {
    ssize_t sent = ::send(connection.fd.get(), connection.output.data(), connection.output.size(),
                          MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    connection.output.erase(0, static_cast<std::size_t>(sent));
  }
  connection.output.shrink_to_fit();
  // All written. Closing now with unread input (the rest of an oversized request) would send a
  // reset that can destroy the answer in flight: shut our side and read until the peer closes,
  // for a short while.
  ::shutdown(connection.fd.get(), SHUT_WR);
  connection.lingering = true;
  connection.deadline = std::min(connection.deadline, Clock::now() + linger);
  return true;
}

}  // namespace armd
