#include <doctest/doctest.h>

#include "protocol/socket_path.hpp"

using armd::resolve_socket_path;

TEST_CASE("the socket path comes from --socket, then [arm].socket, then XDG, then /run") {
  CHECK(resolve_socket_path("/tmp/flag.sock", "/tmp/config.sock", "/run/user/1") ==
        "/tmp/flag.sock");
  CHECK(resolve_socket_path(std::nullopt, "/tmp/config.sock", "/run/user/1") == "/tmp/config.sock");
  CHECK(resolve_socket_path(std::nullopt, std::nullopt, "/run/user/1") == "/run/user/1/armd.sock");
  CHECK(resolve_socket_path(std::nullopt, std::nullopt, "") == "/run/armd.sock");
  CHECK(resolve_socket_path(std::nullopt, std::nullopt, nullptr) == "/run/armd.sock");
}
