#include "service_manager.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "log.hpp"

namespace armd {

ServiceManager ServiceManager::from_environment() {
  ServiceManager manager;
  const char* value = std::getenv("NOTIFY_SOCKET");
  if (value == nullptr || *value == '\0') return manager;
  std::string address(value);
  if (address.front() != '/' && address.front() != '@') {
    log(Level::warning,
        "NOTIFY_SOCKET={} is neither an absolute path nor an @abstract name; "
        "not telling the service manager anything",
        address);
    return manager;
  }
  if (address.size() >= sizeof(sockaddr_un::sun_path)) {
    log(Level::warning,
        "NOTIFY_SOCKET={} is longer than a socket address ({} bytes); "
        "not telling the service manager anything",
        address, sizeof(sockaddr_un::sun_path) - 1);
    return manager;
  }
  if (address.front() == '@') address.front() = '\0';
  arm::posix::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    log(Level::warning, "cannot tell the service manager (NOTIFY_SOCKET={}): socket: {}", value,
        std::strerror(errno));
    return manager;
  }
  manager.fd_ = std::move(fd);
  manager.address_ = std::move(address);
  return manager;
}

void ServiceManager::ready(std::string_view status) {
  send(fmt::format("READY=1\nSTATUS={}", status));
}

void ServiceManager::reloading() {
  // MONOTONIC_USEC is what Type=notify-reload (systemd 253 and later) asks for with RELOADING=1,
  // so that it can tell this reload from an older one; earlier systemds ignore it.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  auto microseconds = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                      static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading", microseconds));
}

void ServiceManager::stopping() {
  if (stopping_sent_) return;
  stopping_sent_ = true;
  send("STOPPING=1\nSTATUS=stopping every service");
}

void ServiceManager::send(std::string_view message) {
  if (!fd_) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, address_.data(), address_.size());
  // An abstract name is exactly its bytes (no terminating NUL); a path may carry one.
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                       (address_.front() == '\0' ? 0 : 1));
  if (::sendto(fd_.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&address), length) >= 0)
    return;
  // Logged once: a manager that is gone would otherwise be named at every reload.
  if (failure_logged_) return;
  failure_logged_ = true;
  std::string shown = address_;
  if (shown.front() == '\0') shown.front() = '@';
  log(Level::warning, "cannot tell the service manager at {} ({}): {}", shown,
      message.substr(0, message.find('\n')), std::strerror(errno));
}

}  // namespace armd
