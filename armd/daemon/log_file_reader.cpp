#include "log_file_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include <fmt/format.h>

#include "arm/posix/unique_fd.hpp"

namespace armd {

std::optional<arm::OutputLine> parse_log_file_line(std::string_view line) {
  auto space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto time = arm::parse_rfc3339(line.substr(0, space));
  if (!time) return std::nullopt;
  std::string_view rest = line.substr(space + 1);
  arm::OutputLine parsed;
  parsed.time = *time;
  if (rest.starts_with("stdout "))
    parsed.stream = arm::OutputStream::standard_output;
  else if (rest.starts_with("stderr "))
    parsed.stream = arm::OutputStream::standard_error;
  else
    return std::nullopt;
  std::string_view text = rest.substr(7);
  // A piece of a longer line is exactly the splitter's limit long, then the '\' that marks it:
  // a whole line that long would have been cut itself, so a text ending in '\' is not taken
  // for a piece.
  if (text.size() == arm::LineSplitter::default_max_line + 1 && text.back() == '\\') {
    text.remove_suffix(1);
    parsed.continues = true;
  }
  parsed.text = text;
  return parsed;
}

namespace {

using Milliseconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
Milliseconds to_ms(arm::WallTime time) {
  return std::chrono::floor<std::chrono::milliseconds>(time);
}

// A regular file's lines from the last to the first, read in blocks from its end.
class BackwardLines {
 public:
  static constexpr std::size_t block = 64 * 1024;
  BackwardLines(int fd, std::uint64_t size) : fd_(fd), offset_(size) {}

  // The next older line, without its '\n'; nullopt at the start of the file, or when reading
  // on would go beyond `budget` (out_of_budget()).
  std::optional<std::string> next(std::size_t& budget) {
    for (;;) {
      if (auto newline = unread_.rfind('\n'); newline != std::string::npos) {
        std::string line = unread_.substr(newline + 1);
        unread_.resize(newline);
        return line;
      }
      if (offset_ == 0) {
        if (finished_) return std::nullopt;
        finished_ = true;
        return std::exchange(unread_, {});
      }
      std::size_t size = static_cast<std::size_t>(std::min<std::uint64_t>(block, offset_));
      if (size > budget) {
        out_of_budget_ = true;
        return std::nullopt;
      }
      std::string bytes(size, '\0');
      ssize_t got = ::pread(fd_, bytes.data(), size, static_cast<off_t>(offset_ - size));
      if (got != static_cast<ssize_t>(size)) return std::nullopt;  // shrunk or failing: stop
      budget -= size;
      offset_ -= size;
      unread_.insert(0, bytes);
      // The file's last newline ends its last line; no empty line after it.
      if (std::exchange(at_end_, false) && !unread_.empty() && unread_.back() == '\n')
        unread_.pop_back();
    }
  }
  bool out_of_budget() const { return out_of_budget_; }

 private:
  int fd_;
  std::uint64_t offset_;  // where the bytes not read yet end
  std::string unread_;    // read, not returned yet
  bool at_end_ = true;
  bool finished_ = false;
  bool out_of_budget_ = false;
};

// Where the ring starts: its oldest line's millisecond, and how many of its lines share it.
struct Seam {
  Milliseconds time;
  std::size_t in_ring = 0;
};
std::optional<Seam> seam_of(const arm::OutputRing* ring) {
  if (!ring || ring->size() == 0) return std::nullopt;
  Seam seam;
  std::uint64_t from = ring->first_sequence();
  seam.time = to_ms(ring->lines_from(from, 1).lines.front().time);
  for (;;) {
    auto some = ring->lines_from(from, 64);
    for (const auto& line : some.lines) {
      if (to_ms(line.time) != seam.time) return seam;
      ++seam.in_ring;
    }
    if (some.lines.size() < 64) return seam;
    from = some.next;
  }
}

}  // namespace

std::vector<FileLine> read_older_lines(const LogFiles::Setting& setting,
                                       const OlderLinesQuery& query, std::size_t& budget) {
  std::vector<FileLine> newest_first;
  auto seam = seam_of(query.ring);
  bool past_seam = !seam;
  std::optional<arm::WallTime> newer_time;  // of the last parsed line taken
  auto finish = [&] {
    std::ranges::reverse(newest_first);
    return std::move(newest_first);
  };
  std::size_t kept = setting.rotation.kept_files == 0 ? 1 : setting.rotation.kept_files;
  for (std::size_t n = 0; n <= kept && newest_first.size() < query.count; ++n) {
    std::string path = n == 0 ? setting.path : fmt::format("{}.{}", setting.path, n);
    // Non-blocking: a FIFO opened for reading would wait for a writer. Only regular files are
    // read back; one armd cannot open is skipped.
    arm::posix::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    struct stat info {};
    if (!fd || ::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    BackwardLines lines(fd.get(), static_cast<std::uint64_t>(info.st_size));
    // An unparsed line is given the time of the line after it (or the file's last change).
    auto written = arm::WallTime(std::chrono::duration_cast<arm::WallTime::duration>(
        std::chrono::seconds(info.st_mtim.tv_sec) +
        std::chrono::nanoseconds(info.st_mtim.tv_nsec)));
    while (newest_first.size() < query.count) {
      auto text = lines.next(budget);
      if (!text) break;
      auto parsed = parse_log_file_line(*text);
      if (!parsed) {
        if (!past_seam) continue;  // among the lines the ring has
        FileLine raw{{}, true};
        raw.line.time = newer_time.value_or(written);
        raw.line.text = std::move(*text);
        newest_first.push_back(std::move(raw));
        continue;
      }
      if (!past_seam) {
        auto time = to_ms(parsed->time);
        if (time > seam->time) continue;
        if (time == seam->time && seam->in_ring > 0) {
          --seam->in_ring;
          continue;
        }
        past_seam = true;
      }
      if (query.since && parsed->time < *query.since) return finish();  // the rest is older
      newer_time = parsed->time;
      newest_first.push_back({std::move(*parsed), false});
    }
    if (lines.out_of_budget()) break;
  }
  return finish();
}

}  // namespace armd
