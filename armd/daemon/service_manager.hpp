// armd's own readiness, told to the service manager that started it (systemd's Type=notify):
// the sd_notify datagram protocol, written here in a few lines so that armd links no libsystemd.
//
// When armd says what (decided for issue 15; docs/install.md says it to operators):
// - READY=1 once the configuration is loaded, the control socket is bound and listening, and the
//   boot services' start requests are issued: not once they run. A service that takes minutes
//   to become ready must not hold up armd's own start (and `systemctl start armd` with it), and
//   armctl works from that moment, answering each start when it completes.
// - RELOADING=1 with MONOTONIC_USEC= when a reload begins (SIGHUP or `armctl reload`), READY=1
//   when it is done, applied or refused (a refused reload leaves armd running its old
//   configuration, which is ready).
// - STOPPING=1 when shutdown begins (SIGTERM, SIGINT or `armctl shutdown`), once.
//
// Nothing is sent when $NOTIFY_SOCKET is unset. Sending never blocks armd (MSG_DONTWAIT); a
// datagram the manager does not take is logged, never retried. The variable stays in armd's
// environment, but its services never see it (libarm/posix/child_environment.cpp drops it from
// what they inherit; a notify service gets armd's own readiness socket instead).
#pragma once

#include <string>
#include <string_view>

#include "arm/posix/unique_fd.hpp"

namespace armd {

class ServiceManager {
 public:
  // From $NOTIFY_SOCKET: an absolute path, or "@name" for an abstract socket. Unset or empty:
  // a ServiceManager that sends nothing. Anything else (a relative path, a path too long for a
  // sockaddr_un) is logged as a warning and ignored, as systemd's own sd_notify ignores it.
  static ServiceManager from_environment();

  bool present() const { return fd_.get() >= 0; }

  // STATUS= is what `systemctl status armd` shows under the unit.
  void ready(std::string_view status);
  // Then ready() again when the reload is done.
  void reloading();
  void stopping();

 private:
  ServiceManager() = default;
  void send(std::string_view message);

  arm::posix::UniqueFd fd_;
  std::string address_;  // sun_path's bytes: a leading '\0' for an abstract name
  bool stopping_sent_ = false;
  bool failure_logged_ = false;
};

}  // namespace armd
