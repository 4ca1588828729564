#include "socket_path.hpp"

#include <cstdlib>
#include <utility>

namespace armd {

namespace {

// $name, or nullopt when it is unset or empty.
std::optional<std::string> environment_variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return value;
}

}  // namespace

std::string resolve_socket_path(const SocketPathSources& sources) {
  if (sources.command_line) return *sources.command_line;
  if (sources.armd_socket) return *sources.armd_socket;
  if (sources.config_file) return *sources.config_file;
  if (sources.xdg_runtime_dir) return *sources.xdg_runtime_dir + "/armd.sock";
  return "/run/armd.sock";
}

SocketPathSources socket_path_sources(std::optional<std::string> command_line,
                                      std::optional<std::string> config_file) {
  return {.command_line = std::move(command_line),
          .armd_socket = environment_variable("ARMD_SOCKET"),
          .config_file = std::move(config_file),
          .xdg_runtime_dir = environment_variable("XDG_RUNTIME_DIR")};
}

}  // namespace armd
