// The benchmark's service: records "NAME PID MONOTONIC_NS" with one O_APPEND write as soon as
// it runs, then waits to be killed. The same stamp for every supervisor measured.
//
//   marker NAME LOGFILE
//   marker                  NAME is the current directory's name, LOGFILE is $MARKER_LOG: how
//                           s6 and runit run it, as a service directory's `run` (a symlink to
//                           this program), with no shell in between.
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const char* name = nullptr;
  const char* log = nullptr;
  char directory[PATH_MAX];
  if (argc >= 3) {
    name = argv[argc - 2];
    log = argv[argc - 1];
  } else if (getcwd(directory, sizeof directory)) {
    const char* slash = std::strrchr(directory, '/');
    name = slash ? slash + 1 : directory;
    log = std::getenv("MARKER_LOG");
  }
  if (!name || !log) return 2;
  char line[512];
  int length = std::snprintf(line, sizeof line, "%s %d %lld\n", name, getpid(),
                             static_cast<long long>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec);
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line, static_cast<size_t>(length)) != length) return 1;
  close(fd);
  for (;;) pause();
}
