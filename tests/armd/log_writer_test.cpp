// armd's log writer on a pipe it shares with others (services with stderr = "inherit"): what it
// writes while the pipe is nearly full must arrive as whole lines, never cut by another writer.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <sstream>
#include <string>

#include "daemon/log.hpp"

namespace {

std::string drain(int fd) {
  std::string out;
  char buffer[65536];
  for (ssize_t got; (got = ::read(fd, buffer, sizeof buffer)) > 0;) out.append(buffer, got);
  return out;
}

}  // namespace

TEST_CASE("a line stderr's pipe cannot take whole waits whole: another writer cannot cut it") {
  int ends[2];
  REQUIRE(::pipe2(ends, O_CLOEXEC | O_NONBLOCK) == 0);
  REQUIRE(::fcntl(ends[1], F_SETPIPE_SZ, 16 * 4096) >= 16 * 4096);
  int saved = ::dup(STDERR_FILENO);
  REQUIRE(::dup2(ends[1], STDERR_FILENO) == STDERR_FILENO);
  armd::set_log_format(armd::LogFormat::json);  // the writer opens its own stderr: the pipe

  // Another writer fills all of the pipe's pages but one.
  std::string other(15 * 4096, 'o');
  REQUIRE(::write(ends[1], other.data(), other.size()) == static_cast<ssize_t>(other.size()));
  for (int i = 0; i < 8; ++i) armd::log(armd::Level::info, "{} {}", i, std::string(1000, 'a'));
  armd::flush_log();  // one page fits: some of the lines
  std::string read = drain(ends[0]);
  REQUIRE(::write(ends[1], "other\n", 6) == 6);  // the other writer, between two flushes
  armd::flush_log();
  read += drain(ends[0]);
  armd::flush_log();
  read += drain(ends[0]);

  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(ends[0]);
  ::close(ends[1]);

  std::istringstream lines(read.substr(other.size()));
  int armd_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line == "other") continue;
    INFO(line.substr(0, 80));
    CHECK(nlohmann::json::accept(line));
    ++armd_lines;
  }
  CHECK(armd_lines == 8);
}
