// The output benchmark's floor: the least a supervisor can do with a service's output — read
// the pipe on stdin and append what comes to a file, 64 KiB at a time, until end of file. No
// lines, no time stamps, no rotation.
//
//   line_writer NAME BYTES | pipe_to_file FILE
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pipe_to_file FILE  (reads stdin)\n");
    return 2;
  }
  int file = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (file < 0) {
    std::perror(argv[1]);
    return 1;
  }
  static char buffer[65536];
  for (;;) {
    ssize_t got = read(STDIN_FILENO, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return 1;
    if (got == 0) return 0;
    for (ssize_t done = 0; done < got;) {
      ssize_t written = write(file, buffer + done, static_cast<std::size_t>(got - done));
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) return 1;
      done += written;
    }
  }
}
