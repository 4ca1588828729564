// The output benchmark's service: writes BYTES bytes to stdout as 100-byte lines, as fast as
// it can (whole lines in 64 KiB writes), each "NAME SEQUENCE PADDING\n" (x characters up to
// 100 bytes) so a reader can check that none was lost or reordered. With --wait it then waits
// to be killed (the idle measurement's services: one line, or none, then silence).
//
//   line_writer NAME BYTES [--wait]
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int line_length = 100;
constexpr int lines_per_write = 655;  // 65,500 bytes: one write fills most of a default pipe

// "NAME SEQUENCE " padded with 'x' to 99 bytes, then the newline.
void format_line(char* out, const char* name, unsigned long long sequence) {
  int used = std::snprintf(out, line_length, "%s %llu ", name, sequence);
  std::memset(out + used, 'x', line_length - 1 - used);
  out[line_length - 1] = '\n';
}

bool write_all(const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t written = write(STDOUT_FILENO, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || std::strlen(argv[1]) > 40) {
    std::fprintf(stderr, "usage: line_writer NAME BYTES [--wait]\n");
    return 2;
  }
  const char* name = argv[1];
  unsigned long long lines = std::strtoull(argv[2], nullptr, 10) / line_length;
  bool wait_after = argc > 3 && std::strcmp(argv[3], "--wait") == 0;

  static char buffer[line_length * lines_per_write];
  for (unsigned long long sequence = 0; sequence < lines;) {
    int in_buffer = 0;
    for (; in_buffer < lines_per_write && sequence < lines; ++in_buffer, ++sequence)
      format_line(buffer + in_buffer * line_length, name, sequence);
    if (!write_all(buffer, static_cast<std::size_t>(in_buffer) * line_length)) return 1;
  }
  if (wait_after)
    for (;;) pause();
  return 0;
}
