// Opening one listening socket (PosixListeners' binding half): what ListenSocket names, bound
// and, for a stream socket, listen()ing. Private to libarm/posix.
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>

#include "arm/config.hpp"
#include "arm/posix/unique_fd.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

struct BoundSocket {
  UniqueFd fd;
  // A unix socket's file, to remove when the socket closes, if it is still the one bound there.
  std::optional<std::string> path;
  dev_t device = 0;
  ino_t inode = 0;
};

struct SocketOptions {
  unsigned backlog = 4096;
  unsigned mode = 0666;      // a unix socket's file
  std::string owner;         // "user" or "user:group"; empty: armd's own
  bool nonblocking = false;  // O_NONBLOCK on the socket (shared with every process given it)
};

// Opens `socket`, or says why not ("Address already in use", "/run/x.sock exists and is not a
// socket").
std::expected<BoundSocket, std::string> bind_socket(const ListenSocket& socket,
                                                    const SocketOptions& options);
// Applies new options to a socket already open (a reload): the backlog, and a unix socket's
// mode and owner.
std::expected<void, std::string> retune_socket(const ListenSocket& socket, const BoundSocket& bound,
                                               const SocketOptions& options);
// Closes it and removes its file, if it is still the one it bound.
void close_socket(BoundSocket& bound);

}  // namespace posix
ARM_END_NAMESPACE
