// `[arm] metrics_listen`: the address text read into a ListenAddress, and the warning
// `armd --check-config` gives when it is reachable from other hosts.

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "arm/config.hpp"
#include "read_file_posix.hpp"

ARM_BEGIN_NAMESPACE

std::expected<ListenAddress, std::string> parse_listen_address(std::string_view text) {
  ListenAddress address;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::unexpected("expected \"[IPv6]:PORT\" such as \"[::1]:9321\"");
    address.host = std::string(text.substr(1, close - 1));
    address.ipv6 = true;
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return std::unexpected(
          "expected \"ADDRESS:PORT\" such as \"127.0.0.1:9321\" or \"[::1]:9321\"");
    address.host = std::string(text.substr(0, colon));
    if (address.host.find(':') != std::string::npos)
      return std::unexpected("an IPv6 address is written in brackets: \"[::1]:9321\"");
    port = text.substr(colon + 1);
  }
  unsigned char bytes[16];
  if (::inet_pton(address.ipv6 ? AF_INET6 : AF_INET, address.host.c_str(), bytes) != 1)
    return std::unexpected(fmt::format("'{}' is not an {} address (names are not looked up)",
                                       address.host, address.ipv6 ? "IPv6" : "IPv4"));
  // ::ffff:a.b.c.d. armd listens on IPv6 with IPV6_V6ONLY (its IPv4 twin stays free), and such
  // a socket cannot bind an IPv4-mapped address: said here, at the key, not as EINVAL at start.
  static constexpr unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (address.ipv6 && std::equal(bytes, bytes + 12, mapped_prefix))
    return std::unexpected(fmt::format("'{}' is IPv4-mapped: write it as \"{}.{}.{}.{}:{}\"",
                                       address.host, bytes[12], bytes[13], bytes[14], bytes[15],
                                       port));
  unsigned number = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || number == 0 ||
      number > 65535)
    return std::unexpected(
        fmt::format("the port must be a number from 1 to 65535, not '{}'", port));
  address.port = static_cast<std::uint16_t>(number);
  // Kept in the one form inet_ntop gives ("[0:0::1]" is "[::1]"): a socket is known by its
  // text, so the same address written another way at reload is the same open socket, not a
  // second bind that finds the port in use (by armd itself), nor a second service's socket.
  char canonical[INET6_ADDRSTRLEN];
  if (::inet_ntop(address.ipv6 ? AF_INET6 : AF_INET, bytes, canonical, sizeof canonical))
    address.host = canonical;
  return address;
}

bool is_loopback(const ListenAddress& address) {
  unsigned char bytes[16] = {};
  if (address.ipv6) {
    if (::inet_pton(AF_INET6, address.host.c_str(), bytes) != 1) return false;
    for (int i = 0; i < 15; ++i)
      if (bytes[i] != 0) return false;
    return bytes[15] == 1;
  }
  return ::inet_pton(AF_INET, address.host.c_str(), bytes) == 1 && bytes[0] == 127;
}

std::vector<Error> find_exposed_metrics(const std::filesystem::path& path, const Config& config) {
  if (!config.arm.metrics_listen || is_loopback(*config.arm.metrics_listen)) return {};
  int line = 0;
  int column = 0;
  auto root = config_detail::reread_for_positions(path);
  if (const toml::node* key = root ? root->at_path("arm.metrics_listen").node() : nullptr) {
    line = static_cast<int>(key->source().begin.line);
    column = static_cast<int>(key->source().begin.column);
  }
  return {Error::at(path.string(), line, column, "arm.metrics_listen",
                    fmt::format("{} is not a loopback address: other hosts can read armd's "
                                "metrics (service names, states, exit codes) without any "
                                "authentication",
                                to_string(*config.arm.metrics_listen)))};
}

ARM_END_NAMESPACE
