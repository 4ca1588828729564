// The control plane's floor: a Unix-socket server that only echoes each line back, so
// bench/status_rtt against it measures the kernel's round trip with no work done at all.
//
//   echo_floor SOCKET       serves one connection, greeting it first as armd does
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
  unlink(argv[1]);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 1) != 0)
    return 1;
  int connection = accept(listener, nullptr, nullptr);
  if (connection < 0) return 1;
  static constexpr char hello[] = "{\"hello\":\"echo\"}\n";
  if (write(connection, hello, sizeof hello - 1) < 0) return 1;
  char buffer[65536];
  for (;;) {
    ssize_t got = read(connection, buffer, sizeof buffer);
    if (got <= 0) return 0;
    if (write(connection, buffer, static_cast<size_t>(got)) != got) return 1;
  }
}
