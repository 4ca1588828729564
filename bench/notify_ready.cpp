// The start-all benchmark's service (bench/start_all.py): says READY=1 on $NOTIFY_SOCKET as soon
// as it runs, with one sendto and no library, then waits to be killed. Without $NOTIFY_SOCKET
// (readiness = "exec") it only waits, so both runs start the same program.
//
//   notify_ready
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

int main() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path && *path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::size_t length = std::strlen(path);
    if (length >= sizeof address.sun_path) return 2;
    std::memcpy(address.sun_path, path, length);
    if (path[0] == '@') address.sun_path[0] = '\0';  // an abstract socket, as sd_notify allows
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    static constexpr char ready[] = "READY=1";
    auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
    if (fd < 0 ||
        sendto(fd, ready, sizeof ready - 1, 0, reinterpret_cast<sockaddr*>(&address), size) < 0)
      return 1;
    close(fd);
  }
  for (;;) pause();
}
