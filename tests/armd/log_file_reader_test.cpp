// Reading services' log files back for `logs` (armd/daemon/log_file_reader.hpp): the line
// format parsed back, the seam with the ring, and reading only the end of a big file.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "../config/temporary_directory.hpp"
#include "daemon/log_file_reader.hpp"

using armd::parse_log_file_line;
using armd::read_older_lines;

namespace {

using namespace std::chrono;

arm::WallTime at_ms(int ms) {
  return arm::WallTime(sys_days(year(2026) / December / 1).time_since_epoch() + hours(20) +
                       milliseconds(ms));
}

arm::OutputLine line_at(int ms, std::string text) {
  arm::OutputLine line;
  line.time = at_ms(ms);
  line.text = std::move(text);
  return line;
}

// A scratch directory (the config tests' TemporaryDirectory), removed with what it holds.
struct Scratch {
  TemporaryDirectory temporary;
  std::filesystem::path dir = temporary.path();
  armd::LogFiles::Setting setting() const { return {(dir / "s.log").string(), {}, false}; }
};

void write_lines(const std::string& path, const std::vector<arm::OutputLine>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  for (const auto& line : lines) out << arm::format_log_file_line(line);
}

std::vector<std::string> texts(const std::vector<armd::FileLine>& lines) {
  std::vector<std::string> out;
  for (const auto& line : lines) out.push_back(line.line.text);
  return out;
}

}  // namespace

TEST_CASE("a log file line parses back to the line written") {
  arm::OutputLine line = line_at(5, "a\xff b");
  line.stream = arm::OutputStream::standard_error;
  std::string written = arm::format_log_file_line(line);
  auto parsed = parse_log_file_line(std::string_view(written).substr(0, written.size() - 1));
  REQUIRE(parsed);
  CHECK(parsed->time == line.time);
  CHECK(parsed->stream == arm::OutputStream::standard_error);
  CHECK(parsed->text == "a\xff b");
  CHECK_FALSE(parsed->continues);
  CHECK(parse_log_file_line("2026-12-01T20:00:00.000Z stdout ")->text.empty());
}

TEST_CASE("a piece of a long line is told from a line that ends with a backslash") {
  arm::OutputLine piece = line_at(0, std::string(arm::LineSplitter::default_max_line, 'x'));
  piece.continues = true;
  std::string written = arm::format_log_file_line(piece);
  auto parsed = parse_log_file_line(std::string_view(written).substr(0, written.size() - 1));
  REQUIRE(parsed);
  CHECK(parsed->continues);
  CHECK(parsed->text == piece.text);
  auto short_one = parse_log_file_line("2026-12-01T20:00:00.000Z stdout C:\\");
  CHECK_FALSE(short_one->continues);
  CHECK(short_one->text == "C:\\");
}

TEST_CASE("anything but TIME STREAM TEXT does not parse") {
  CHECK_FALSE(parse_log_file_line("hello"));
  CHECK_FALSE(parse_log_file_line(""));
  CHECK_FALSE(parse_log_file_line("2026-13-01T00:00:00Z stdout x"));
  CHECK_FALSE(parse_log_file_line("2026-12-01T00:00:00.000Z stdin x"));
  CHECK_FALSE(parse_log_file_line("2026-12-01T00:00:00.000Z stdout"));
}

TEST_CASE("the file's lines the ring holds are skipped, to its millisecond") {
  Scratch scratch;
  auto setting = scratch.setting();
  write_lines(setting.path + ".1", {line_at(1, "one"), line_at(2, "two a")});
  write_lines(setting.path, {line_at(2, "two b"), line_at(2, "two c"), line_at(3, "three")});
  arm::OutputRing ring;
  ring.append(at_ms(2), arm::OutputStream::standard_output, "two b");
  ring.append(at_ms(2), arm::OutputStream::standard_output, "two c");
  ring.append(at_ms(3), arm::OutputStream::standard_output, "three");
  std::size_t budget = armd::read_back_budget;
  CHECK(texts(read_older_lines(setting, {10, std::nullopt, &ring}, budget)) ==
        std::vector<std::string>{"one", "two a"});
  CHECK(texts(read_older_lines(setting, {1, std::nullopt, &ring}, budget)) ==
        std::vector<std::string>{"two a"});
  CHECK(texts(read_older_lines(setting, {10, at_ms(2), &ring}, budget)) ==
        std::vector<std::string>{"two a"});
  // Without a ring (armd restarted), the whole file is older.
  CHECK(read_older_lines(setting, {10, std::nullopt, nullptr}, budget).size() == 5);
}

TEST_CASE("the last lines of a big file are read from its end only") {
  Scratch scratch;
  auto setting = scratch.setting();
  std::vector<arm::OutputLine> lines;
  for (int i = 0; i < 200000; ++i) lines.push_back(line_at(i / 100, std::string(60, 'x')));
  lines.back().text = "last";
  write_lines(setting.path, lines);  // about 20 MB
  std::size_t budget = armd::read_back_budget;
  auto read = read_older_lines(setting, {10, std::nullopt, nullptr}, budget);
  CHECK(read.size() == 10);
  CHECK(read.back().line.text == "last");
  CHECK(armd::read_back_budget - budget <= 64 * 1024);
  // Asked for more than the budget allows: what the budget read, nothing more.
  budget = 128 * 1024;
  read = read_older_lines(setting, {200000, std::nullopt, nullptr}, budget);
  CHECK(read.size() > 10);
  CHECK(read.size() < 200000);
  CHECK(read.back().line.text == "last");
}

TEST_CASE("a line that does not parse is kept whole, stamped as the line after it") {
  Scratch scratch;
  auto setting = scratch.setting();
  write_lines(setting.path, {line_at(1, "one")});
  { std::ofstream(setting.path, std::ios::app) << "someone else's line\n"; }
  write_lines(setting.path, {line_at(7, "seven")});
  std::size_t budget = armd::read_back_budget;
  auto read = read_older_lines(setting, {10, std::nullopt, nullptr}, budget);
  REQUIRE(read.size() == 3);
  CHECK(read[1].unparsed);
  CHECK(read[1].line.text == "someone else's line");
  CHECK(read[1].line.time == at_ms(7));
  CHECK_FALSE(read[0].unparsed);
}
