// Control-plane throughput: `status NAME` requests per second on one connection to armd. With
// DEPTH 1 (the default) each request waits for its reply: round trips. With a larger DEPTH that
// many requests are kept in flight, as a client that pipelines would.
//
//   status_rtt SOCKET NAME SECONDS [DEPTH]
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
  if (argc != 4 && argc != 5) return 2;
  long depth = argc == 5 ? std::atol(argv[4]) : 1;
  if (depth < 1) return 2;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return 4;
  std::string request =
      std::string("{\"id\":1,\"method\":\"status\",\"services\":[\"") + argv[2] + "\"]}\n";
  // Replies are consumed by moving an offset, and the buffer is compacted only when it is
  // drained: erasing each line from the front moved every later reply once per line, which cost
  // this client more than armd's larger replies than the floor's echoes (docs/performance.md).
  std::string buffer;
  std::size_t consumed = 0;
  char chunk[65536];
  auto read_line = [&] {
    for (;;) {
      auto newline = buffer.find('\n', consumed);
      if (newline != std::string::npos) {
        consumed = newline + 1;
        return true;
      }
      buffer.erase(0, consumed);
      consumed = 0;
      ssize_t got = recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(got));
    }
  };
  if (!read_line()) return 4;  // hello
  double seconds = std::atof(argv[3]);
  std::string burst;
  for (long i = 0; i < depth; ++i) burst += request;
  long count = 0;
  double began = now();
  while (now() - began < seconds) {
    if (send(fd, burst.data(), burst.size(), 0) != static_cast<ssize_t>(burst.size())) return 1;
    for (long i = 0; i < depth; ++i)
      if (!read_line()) return 1;
    count += depth;
  }
  std::printf("%.0f\n", count / (now() - began));
}
