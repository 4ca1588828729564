// Where armd's control socket is. armd and armctl both ask this one function, so they agree on
// the path unless told otherwise.
#pragma once

#include <optional>
#include <string>

namespace armd {

// Every place a socket path can come from, each nullopt when it says nothing. An empty
// environment variable counts as unset; an empty --socket or [arm].socket is passed on (and
// refused where the socket is opened).
struct SocketPathSources {
  // The `= std::nullopt`s let callers name only the sources they have ({.config_file = ...})
  // without -Wmissing-field-initializers.
  std::optional<std::string> command_line = std::nullopt;     // --socket
  std::optional<std::string> armd_socket = std::nullopt;      // $ARMD_SOCKET
  std::optional<std::string> config_file = std::nullopt;      // [arm].socket (armd only)
  std::optional<std::string> xdg_runtime_dir = std::nullopt;  // $XDG_RUNTIME_DIR
};

// The first that says something of --socket, $ARMD_SOCKET, [arm].socket, then
// $XDG_RUNTIME_DIR/armd.sock, else /run/armd.sock. The environment wins over the configuration
// so that one shell variable points armd and armctl at the same socket.
std::string resolve_socket_path(const SocketPathSources& sources);

// The sources with $ARMD_SOCKET and $XDG_RUNTIME_DIR read from this process's environment.
SocketPathSources socket_path_sources(std::optional<std::string> command_line,
                                      std::optional<std::string> config_file);

}  // namespace armd
