// Control-plane throughput: `status NAME` round trips per second on one connection to armd.
//
//   status_rtt SOCKET NAME SECONDS
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {
double now() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return 4;
  std::string request =
      std::string("{\"id\":1,\"method\":\"status\",\"services\":[\"") + argv[2] + "\"]}\n";
  std::string buffer;
  char chunk[65536];
  auto read_line = [&] {
    for (;;) {
      auto newline = buffer.find('\n');
      if (newline != std::string::npos) {
        buffer.erase(0, newline + 1);
        return true;
      }
      ssize_t got = recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(got));
    }
  };
  if (!read_line()) return 4;  // hello
  double seconds = std::atof(argv[3]);
  long count = 0;
  double began = now();
  while (now() - began < seconds) {
    if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size()))
      return 1;
    if (!read_line()) return 1;
    ++count;
  }
  std::printf("%.0f\n", count / (now() - began));
}
