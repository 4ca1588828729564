// NotifySocket: the sd_notify datagram socket and the readiness pipes in one epoll set.
#include "arm/posix/notify_socket.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <unordered_map>

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

// The epoll key of the socket; a readiness pipe's key is its main pid (never 0).
constexpr std::uint64_t socket_key = 0;

// Room for the sender's credentials and for as many descriptors as systemd accepts with one
// datagram (768): fewer would make the kernel drop the rest, which is also fine, but this way
// the count in Dropped is right.
constexpr std::size_t most_descriptors = 768;
constexpr std::size_t control_bytes =
    CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * most_descriptors);

// Read from a readiness pipe at once, looking for its newline; nothing read is kept, so a
// service that writes without one costs reads, never memory.
constexpr std::size_t pipe_read_bytes = 4096;

Error system_error(int error, std::string what) {
  return Error::system(error, fmt::format("{}: {}", what, std::strerror(error)));
}

}  // namespace

struct ARM_HIDDEN NotifySocket::Impl {
  std::string path;
  UniqueFd socket;
  UniqueFd epoll;
  std::unordered_map<ProcessId, UniqueFd> pipes;
  Dropped dropped;
  // One datagram (and one byte more, so one of exactly max_datagram is told from a longer one
  // also by MSG_TRUNC), and its control data: fixed, whatever arrives.
  char buffer[max_datagram + 1];
  alignas(cmsghdr) char control[control_bytes];

  // Reads one datagram. False when none is waiting.
  bool read_datagram(const OnMessage& on_message, std::size_t& reported);
  // Reads `pid`'s readiness pipe; closes it at its newline or its end.
  void read_pipe(ProcessId pid, const OnMessage& on_message, std::size_t& reported);
  void close_pipe(ProcessId pid);
  // Makes the epoll set and puts the socket in it.
  std::expected<void, Error> watch_socket();
};

bool NotifySocket::Impl::read_datagram(const OnMessage& on_message, std::size_t& reported) {
  iovec io{buffer, sizeof buffer};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got;
  do {
    got = ::recvmsg(socket.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return false;  // EAGAIN: nothing more now
  // Descriptors first, whatever becomes of the datagram: none is ever kept.
  std::optional<ucred> credentials;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET) continue;
    if (header->cmsg_type == SCM_RIGHTS) {
      std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
        ::close(fd);
        ++dropped.descriptors;
      }
    } else if (header->cmsg_type == SCM_CREDENTIALS &&
               header->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred sender;
      std::memcpy(&sender, CMSG_DATA(header), sizeof sender);
      credentials = sender;
    }
  }
  if (static_cast<std::size_t>(got) > max_datagram || (message.msg_flags & MSG_TRUNC)) {
    ++dropped.oversized;
    return true;
  }
  if (!credentials || credentials->pid <= 0) {
    ++dropped.malformed;
    return true;
  }
  auto notification = parse_notification(std::string_view(buffer, static_cast<std::size_t>(got)));
  if (!notification) {
    ++dropped.malformed;
    return true;
  }
  ++reported;
  on_message(NotifyMessage{credentials->pid, false, std::move(*notification)});
  return true;
}

void NotifySocket::Impl::read_pipe(ProcessId pid, const OnMessage& on_message,
                                   std::size_t& reported) {
  auto found = pipes.find(pid);
  if (found == pipes.end()) return;
  char bytes[pipe_read_bytes];
  ssize_t got;
  do {
    got = ::read(found->second.get(), bytes, sizeof bytes);
  } while (got < 0 && errno == EINTR);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (got <= 0) {  // end of file (or an error that stays): it will never say it is ready
    close_pipe(pid);
    return;
  }
  if (std::memchr(bytes, '\n', static_cast<std::size_t>(got)) == nullptr) return;
  close_pipe(pid);  // s6's notification-fd: one line, then done
  ServiceNotification ready;
  ready.ready = true;
  ++reported;
  on_message(NotifyMessage{pid, true, ready});
}

void NotifySocket::Impl::close_pipe(ProcessId pid) {
  auto found = pipes.find(pid);
  if (found == pipes.end()) return;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, found->second.get(), nullptr);
  pipes.erase(found);
}

std::expected<std::unique_ptr<NotifySocket>, Error> NotifySocket::create(std::string path) {
  auto impl = std::make_unique<Impl>();
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path)
    return std::unexpected(Error::system(
        ENAMETOOLONG, fmt::format("notify socket {}: the path must be 1 to {} bytes long", path,
                                  sizeof address.sun_path - 1)));
  std::memcpy(address.sun_path, path.data(), path.size());
  impl->path = std::move(path);
  const std::string& where = impl->path;
  impl->socket.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!impl->socket) return std::unexpected(system_error(errno, "notify socket: socket"));
  int on = 1;
  if (::setsockopt(impl->socket.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
    return std::unexpected(system_error(errno, "notify socket: SO_PASSCRED"));
  ::unlink(where.c_str());  // a socket file left by a host that died
  if (::bind(impl->socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    return std::unexpected(system_error(errno, fmt::format("notify socket {}: bind", where)));
  // Anyone may send: the kernel says who did, and the host checks it (a service may run as
  // another user).
  if (::chmod(where.c_str(), 0666) != 0) {
    int error = errno;
    ::unlink(where.c_str());
    return std::unexpected(system_error(error, fmt::format("notify socket {}: chmod", where)));
  }
  if (auto watched = impl->watch_socket(); !watched) {
    ::unlink(where.c_str());
    return std::unexpected(watched.error());
  }
  return std::unique_ptr<NotifySocket>(new NotifySocket(std::move(impl)));
}

std::expected<std::unique_ptr<NotifySocket>, Error> NotifySocket::adopt(std::string path,
                                                                        UniqueFd socket) {
  auto impl = std::make_unique<Impl>();
  impl->path = std::move(path);
  impl->socket = std::move(socket);
  int on = 1;
  if (::setsockopt(impl->socket.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
    return std::unexpected(system_error(errno, "notify socket: SO_PASSCRED"));
  if (auto watched = impl->watch_socket(); !watched) return std::unexpected(watched.error());
  return std::unique_ptr<NotifySocket>(new NotifySocket(std::move(impl)));
}

std::expected<void, Error> NotifySocket::Impl::watch_socket() {
  epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = socket_key;
  if (!epoll || ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, socket.get(), &event) != 0)
    return std::unexpected(system_error(errno, "notify socket: epoll"));
  return {};
}

int NotifySocket::socket_fd() const {
  return impl_->socket.get();
}

void NotifySocket::for_each_readiness_pipe(const std::function<void(ProcessId, int)>& visit) const {
  for (const auto& [pid, pipe] : impl_->pipes) visit(pid, pipe.get());
}

NotifySocket::NotifySocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NotifySocket::~NotifySocket() {
  ::unlink(impl_->path.c_str());
}

const std::string& NotifySocket::path() const {
  return impl_->path;
}

int NotifySocket::fd() const {
  return impl_->epoll.get();
}

std::size_t NotifySocket::collect(const OnMessage& on_message) {
  std::size_t reported = 0;
  constexpr int batch = 64;
  epoll_event events[batch];
  int ready = ::epoll_wait(impl_->epoll.get(), events, batch, 0);
  for (int i = 0; i < ready; ++i) {
    if (events[i].data.u64 == socket_key) {
      for (std::size_t n = 0; n < datagrams_per_call; ++n)
        if (!impl_->read_datagram(on_message, reported)) break;
    } else {
      impl_->read_pipe(static_cast<ProcessId>(events[i].data.u64), on_message, reported);
    }
  }
  return reported;
}

std::expected<void, Error> NotifySocket::add_readiness_pipe(ProcessId main_pid, UniqueFd read_end) {
  if (main_pid <= 0) return std::unexpected(Error::system(EINVAL, "readiness pipe: no pid"));
  int flags = ::fcntl(read_end.get(), F_GETFL);
  if (flags < 0 || ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    return std::unexpected(system_error(errno, "readiness pipe: fcntl"));
  impl_->close_pipe(main_pid);  // (a number reused: the old pipe is long gone)
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = static_cast<std::uint64_t>(main_pid);
  if (::epoll_ctl(impl_->epoll.get(), EPOLL_CTL_ADD, read_end.get(), &event) != 0)
    return std::unexpected(system_error(errno, "readiness pipe: epoll_ctl"));
  impl_->pipes.emplace(main_pid, std::move(read_end));
  return {};
}

void NotifySocket::forget(ProcessId main_pid) {
  impl_->close_pipe(main_pid);
}

std::size_t NotifySocket::open_pipes() const {
  return impl_->pipes.size();
}

const NotifySocket::Dropped& NotifySocket::dropped() const {
  return impl_->dropped;
}

}  // namespace posix
ARM_END_NAMESPACE
