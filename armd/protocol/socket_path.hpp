#pragma once

#include <optional>
#include <string>

namespace armd {

// The control socket's path: --socket, else [arm].socket, else $XDG_RUNTIME_DIR/armd.sock,
// else /run/armd.sock.
std::string resolve_socket_path(const std::optional<std::string>& from_command_line,
                                const std::optional<std::string>& from_config,
                                const char* xdg_runtime_dir);

}  // namespace armd
