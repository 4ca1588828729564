// The targets of health probes as written in a configuration: `tcp = "HOST:PORT"` and
// `http = "http://HOST[:PORT][/PATH]"`. HOST is an IP literal or `localhost`: a probe runs inside
// armd's loop, which must never wait for a name lookup.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE

namespace {

// `localhost` is the one name allowed: it means 127.0.0.1 (not ::1), without a lookup.
std::expected<ListenAddress, std::string> probe_address(std::string_view authority) {
  constexpr std::string_view localhost = "localhost";
  if (authority.starts_with(localhost) && authority.size() > localhost.size() &&
      authority[localhost.size()] == ':') {
    std::string numeric = fmt::format("127.0.0.1{}", authority.substr(localhost.size()));
    return parse_listen_address(numeric);
  }
  return parse_listen_address(authority);
}

}  // namespace

std::expected<HealthCheck, std::string> parse_tcp_probe_address(std::string_view text) {
  auto address = probe_address(text);
  if (!address)
    return std::unexpected(
        fmt::format("'{}': {}; write an IP address or localhost", text, address.error()));
  HealthCheck check;
  check.kind = HealthCheck::Kind::tcp;
  check.address = std::move(*address);
  return check;
}

std::expected<HealthCheck, std::string> parse_http_probe_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.starts_with("https://"))
    return std::unexpected(
        fmt::format("'{}': https is not supported; probe a plain-HTTP port, or use an exec probe "
                    "(such as curl -fsS URL)",
                    url));
  if (!url.starts_with(scheme))
    return std::unexpected(
        fmt::format("'{}': expected a URL such as \"http://127.0.0.1:8080/healthz\"", url));
  std::string_view rest = url.substr(scheme.size());
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (authority.empty()) return std::unexpected(fmt::format("'{}': the URL has no host", url));
  if (authority.find('@') != std::string_view::npos)
    return std::unexpected(fmt::format("'{}': user names and passwords are not supported", url));
  for (char c : path) {
    // What would end the request line early, or break it: the URL is sent as it is written.
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#')
      return std::unexpected(fmt::format(
          "'{}': the path must not contain spaces, control characters or a fragment (#)", url));
  }
  // The port may be left out: 80, as for any http URL.
  bool has_port = authority.starts_with('[') ? authority.find("]:") != std::string_view::npos
                                             : authority.find(':') != std::string_view::npos;
  std::string with_port = has_port ? std::string(authority) : fmt::format("{}:80", authority);
  auto address = probe_address(with_port);
  if (!address)
    return std::unexpected(
        fmt::format("'{}': {}; write an IP address or localhost", url, address.error()));
  HealthCheck check;
  check.kind = HealthCheck::Kind::http;
  check.address = std::move(*address);
  check.http_host = std::string(authority);
  check.http_path = std::string(path);
  return check;
}

std::string describe(const HealthCheck& check) {
  switch (check.kind) {
    case HealthCheck::Kind::exec:
      return fmt::format("exec {}", fmt::join(check.command, " "));
    case HealthCheck::Kind::tcp:
      return fmt::format("tcp {}", to_string(check.address));
    case HealthCheck::Kind::http:
      return fmt::format("http http://{}{}", check.http_host, check.http_path);
  }
  return "unknown probe";
}

ARM_END_NAMESPACE
