#include "listen_bind.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <vector>

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

std::string error_text(int error) {
  return std::strerror(error);
}

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

Address inet_address(const ListenAddress& listen) {
  Address address;
  if (listen.ipv6) {
    auto* six = reinterpret_cast<sockaddr_in6*>(&address.storage);
    six->sin6_family = AF_INET6;
    six->sin6_port = htons(listen.port);
    ::inet_pton(AF_INET6, listen.host.c_str(), &six->sin6_addr);  // checked when it was read
    address.length = sizeof *six;
  } else {
    auto* four = reinterpret_cast<sockaddr_in*>(&address.storage);
    four->sin_family = AF_INET;
    four->sin_port = htons(listen.port);
    ::inet_pton(AF_INET, listen.host.c_str(), &four->sin_addr);
    address.length = sizeof *four;
  }
  return address;
}

// "/run/x.sock", or "@name" for the abstract namespace (a leading NUL, no file).
Address unix_address(const std::string& path) {
  Address address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());  // its length was checked when read
  if (path.front() == '@') un->sun_path[0] = '\0';
  address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                          (path.front() == '@' ? 0 : 1));
  return address;
}

// A file at `path` that keeps a unix socket from binding: removed when it is a socket nobody
// listens on (left by a process that died); anything else is the caller's error to report.
std::expected<void, std::string> clear_stale_socket(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return {};  // nothing there
  if (!S_ISSOCK(info.st_mode))
    return std::unexpected(fmt::format("{} exists and is not a socket", path));
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe) return std::unexpected(fmt::format("socket: {}", error_text(errno)));
  Address address = unix_address(path);
  if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&address.storage), address.length) == 0 ||
      errno == EAGAIN || errno == EINPROGRESS)
    return std::unexpected(fmt::format("{} is in use: another process listens on it", path));
  if (errno != ECONNREFUSED) return std::unexpected(fmt::format("{}: {}", path, error_text(errno)));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return std::unexpected(
        fmt::format("cannot remove the stale socket {}: {}", path, error_text(errno)));
  return {};
}

// The missing directories above a socket's file, each made mode 0755 whatever armd's umask:
// under umask 0 they would be world-writable, and anyone could replace the socket. A directory
// that exists (or that another process makes meanwhile) is left as it is.
std::expected<void, std::string> make_directories(const std::filesystem::path& directory) {
  std::error_code ignored;
  if (directory == directory.parent_path() || std::filesystem::exists(directory, ignored))
    return {};
  if (auto above = make_directories(directory.parent_path()); !above) return above;
  if (::mkdir(directory.c_str(), 0755) != 0) {
    if (errno == EEXIST) return {};
    return std::unexpected(
        fmt::format("cannot make {}: {}", directory.string(), error_text(errno)));
  }
  if (::chmod(directory.c_str(), 0755) != 0)
    return std::unexpected(fmt::format("chmod {}: {}", directory.string(), error_text(errno)));
  return {};
}

std::expected<std::pair<uid_t, gid_t>, std::string> owner_ids(const std::string& owner) {
  auto colon = owner.find(':');
  std::string user = owner.substr(0, colon);
  std::string group = colon == std::string::npos ? std::string() : owner.substr(colon + 1);
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  int error = ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (!found)
    return std::unexpected(error ? fmt::format("user '{}': {}", user, error_text(error))
                                 : fmt::format("no user '{}'", user));
  std::pair ids{entry.pw_uid, entry.pw_gid};
  if (!group.empty()) {
    ::group group_entry{};
    ::group* group_found = nullptr;
    error = ::getgrnam_r(group.c_str(), &group_entry, buffer.data(), buffer.size(), &group_found);
    if (!group_found)
      return std::unexpected(error ? fmt::format("group '{}': {}", group, error_text(error))
                                   : fmt::format("no group '{}'", group));
    ids.second = group_found->gr_gid;
  }
  return ids;
}

// Mode and owner of a unix socket's file (none for an abstract name), applied through a
// descriptor of the file itself (O_PATH, O_NOFOLLOW) and only while it is the one `bound`
// made: a symlink or another file put at the path since (its directory may be writable by
// others) is left as it is, whatever armd's privileges. Such a file is not armd's socket; its
// clients cannot reach the service anyway.
std::expected<void, std::string> set_file_access(const BoundSocket& bound,
                                                 const SocketOptions& options) {
  if (!bound.path) return {};
  const std::string& path = *bound.path;
  UniqueFd file(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat info {};
  if (!file || ::fstat(file.get(), &info) != 0 || info.st_dev != bound.device ||
      info.st_ino != bound.inode)
    return {};
  // chmod() of the descriptor's /proc link reaches this very inode (fchmod() does not take an
  // O_PATH descriptor); without /proc, the path, just checked.
  std::string link = fmt::format("/proc/self/fd/{}", file.get());
  if (::chmod(link.c_str(), options.mode) != 0 &&
      (errno != ENOENT || ::fchmodat(AT_FDCWD, path.c_str(), options.mode, 0) != 0))
    return std::unexpected(fmt::format("chmod {}: {}", path, error_text(errno)));
  if (!options.owner.empty()) {
    auto ids = owner_ids(options.owner);
    if (!ids) return std::unexpected(fmt::format("listen_owner: {}", ids.error()));
    if (::fchownat(file.get(), "", ids->first, ids->second, AT_EMPTY_PATH) != 0)
      return std::unexpected(
          fmt::format("chown {} to {}: {}", path, options.owner, error_text(errno)));
  }
  return {};
}

}  // namespace

std::expected<BoundSocket, std::string> bind_socket(const ListenSocket& socket,
                                                    const SocketOptions& options) {
  BoundSocket bound;
  Address address;
  int type = socket.kind == ListenSocket::Kind::udp ? SOCK_DGRAM : SOCK_STREAM;
  bool is_unix = socket.kind == ListenSocket::Kind::unix_stream;
  bool has_file = is_unix && socket.path.front() != '@';
  if (is_unix) {
    if (has_file) {
      if (auto made = make_directories(std::filesystem::path(socket.path).parent_path()); !made)
        return std::unexpected(made.error());
      if (auto cleared = clear_stale_socket(socket.path); !cleared)
        return std::unexpected(cleared.error());
    }
    address = unix_address(socket.path);
  } else {
    address = inet_address(socket.address);
  }
  bound.fd.reset(::socket(address.storage.ss_family, type | SOCK_CLOEXEC, 0));
  if (!bound.fd) return std::unexpected(fmt::format("socket: {}", error_text(errno)));
  int on = 1;
  if (!is_unix) {
    // TCP only: a port whose last connections linger in TIME_WAIT binds again at once. UDP has
    // no such state; there the option would only let armd share a port with another program
    // that set it too, and take its datagrams, instead of reporting the port as in use.
    if (type == SOCK_STREAM &&
        ::setsockopt(bound.fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
      return std::unexpected(fmt::format("SO_REUSEADDR: {}", error_text(errno)));
    if (socket.address.ipv6 &&
        ::setsockopt(bound.fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
      return std::unexpected(fmt::format("IPV6_V6ONLY: {}", error_text(errno)));
  }
  if (::bind(bound.fd.get(), reinterpret_cast<sockaddr*>(&address.storage), address.length) != 0)
    return std::unexpected(error_text(errno));
  if (has_file) {
    // The file bind() made: a socket (lstat: a symlink put there meanwhile is not it).
    struct stat info {};
    if (::lstat(socket.path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode))
      return std::unexpected(fmt::format("{} was replaced as it was bound", socket.path));
    bound.device = info.st_dev;
    bound.inode = info.st_ino;
    bound.path = socket.path;
    if (auto access = set_file_access(bound, options); !access) {
      close_socket(bound);
      return std::unexpected(access.error());
    }
  }
  if (type == SOCK_STREAM && ::listen(bound.fd.get(), static_cast<int>(options.backlog)) != 0) {
    std::string why = fmt::format("listen: {}", error_text(errno));
    close_socket(bound);
    return std::unexpected(why);
  }
  if (options.nonblocking && ::fcntl(bound.fd.get(), F_SETFL, O_NONBLOCK) != 0) {
    std::string why = fmt::format("O_NONBLOCK: {}", error_text(errno));
    close_socket(bound);
    return std::unexpected(why);
  }
  return bound;
}

std::expected<void, std::string> retune_socket(const ListenSocket& socket, const BoundSocket& bound,
                                               const SocketOptions& options) {
  // A flag of the open socket, which armd and every process given it share: set or cleared
  // here, before a process is given it (armd itself never reads or accepts on it).
  int flags = ::fcntl(bound.fd.get(), F_GETFL);
  int wanted = options.nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (flags < 0 || (wanted != flags && ::fcntl(bound.fd.get(), F_SETFL, wanted) != 0))
    return std::unexpected(fmt::format("O_NONBLOCK: {}", error_text(errno)));
  // listen() again on a listening socket sets its backlog.
  if (socket.kind != ListenSocket::Kind::udp &&
      ::listen(bound.fd.get(), static_cast<int>(options.backlog)) != 0)
    return std::unexpected(fmt::format("listen: {}", error_text(errno)));
  return set_file_access(bound, options);
}

void close_socket(BoundSocket& bound) {
  if (bound.path) {
    // Only the file this socket made: another may have replaced it since.
    struct stat info {};
    if (::lstat(bound.path->c_str(), &info) == 0 && info.st_dev == bound.device &&
        info.st_ino == bound.inode)
      ::unlink(bound.path->c_str());
    bound.path.reset();
  }
  bound.fd.reset();
}

}  // namespace posix
ARM_END_NAMESPACE
