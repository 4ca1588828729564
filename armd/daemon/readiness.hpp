// armd's side of readiness (issue 13): the sd_notify socket next to the control socket, and
// what services say through it (or through their fd:N readiness pipes) handed to the
// supervisor, once the sender is known to be one of the service's processes.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "arm/posix.hpp"
#include "arm/posix/notify_socket.hpp"
#include "arm/supervisor.hpp"
#include "repeated_message.hpp"

namespace armd {

// The notify socket's path for a control socket's: "<socket>.notify", so that whoever may reach
// the control socket's directory finds it, and two armds never share one.
std::string notify_socket_path(const std::string& control_socket);

class Readiness {
 public:
  // A control socket path too long for the notify socket's to fit in a sockaddr_un (101 to 107
  // bytes) gives a Readiness without a socket, and a warning: armd runs as it did before
  // readiness existed, and a notify or fd:N service fails its start, saying it needs one.
  static std::expected<Readiness, std::string> create(const std::string& control_socket);

  // Live re-exec (issue 15): the socket the previous armd bound (-1: it had none), kept across
  // exec, so a notification sent meanwhile is read after it.
  static std::expected<Readiness, std::string> adopt(const std::string& control_socket, int fd);
  // For SpawnerOptions::notify: it must outlive the spawner. Null: none (see create).
  arm::posix::NotifySocket* socket() const { return socket_.get(); }
  // -1 without a socket (poll ignores it).
  int fd() const { return socket_ ? socket_->fd() : -1; }
  // Reads what is there. A notification whose sender is no service's process (a forged one, or
  // one from a process gone before it was read) is dropped and logged, at most one line every
  // ten seconds, saying how many it stands for.
  void collect(const arm::posix::PosixSpawner& spawner, arm::ServiceSupervisor& supervisor);
  // `pid` was reaped: its readiness pipe, if any, is closed.
  void forget(arm::ProcessId pid) {
    if (socket_) socket_->forget(pid);
  }

 private:
  explicit Readiness(std::unique_ptr<arm::posix::NotifySocket> socket)
      : socket_(std::move(socket)) {}
  std::unique_ptr<arm::posix::NotifySocket> socket_;
  RepeatedMessage strangers_{std::chrono::seconds(10)};
};

}  // namespace armd
