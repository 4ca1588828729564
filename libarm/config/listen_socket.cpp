// `listen = ["tcp:127.0.0.1:8080", "unix:/run/x.sock", ...]`: one socket's text read into a
// ListenSocket (written back by libarm/core/listen_text.cpp).
#include <fmt/format.h>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE

namespace {

constexpr std::string_view forms =
    "expected \"tcp:ADDRESS:PORT\", \"udp:ADDRESS:PORT\", \"unix:/PATH\" or \"unix:@NAME\"";

// sockaddr_un's sun_path holds 108 bytes, the terminating NUL of a path included.
constexpr std::size_t unix_path_room = 107;

}  // namespace

std::expected<ListenSocket, std::string> parse_listen_socket(std::string_view text) {
  ListenSocket socket;
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::unexpected(std::string(forms));
  std::string_view kind = text.substr(0, colon);
  std::string_view rest = text.substr(colon + 1);
  if (kind == "unix") {
    socket.kind = ListenSocket::Kind::unix_stream;
    if (rest.empty() || (rest.front() != '/' && rest.front() != '@'))
      return std::unexpected(
          "a unix socket is an absolute path (\"unix:/run/x.sock\") or an abstract name "
          "(\"unix:@name\")");
    if (rest == "@") return std::unexpected("an abstract name needs at least one character");
    if (rest.size() > unix_path_room)
      return std::unexpected(
          fmt::format("'{}' is {} bytes long; a unix socket's address holds at most {}", rest,
                      rest.size(), unix_path_room));
    if (rest.find('\0') != std::string_view::npos)
      return std::unexpected("a unix socket's path must not contain NUL");
    socket.path = std::string(rest);
    return socket;
  }
  if (kind == "tcp") {
    socket.kind = ListenSocket::Kind::tcp;
  } else if (kind == "udp") {
    socket.kind = ListenSocket::Kind::udp;
  } else {
    return std::unexpected(fmt::format("unknown socket kind '{}': {}", kind, forms));
  }
  auto address = parse_listen_address(rest);
  if (!address) return std::unexpected(std::move(address.error()));
  socket.address = std::move(*address);
  return socket;
}

ARM_END_NAMESPACE
