// The benchmark's service: records "NAME PID MONOTONIC_NS" with one O_APPEND write as soon as
// it runs, then waits to be killed. The same stamp for every supervisor measured.
//
//   marker NAME LOGFILE
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  char line[256];
  int length = std::snprintf(line, sizeof line, "%s %d %lld\n", argv[argc - 2], getpid(),
                             static_cast<long long>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec);
  int fd = open(argv[argc - 1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line, static_cast<size_t>(length)) != length) return 1;
  close(fd);
  for (;;) pause();
}
