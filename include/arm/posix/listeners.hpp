// Listening sockets held for services (issue 14): arm::Listeners over real sockets, watched from
// a host's event loop through one epoll descriptor (as PosixProber, OutputPipes).
//
// - tcp: a stream socket with SO_REUSEADDR (an address a crashed service's connections still
//   linger on binds again at once), IPV6_V6ONLY for an IPv6 address (its IPv4 twin stays free
//   for a socket of its own), listen()ing with the spec's backlog.
// - udp: a datagram socket, bound (without SO_REUSEADDR: a port another program holds, even
//   with SO_REUSEADDR of its own, is in use).
// - unix: a stream socket bound to the path (missing parent directories are made, mode 0755) or
//   to an abstract name ("@name"). A file already at the path is replaced only when it is a
//   socket nobody listens on (a connect() to it is refused): a live socket, or any other kind of
//   file, is an error. listen_mode and listen_owner are applied before listen(), so no client
//   can connect in between. The file is removed when the socket is closed (if it is still the
//   one bound).
// Sockets are blocking, as systemd passes them by default: a service's accept() waits as it
// would on a socket of its own. The host never accepts a connection or reads a datagram: it only
// notices, through the epoll descriptor, that a watched socket has one waiting.
//
// A socket is known by its address (to_string of its ListenSocket): held by several services at
// once for the moment a reload moves it, one descriptor throughout. The destructor closes every
// socket (and removes the files of unix sockets).
#pragma once

#include "arm/abi.hpp"

#include <expected>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "arm/effects.hpp"
#include "arm/error.hpp"
#include "arm/posix/unique_fd.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

/// arm::Listeners over real sockets, watched through one epoll descriptor (this file's
/// opening comment tells how each kind of socket is opened).
class ARM_EXPORT PosixListeners final : public Listeners {
 public:
  /// Fails (errno in Error::error_number) when its epoll set cannot be made.
  static std::expected<std::unique_ptr<PosixListeners>, Error> create();
  ~PosixListeners() override;

  /// Readable (POLLIN) when a watched socket has a client waiting (or a datagram).
  int fd() const;
  /// Calls `on_activity(service)` once for each service one of whose watched sockets has a client,
  /// ending that watch (as Listeners::watch says). Never blocks; the callback may call watch()
  /// and unwatch(), and so on_socket_activity may be called from it.
  std::size_t collect(const std::function<void(std::string_view service)>& on_activity);

  std::expected<void, Error> hold(std::string_view service, const ServiceSpec& spec) override;
  void drop(std::string_view service) override;
  void release_unheld() override;
  void descriptors(std::string_view service, std::vector<int>& out) const override;
  void watch(std::string_view service) override;
  /// Cancels the watch of `service`'s sockets not yet reported; none outstanding: nothing.
  void unwatch(std::string_view service) override;

  /// Sockets open now (held or not yet released).
  std::size_t open_count() const;

  /// Live re-exec (issue 15): every open socket by its address (to_string of its ListenSocket),
  /// for the host to keep across exec; adopt() gives one to the new host's PosixListeners before
  /// its supervisor holds it (hold() then finds it open: no client is refused in between).
  void for_each_socket(const std::function<void(const std::string& address, int fd)>& visit) const;
  /// Takes over `fd`, a socket for `address` kept across exec. Fails, naming the address, when
  /// `address` does not parse (EINVAL) or that socket is open here already (EEXIST).
  std::expected<void, Error> adopt(std::string_view address, UniqueFd fd);

  struct Impl;

 private:
  explicit PosixListeners(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace posix
ARM_END_NAMESPACE
