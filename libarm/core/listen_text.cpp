// Sockets as configurations write them: "127.0.0.1:9321", "tcp:[::1]:8080", "unix:/run/x.sock".
// In the core (not the loader, which reads them) because the core and its fakes name sockets in
// errors, and check_config compares them, without the TOML loader.
#include <fmt/format.h>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE

std::string to_string(const ListenAddress& address) {
  return address.ipv6 ? fmt::format("[{}]:{}", address.host, address.port)
                      : fmt::format("{}:{}", address.host, address.port);
}

std::string to_string(const ListenSocket& socket) {
  switch (socket.kind) {
    case ListenSocket::Kind::tcp:
      return "tcp:" + to_string(socket.address);
    case ListenSocket::Kind::udp:
      return "udp:" + to_string(socket.address);
    case ListenSocket::Kind::unix_stream:
      return "unix:" + socket.path;
  }
  return {};
}

ARM_END_NAMESPACE
