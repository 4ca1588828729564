#include "socket_path.hpp"

namespace armd {

std::string resolve_socket_path(const std::optional<std::string>& from_command_line,
                                const std::optional<std::string>& from_config,
                                const char* xdg_runtime_dir) {
  if (from_command_line) return *from_command_line;
  if (from_config) return *from_config;
  if (xdg_runtime_dir && *xdg_runtime_dir) return std::string(xdg_runtime_dir) + "/armd.sock";
  return "/run/armd.sock";
}

}  // namespace armd
