#include "readiness.hpp"

#include <sys/un.h>

#include "log.hpp"

namespace armd {

std::string notify_socket_path(const std::string& control_socket) {
  return control_socket + ".notify";
}

std::expected<Readiness, std::string> Readiness::create(const std::string& control_socket) {
  std::string path = notify_socket_path(control_socket);
  if (path.size() >= sizeof sockaddr_un::sun_path) {
    log(Level::warning,
        "no notify socket: {} is {} bytes long, more than a unix socket's {}; services with "
        "readiness \"notify\" or \"fd:N\" cannot start (use a shorter --socket path)",
        path, path.size(), sizeof sockaddr_un::sun_path - 1);
    return Readiness(nullptr);
  }
  auto socket = arm::posix::NotifySocket::create(path);
  if (!socket) return std::unexpected(socket.error().message);
  return Readiness(std::move(*socket));
}

std::expected<Readiness, std::string> Readiness::adopt(const std::string& control_socket, int fd) {
  if (fd < 0) return Readiness(nullptr);
  auto socket =
      arm::posix::NotifySocket::adopt(notify_socket_path(control_socket), arm::posix::UniqueFd(fd));
  if (!socket) return std::unexpected(socket.error().message);
  return Readiness(std::move(*socket));
}

void Readiness::collect(const arm::posix::PosixSpawner& spawner,
                        arm::ServiceSupervisor& supervisor) {
  if (!socket_) return;
  socket_->collect([&](const arm::posix::NotifyMessage& message) {
    auto main_pid = spawner.main_pid_of(message.sender);
    if (main_pid && supervisor.on_notify(*main_pid, message.notification)) return;
    std::size_t suppressed = 0;
    if (!strangers_.due(RepeatedMessage::Clock::now(), suppressed)) return;
    if (suppressed == 0)
      log(Level::warning, "notify socket: dropped a notification from pid {}, not a service's",
          message.sender);
    else
      log(Level::warning,
          "notify socket: dropped a notification from pid {}, not a service's ({} more such "
          "dropped in the last {} s)",
          message.sender, suppressed,
          std::chrono::duration_cast<std::chrono::seconds>(strangers_.interval()).count());
  });
}

}  // namespace armd
