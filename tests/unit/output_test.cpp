// What services write, as lines: the splitter and the ring, on bytes and times given by hand.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "arm/output.hpp"

using namespace arm;
using namespace std::chrono_literals;

namespace {

struct Piece {
  std::string text;
  bool continues;
  bool operator==(const Piece&) const = default;
};

// Collects what a splitter emits.
struct Pieces {
  std::vector<Piece> got;
  LineSplitter::Emit emit() {
    return [this](std::string_view text, bool continues) {
      got.push_back({std::string(text), continues});
    };
  }
};

const WallTime noon =
    WallTime{} +
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::December / 1}.time_since_epoch() +
    12h;

std::vector<std::uint64_t> sequences(const std::vector<OutputLine>& lines) {
  std::vector<std::uint64_t> numbers;
  for (const auto& line : lines) numbers.push_back(line.sequence);
  return numbers;
}

}  // namespace

TEST_CASE("bytes become lines at each newline, however the reads cut them") {
  LineSplitter splitter;
  Pieces pieces;
  splitter.feed("one\ntw", pieces.emit());
  CHECK(splitter.pending() == 2);
  splitter.feed("o\n\nthree\n", pieces.emit());
  CHECK(pieces.got ==
        std::vector<Piece>{{"one", false}, {"two", false}, {"", false}, {"three", false}});
  CHECK(splitter.pending() == 0);
}

TEST_CASE("a partial last line waits for more bytes, and comes out when the stream ends") {
  LineSplitter splitter;
  Pieces pieces;
  splitter.feed("no newline yet", pieces.emit());
  CHECK(pieces.got.empty());
  splitter.finish(pieces.emit());
  CHECK(pieces.got == std::vector<Piece>{{"no newline yet", false}});
  splitter.finish(pieces.emit());
  CHECK(pieces.got.size() == 1);
}

TEST_CASE("a line longer than the limit comes out in marked pieces, nothing cut away") {
  LineSplitter splitter(4);
  Pieces pieces;
  splitter.feed("abcdefghij\nxy", pieces.emit());
  splitter.feed("zwvu\n", pieces.emit());
  CHECK(pieces.got ==
        std::vector<Piece>{
            {"abcd", true}, {"efgh", true}, {"ij", false}, {"xyzw", true}, {"vu", false}});
}

TEST_CASE("a line of exactly the limit is one piece") {
  LineSplitter splitter(4);
  Pieces pieces;
  splitter.feed("abcd\n", pieces.emit());
  CHECK(pieces.got == std::vector<Piece>{{"abcd", false}});
}

TEST_CASE("invalid UTF-8 and NUL bytes are kept as they came") {
  LineSplitter splitter;
  Pieces pieces;
  std::string bytes("\xff\xfe ok \xc3(\0end\n", 13);
  splitter.feed(bytes, pieces.emit());
  REQUIRE(pieces.got.size() == 1);
  CHECK(pieces.got[0].text == bytes.substr(0, 12));
}

TEST_CASE("a plain lambda gets the same pieces as an Emit, wherever the reads cut the bytes") {
  // Whole lines, a long line cut in marked pieces, an empty line and a partial last line: the
  // lines a read holds whole go to the lambda directly, the others through the held bytes.
  const std::string bytes = "short\nabcdefghijk\n\nexact!\nlonger than six\ntail";
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    CAPTURE(cut);
    LineSplitter by_function(6), by_lambda(6);
    Pieces expected, got;
    auto lambda = [&got](std::string_view text, bool continues) {
      got.got.push_back({std::string(text), continues});
    };
    by_function.feed(std::string_view(bytes).substr(0, cut), expected.emit());
    by_function.feed(std::string_view(bytes).substr(cut), expected.emit());
    by_function.finish(expected.emit());
    by_lambda.feed(std::string_view(bytes).substr(0, cut), lambda);
    by_lambda.feed(std::string_view(bytes).substr(cut), lambda);
    by_lambda.finish(lambda);
    CHECK(got.got == expected.got);
    CHECK(got.got == std::vector<Piece>{{"short", false},
                                        {"abcdef", true},
                                        {"ghijk", false},
                                        {"", false},
                                        {"exact!", false},
                                        {"longer", true},
                                        {" than ", true},
                                        {"six", false},
                                        {"tail", false}});
  }
}

TEST_CASE("the ring numbers its lines and drops the oldest when the bytes run out") {
  // Room for three 8-byte lines.
  OutputRing ring(3 * (8 + OutputRing::line_overhead));
  for (int i = 1; i <= 5; ++i)
    ring.append(noon + i * 1s, OutputStream::standard_output, "line-00" + std::to_string(i));
  CHECK(ring.size() == 3);
  CHECK(ring.first_sequence() == 3);
  CHECK(ring.next_sequence() == 6);
  CHECK(ring.dropped() == 2);
  CHECK(ring.bytes() <= ring.capacity());
  auto last = ring.last(2);
  CHECK(sequences(last) == std::vector<std::uint64_t>{4, 5});
  CHECK(last[1].text == "line-005");
  CHECK(last[1].time == noon + 5s);
  CHECK(sequences(ring.last(100)) == std::vector<std::uint64_t>{3, 4, 5});
}

TEST_CASE("lines stored together leave the ring as storing them one by one would") {
  // Batches from one line to many times the ring, lines of 0 to 400 bytes (some larger than
  // the smallest ring), after lines stored one at a time: numbers, drops and texts all agree.
  auto text_of = [](std::size_t n) { return std::string(n * 37 % 401, char('a' + n % 26)); };
  for (std::size_t capacity :
       {std::size_t{64}, 3 * (10 + OutputRing::line_overhead), std::size_t{4096}}) {
    for (std::size_t before : {0, 1, 5}) {
      for (std::size_t count : {1, 2, 3, 10, 100}) {
        CAPTURE(capacity);
        CAPTURE(before);
        CAPTURE(count);
        OutputRing one_by_one(capacity), together(capacity);
        for (std::size_t n = 0; n < before; ++n) {
          one_by_one.append(noon, OutputStream::standard_output, text_of(n + 1000));
          together.append(noon, OutputStream::standard_output, text_of(n + 1000));
        }
        std::vector<std::string> texts;
        for (std::size_t n = 0; n < count; ++n) texts.push_back(text_of(n));
        std::vector<OutputRing::Text> batch;
        for (std::size_t n = 0; n < count; ++n) {
          one_by_one.append(noon + 1s, OutputStream::standard_error, texts[n], n % 4 == 1);
          batch.push_back({texts[n], n % 4 == 1});
        }
        together.append_all(noon + 1s, OutputStream::standard_error, batch);
        CHECK(together.next_sequence() == one_by_one.next_sequence());
        CHECK(together.first_sequence() == one_by_one.first_sequence());
        CHECK(together.dropped() == one_by_one.dropped());
        CHECK(together.bytes() == one_by_one.bytes());
        auto expected = one_by_one.lines_from(0);
        auto got = together.lines_from(0);
        CHECK(got.missed == expected.missed);
        REQUIRE(got.lines.size() == expected.lines.size());
        for (std::size_t i = 0; i < got.lines.size(); ++i) {
          CHECK(got.lines[i].sequence == expected.lines[i].sequence);
          CHECK(got.lines[i].text == expected.lines[i].text);
          CHECK(got.lines[i].stream == expected.lines[i].stream);
          CHECK(got.lines[i].continues == expected.lines[i].continues);
          CHECK(got.lines[i].time == expected.lines[i].time);
        }
        // And it goes on the same afterwards.
        one_by_one.append(noon + 2s, OutputStream::standard_output, "after");
        together.append(noon + 2s, OutputStream::standard_output, "after");
        CHECK(together.newest().sequence == one_by_one.newest().sequence);
        CHECK(together.size() == one_by_one.size());
      }
    }
  }
}

TEST_CASE("a line larger than the whole ring is kept alone rather than lost") {
  OutputRing ring(64);
  ring.append(noon, OutputStream::standard_output, "small");
  ring.append(noon, OutputStream::standard_error, std::string(1000, 'x'));
  CHECK(ring.size() == 1);
  CHECK(ring.last(1)[0].stream == OutputStream::standard_error);
  ring.append(noon, OutputStream::standard_output, "after");
  CHECK(ring.size() == 1);
  CHECK(ring.last(1)[0].text == "after");
}

TEST_CASE("a reader that fell behind is told how many lines it missed, then gets the rest") {
  OutputRing ring(3 * (1 + OutputRing::line_overhead));
  for (char c : std::string("abcdef")) ring.append(noon, OutputStream::standard_output, {&c, 1});
  auto since = ring.lines_from(2);
  CHECK(since.missed == 2);  // lines 2 and 3 are gone
  CHECK(sequences(since.lines) == std::vector<std::uint64_t>{4, 5, 6});
  CHECK(since.next == 7);
  auto caught_up = ring.lines_from(since.next);
  CHECK(caught_up.missed == 0);
  CHECK(caught_up.lines.empty());
  CHECK(caught_up.next == 7);
  auto some = ring.lines_from(5, 1);
  CHECK(sequences(some.lines) == std::vector<std::uint64_t>{5});
  CHECK(some.next == 6);
}

TEST_CASE("the ring's lines keep their bytes while the oldest are dropped, thousands of times") {
  OutputRing ring(4096);
  auto text_of = [](std::uint64_t n) {
    // Lengths from 0 to 300, so that lines straddle every point where the buffer is compacted.
    return std::string(n * 7 % 301, static_cast<char>('a' + n % 26)) + std::to_string(n);
  };
  for (std::uint64_t n = 1; n <= 20000; ++n) {
    ring.append(noon, n % 3 ? OutputStream::standard_output : OutputStream::standard_error,
                text_of(n), n % 5 == 0);
    OutputLineView newest = ring.newest();
    REQUIRE(newest.sequence == n);
    REQUIRE(newest.text == text_of(n));
    REQUIRE(newest.continues == (n % 5 == 0));
  }
  auto kept = ring.last(1000);
  REQUIRE(kept.size() == ring.size());
  CHECK(ring.bytes() <= 4096);
  for (const auto& line : kept) {
    CHECK(line.text == text_of(line.sequence));
    CHECK(line.stream ==
          (line.sequence % 3 ? OutputStream::standard_output : OutputStream::standard_error));
  }
  auto since = ring.lines_from(ring.first_sequence() + 1, 2);
  REQUIRE(since.lines.size() == 2);
  CHECK(since.lines[1].text == text_of(ring.first_sequence() + 2));
  ring.set_capacity(600);
  for (const auto& line : ring.last(1000)) CHECK(line.text == text_of(line.sequence));
  CHECK(ring.newest().text == text_of(20000));
}

TEST_CASE("a smaller capacity drops the oldest lines at once") {
  OutputRing ring(10 * (1 + OutputRing::line_overhead));
  for (int i = 0; i < 10; ++i) ring.append(noon, OutputStream::standard_output, "x");
  ring.set_capacity(2 * (1 + OutputRing::line_overhead));
  CHECK(sequences(ring.last(10)) == std::vector<std::uint64_t>{9, 10});
}

TEST_CASE("stamps are RFC 3339 in UTC with milliseconds") {
  CHECK(format_rfc3339_ms(noon + 123ms) == "2026-12-01T12:00:00.123Z");
  CHECK(format_rfc3339_ms(noon + 59min + 59s + 7ms) == "2026-12-01T12:59:59.007Z");
  CHECK(to_string(OutputStream::standard_error) == "stderr");
}

TEST_CASE("the stamp cache gives the same stamps as formatting each time, across boundaries") {
  StampCache cache;
  const WallTime midnight = noon + 12h;  // 2026-12-02T00:00:00
  // Repeated, within a second, and across a second, a minute, an hour, a day, a month and a
  // year; backwards too (a wall clock set back); and fractions of a millisecond.
  std::vector<WallTime> times = {noon,
                                 noon,
                                 noon + 1ms,
                                 noon + 999ms,
                                 noon + 1s,
                                 noon + 1s + 400us,
                                 noon + 1s + 999us,
                                 noon + 59s + 999ms,
                                 noon + 1min,
                                 noon + 59min + 59s + 999ms,
                                 noon + 1h,
                                 midnight - 1ms,
                                 midnight,
                                 midnight + 5ms,
                                 noon + 1s + 5ms,
                                 noon + 30 * 24h - 1ms,
                                 noon + 30 * 24h,
                                 WallTime{} - 1ms,
                                 WallTime{}};
  for (WallTime time : times) {
    CAPTURE(format_rfc3339_ms(time));
    CHECK(cache.stamp(time) == format_rfc3339_ms(time));
  }
  CHECK(cache.stamp(midnight - 1ms) == "2026-12-01T23:59:59.999Z");
  CHECK(cache.stamp(midnight) == "2026-12-02T00:00:00.000Z");
  CHECK(cache.stamp(midnight + 5ms) == "2026-12-02T00:00:00.005Z");
}

TEST_CASE("a log file line appended to a buffer is the one formatted alone, and its size") {
  std::string out = "before\n";
  StampCache cache;
  OutputLine line{3, noon + 5ms, OutputStream::standard_error, std::string("a\xff", 2), true};
  append_log_file_line(out, cache.stamp(line.time), line.stream, line.text, line.continues);
  CHECK(out == "before\n" + format_log_file_line(line));
  CHECK(log_file_line_size(line.stream, line.text, line.continues) ==
        format_log_file_line(line).size());
}

// What the parser answers for a day: the clock's range decides. libstdc++'s system clock counts
// nanoseconds (1678 to 2261), libc++'s microseconds (every four-digit year); a day beyond the
// range is the clock's earliest or latest time.
static WallTime day_or_clock_limit(std::chrono::sys_days day) {
  if (day > std::chrono::floor<std::chrono::days>(WallTime::max())) return WallTime::max();
  if (day < std::chrono::ceil<std::chrono::days>(WallTime::min())) return WallTime::min();
  return std::chrono::time_point_cast<WallTime::duration>(day);
}

TEST_CASE("RFC 3339 times are read in UTC or with an offset, and nonsense is refused") {
  CHECK(parse_rfc3339("2026-12-01T12:00:00Z") == noon);
  CHECK(parse_rfc3339("2026-12-01T12:00:00.123Z") == noon + 123ms);
  CHECK(parse_rfc3339("2026-12-01t12:00:00.1234567z") == noon + 123ms);
  CHECK(parse_rfc3339("2026-12-01 13:30:00+01:30") == noon);
  CHECK(parse_rfc3339("2026-12-01T07:00:00-05:00") == noon);
  CHECK(parse_rfc3339(format_rfc3339_ms(noon + 59min + 7ms)) == noon + 59min + 7ms);
  CHECK(parse_rfc3339("2999-01-01T00:00:00Z") ==
        day_or_clock_limit(std::chrono::year{2999} / std::chrono::January / 1));
  CHECK(parse_rfc3339("0001-01-01T00:00:00Z") ==
        day_or_clock_limit(std::chrono::year{1} / std::chrono::January / 1));
  for (std::string_view bad :
       {"", "10m", "2026-12-01", "2026-12-01T12:00:00", "2026-12-01T12:00:00+0100",
        "2026-02-30T12:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T12:60:00Z",
        "2026-12-01T12:00:00.Z", "2026-12-01T12:00:00Zjunk", "2026-12-01X12:00:00Z",
        "2026-12-01T12:00:00+24:00"})
    CHECK_MESSAGE(!parse_rfc3339(bad), bad);
}

TEST_CASE("a log file is rotated before a line that would take it past its size, never empty") {
  FileRotation rotation{.max_size = 100, .kept_files = 3};
  CHECK_FALSE(rotation.due(0, 500));  // a long line goes whole into a fresh file
  CHECK_FALSE(rotation.due(90, 10));
  CHECK(rotation.due(90, 11));
}

TEST_CASE("rotation renames the oldest first, so each file moves one place down") {
  FileRotation rotation{.max_size = 100, .kept_files = 3};
  using Step = std::pair<std::string, std::string>;
  CHECK(rotation.renames("/l/web.log") == std::vector<Step>{{"/l/web.log.2", "/l/web.log.3"},
                                                            {"/l/web.log.1", "/l/web.log.2"},
                                                            {"/l/web.log", "/l/web.log.1"}});
  FileRotation one{.max_size = 100, .kept_files = 1};
  CHECK(one.renames("w") == std::vector<Step>{{"w", "w.1"}});
}

TEST_CASE("a log file line is the stamp, the stream and the bytes, marked when continued") {
  OutputLine line{3, noon + 5ms, OutputStream::standard_error, std::string("a\xff", 2), true};
  CHECK(format_log_file_line(line) == "2026-12-01T12:00:00.005Z stderr a\xff\\\n");
  line.continues = false;
  CHECK(format_log_file_line(line).ends_with("a\xff\n"));
}
