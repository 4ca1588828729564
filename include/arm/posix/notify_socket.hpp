// What services say about their readiness, read from a host's event loop without ever blocking
// it: one epoll descriptor to watch, a function to call when it is readable (as OutputPipes).
//
// Two channels arrive here (issue 13):
// - the sd_notify protocol: one SOCK_DGRAM unix socket of the host's, bound to a path (the
//   services find it in $NOTIFY_SOCKET, set by PosixSpawner for readiness = "notify"). It is
//   made writable by every user (0666): who sent a datagram is taken from the kernel's
//   SCM_CREDENTIALS (SO_PASSCRED), never from the datagram, so a service running as another
//   user can reach it and no one can pass for someone else. The host decides whether the sender
//   is a service's process (PosixSpawner::main_pid_of) and drops the rest.
// - readiness pipes (readiness = "fd:N", s6's notification-fd): PosixSpawner hands the read end
//   here; the first newline read is READY=1, after which the pipe is closed. End of file before
//   a newline means the process will never say it is ready (the start timeout decides).
//
// Hostile input: a datagram longer than max_datagram is dropped whole, as is one holding a NUL
// byte; descriptors passed along (SCM_RIGHTS: FDSTORE=1) are closed at once; unknown keys and
// malformed numbers are ignored (parse_notification). Memory is fixed: one receive buffer.
#pragma once

#include "arm/abi.hpp"

#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "arm/error.hpp"
#include "arm/posix/unique_fd.hpp"
#include "arm/supervisor.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

/// The most bytes of STATUS= text a notification keeps (see parse_notification).
inline constexpr std::size_t max_status_bytes = 1024;

/// One datagram's KEY=VALUE lines as a ServiceNotification. Unknown keys, lines without '=',
/// and values that are not what the key takes (READY=2, WATCHDOG_USEC=12x, ERRNO=-1) are
/// ignored, as systemd does; of a key's values given twice (STATUS=, ERRNO=...) the later wins.
/// Returns nullopt, meaning "drop it", for a datagram holding a NUL byte (systemd refuses those
/// too). STATUS= text is kept at most max_status_bytes long; bytes that are control characters or
/// not UTF-8 become '?' (it is shown on terminals and sent as JSON).
ARM_EXPORT std::optional<ServiceNotification> parse_notification(std::string_view datagram);

/// Where the notification came from. `sender` is the process the kernel vouched for (the sender
/// of the datagram), or, for a readiness pipe, the main process it was made for.
struct ARM_EXPORT NotifyMessage {
  /// the process that sent it (as the kernel vouches), or the pipe's main process
  ProcessId sender = 0;
  bool from_pipe = false;  ///< it came through a readiness pipe (readiness fd), not the socket
  ServiceNotification notification;  ///< what it said
};

/// The $NOTIFY_SOCKET of services with readiness notify, and the readiness pipes of those with
/// readiness fd, read from a host's event loop.
class ARM_EXPORT NotifySocket {
 public:
  /// called for each notification collect() reads
  using OnMessage = std::function<void(const NotifyMessage& message)>;
  /// systemd's limit: larger datagrams are not notifications and are dropped.
  static constexpr std::size_t max_datagram = 4096;
  /// Datagrams read per collect(): a flood cannot starve the host's other work (the socket
  /// stays readable, the next turn reads on).
  static constexpr std::size_t datagrams_per_call = 64;

  /// Binds the socket at `path` (a file already there is replaced: the host is expected to own
  /// the place, as armd owns its control socket's). The error names the path.
  static std::expected<std::unique_ptr<NotifySocket>, Error> create(std::string path);
  /// Closes everything and removes the socket file.
  ~NotifySocket();

  /// the socket's path, as given to create() (what $NOTIFY_SOCKET says)
  const std::string& path() const;
  /// Readable (POLLIN) when a datagram waits or a readiness pipe has something (or ended).
  int fd() const;
  /// Reads what is there and calls `on_message` for each notification. Never blocks.
  std::size_t collect(const OnMessage& on_message);

  /// Watches `read_end` (made non-blocking here) as `main_pid`'s readiness pipe.
  std::expected<void, Error> add_readiness_pipe(ProcessId main_pid, UniqueFd read_end);
  /// `main_pid` is gone: its readiness pipe, if still open, is closed.
  void forget(ProcessId main_pid);
  std::size_t open_pipes() const;  ///< readiness pipes still open

  /// Live re-exec (issue 15): the socket and the readiness pipes, for the host to keep across
  /// exec; adopt() makes a NotifySocket of the socket the previous host bound at `path` (it is
  /// not bound again: a datagram sent meanwhile waits in it), and add_readiness_pipe() takes the
  /// pipes.
  int socket_fd() const;
  /// every readiness pipe still open, with its main process (for a re-exec)
  void for_each_readiness_pipe(const std::function<void(ProcessId main_pid, int fd)>& visit) const;
  /// Takes over `socket`, bound at `path` by the host before an exec. Fails (errno in
  /// Error::error_number) when credentials cannot be turned on for it or it cannot be watched.
  static std::expected<std::unique_ptr<NotifySocket>, Error> adopt(std::string path,
                                                                   UniqueFd socket);

  /// Counts since creation, for logs and tests.
  struct Dropped {
    std::size_t oversized = 0;    ///< longer than max_datagram
    std::size_t malformed = 0;    ///< a NUL byte, or no sender credentials
    std::size_t descriptors = 0;  ///< descriptors that came along and were closed
  };
  const Dropped& dropped() const;  ///< what collect() dropped, and why, since the socket was made

  struct Impl;

 private:
  explicit NotifySocket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace posix
ARM_END_NAMESPACE
