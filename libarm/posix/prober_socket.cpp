// TCP and HTTP probes: a non-blocking connect, and for http one GET and its status line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <cerrno>

#include "prober_impl.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

constexpr std::string_view http_prefix = "HTTP/";

// "HTTP/1.1 503 Service Unavailable" read into (healthy, detail); nullopt when it is not a
// status line.
std::optional<std::pair<bool, std::string>> read_status_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // "HTTP/" digit "." digit SP 3DIGIT, then SP and a reason phrase, or nothing.
  if (line.size() < 12 || !line.starts_with(http_prefix) || line[8] != ' ') return std::nullopt;
  std::string_view code = line.substr(9, 3);
  for (char c : code)
    if (c < '0' || c > '9') return std::nullopt;
  if (line.size() > 12 && line[12] != ' ') return std::nullopt;
  std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view();
  bool healthy = code[0] == '2';
  std::string detail = fmt::format("HTTP {}", code);
  if (!reason.empty()) detail += " " + detail_line(reason);
  return std::pair{healthy, std::move(detail)};
}

}  // namespace

void PosixProber::Impl::start_socket(const ProbeRequest& request) {
  const HealthCheck& check = request.check;
  sockaddr_storage address{};
  socklen_t length = 0;
  if (check.address.ipv6) {
    auto* six = reinterpret_cast<sockaddr_in6*>(&address);
    six->sin6_family = AF_INET6;
    six->sin6_port = htons(check.address.port);
    if (::inet_pton(AF_INET6, check.address.host.c_str(), &six->sin6_addr) != 1)
      return report(request.id, false, fmt::format("not an IPv6 address: {}", check.address.host));
    length = sizeof *six;
  } else {
    auto* four = reinterpret_cast<sockaddr_in*>(&address);
    four->sin_family = AF_INET;
    four->sin_port = htons(check.address.port);
    if (::inet_pton(AF_INET, check.address.host.c_str(), &four->sin_addr) != 1)
      return report(request.id, false, fmt::format("not an IPv4 address: {}", check.address.host));
    length = sizeof *four;
  }
  SocketProbe probe;
  probe.http = check.kind == HealthCheck::Kind::http;
  probe.socket.reset(
      ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!probe.socket) return not_run(request.id, fmt::format("socket: {}", error_text(errno)));
  int connected;
  do {
    connected = ::connect(probe.socket.get(), reinterpret_cast<sockaddr*>(&address), length);
  } while (connected != 0 && errno == EINTR);
  if (connected != 0 && errno != EINPROGRESS) return report(request.id, false, error_text(errno));
  if (probe.http)
    probe.request =
        fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: armd\r\nConnection: close\r\n\r\n",
                    check.http_path, check.http_host);
  // Even when connected at once: the outcome is found, and reported, from the loop.
  watch(probe.socket.get(), request.id, ProbeRole::connection, EPOLLOUT);
  sockets.insert_or_assign(request.id, std::move(probe));
}

void PosixProber::Impl::on_socket_event(ProbeId id) {
  auto found = sockets.find(id);
  if (found == sockets.end()) return;
  SocketProbe& probe = found->second;
  int fd = probe.socket.get();
  auto end = [&](bool healthy, std::string detail) {
    unwatch(fd);
    sockets.erase(found);
    report(id, healthy, std::move(detail));
  };
  if (!probe.connected) {
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
    if (error != 0) return end(false, error_text(error));
    if (!probe.http) return end(true, "connected");
    probe.connected = true;
  }
  while (probe.sent < probe.request.size()) {
    ssize_t sent = ::send(fd, probe.request.data() + probe.sent, probe.request.size() - probe.sent,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // EPOLLOUT again
    if (sent < 0) return end(false, fmt::format("send: {}", error_text(errno)));
    probe.sent += static_cast<std::size_t>(sent);
    if (probe.sent == probe.request.size()) rewatch(fd, id, ProbeRole::connection, EPOLLIN);
  }
  char bytes[status_line_limit];
  for (;;) {
    std::size_t room = status_line_limit - probe.received.size();
    ssize_t got = ::recv(fd, bytes, room, MSG_DONTWAIT);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (got < 0) return end(false, error_text(errno));
    // (What is not the start of an HTTP reply was refused as it came.)
    if (got == 0) return end(false, "connection closed before a response");
    probe.received.append(bytes, static_cast<std::size_t>(got));
    std::string_view start(probe.received);
    std::string_view prefix = start.substr(0, std::min(start.size(), http_prefix.size()));
    if (!http_prefix.starts_with(prefix)) return end(false, "not an HTTP response");
    if (auto newline = start.find('\n'); newline != std::string_view::npos) {
      auto status = read_status_line(start.substr(0, newline));
      if (!status) return end(false, "not an HTTP response");
      return end(status->first, std::move(status->second));
    }
    if (probe.received.size() >= status_line_limit) return end(false, "not an HTTP response");
  }
}

}  // namespace posix
ARM_END_NAMESPACE
