// What services write, as lines: pure pieces (no system calls, no clock of their own) that turn
// the bytes read from a service's stdout and stderr into stamped lines, and keep the latest of
// them in a ring bounded in bytes. armd keeps one ring per service; an embedder can do the same
// with its own reader (or arm::posix::OutputPipes, <arm/posix/output_pipes.hpp>).
//
// Bytes are kept as they came: a line is a std::string of whatever the program wrote, valid
// UTF-8 or not, without its '\n'.
#pragma once

#include "arm/abi.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

ARM_BEGIN_NAMESPACE

/// Wall-clock time, for stamping lines (a reader compares it with other logs, so not the
/// steady clock the supervisor runs on).
using WallTime = std::chrono::system_clock::time_point;

/// "2026-12-01T20:40:00.123Z": RFC 3339 in UTC with milliseconds.
ARM_EXPORT std::string format_rfc3339_ms(WallTime time);

/// format_rfc3339_ms for a stream of times that mostly repeat: the lines of one read share their
/// time, and a service writing fast has thousands of lines per millisecond. The stamp is made
/// again only when the millisecond changes, and only its three millisecond digits when the second
/// is the same; the calendar arithmetic runs once per second.
class ARM_EXPORT StampCache {
 public:
  static constexpr std::size_t size = 24;  ///< "2026-12-01T20:40:00.123Z"
  /// The stamp of `time`, valid until the next call.
  std::string_view stamp(WallTime time);

 private:
  std::int64_t millisecond_ = INT64_MIN;  ///< since the epoch, of the stamp held
  char text_[size] = {};
};
/// An RFC 3339 date-time ("2026-12-01T20:40:00Z", "2026-12-01t21:40:00.5+01:00", a space for the
/// T): the time it names, fractions of a millisecond cut; nullopt when the text is not one (the
/// date, the clock or the offset out of range included). Leap seconds (":60") are not accepted.
/// A time the system clock cannot hold (with libstdc++, whose clock counts nanoseconds: before
/// 1678, after 2261) is its earliest or latest.
ARM_EXPORT std::optional<WallTime> parse_rfc3339(std::string_view text);

/// Which of a process's output streams.
enum class OutputStream {
  standard_output,  ///< stdout
  standard_error    ///< stderr
};
/// "stdout", "stderr".
ARM_EXPORT std::string_view to_string(OutputStream stream);

/// Cuts a byte stream into lines. A line longer than `max_line` bytes is emitted in pieces of
/// `max_line` bytes, each but the last marked `continues` (the next piece goes on with the same
/// line), so nothing is cut silently. A last line without its '\n' is held until more bytes
/// arrive or finish() says the stream ended.
class ARM_EXPORT LineSplitter {
 public:
  static constexpr std::size_t default_max_line = 16 * 1024;  ///< 16 KiB

  /// text: the line (or piece) without '\n'; continues: a piece that the next one continues.
  using Emit = std::function<void(std::string_view text, bool continues)>;

  /// Lines longer than `max_line` bytes are cut into pieces of that size.
  explicit LineSplitter(std::size_t max_line = default_max_line);
  /// `emit` is any callable taking (std::string_view text, bool continues), an Emit or a lambda.
  /// A template so that a reader's lambda is called directly for each line of a read (a
  /// std::function call per line was a measurable part of armd's cost for a fast writer); only
  /// the rare lines (longer than max_line, or begun in an earlier read) go through an Emit.
  template <class EmitLine>
  void feed(std::string_view bytes, EmitLine&& emit) {
    while (!bytes.empty()) {
      auto newline = bytes.find('\n');
      if (partial_.empty() && newline != std::string_view::npos && newline <= max_line_) {
        emit(bytes.substr(0, newline), false);  // the common case: a whole line, no copy
        bytes.remove_prefix(newline + 1);
      } else {
        bytes = feed_line(bytes, newline, Emit(std::ref(emit)));
      }
    }
  }
  /// The stream ended: a partial last line is emitted as it is.
  void finish(const Emit& emit);
  /// Bytes held back, waiting for the end of their line.
  std::size_t pending() const { return partial_.size(); }

 private:
  /// The bytes up to `newline` (npos: all of them) when they complete a held line, make a long
  /// one, or start the last, partial one; returns the bytes after them.
  std::string_view feed_line(std::string_view bytes, std::size_t newline, const Emit& emit);

  std::size_t max_line_;
  std::string partial_;
};

/// A line of a service's output, copied out of the ring.
struct ARM_EXPORT OutputLine {
  std::uint64_t sequence = 0;  ///< 1 for a ring's first line, then one more per line, never reused
  WallTime time;               ///< when the host read it
  OutputStream stream = OutputStream::standard_output;  ///< stdout or stderr
  std::string text;                                     ///< without '\n'; bytes as written
  bool continues = false;  ///< a piece of a longer line, which the next line continues
};

/// A line as the ring holds it, its text not copied out: valid until the ring changes.
struct ARM_EXPORT OutputLineView {
  std::uint64_t sequence = 0;                           ///< as OutputLine::sequence
  WallTime time;                                        ///< as OutputLine::time
  OutputStream stream = OutputStream::standard_output;  ///< as OutputLine::stream
  std::string_view text;   ///< as OutputLine::text, a view into the ring
  bool continues = false;  ///< as OutputLine::continues
};

/// The latest lines of one service, bounded in bytes: each line costs its text plus
/// `line_overhead`, and the oldest go first when a new one does not fit. The newest line is
/// always kept, however long. Sequence numbers let a reader that comes back tell how many lines
/// it missed (see lines_from).
class ARM_EXPORT OutputRing {
 public:
  static constexpr std::size_t default_capacity = 64 * 1024;  ///< 64 KiB
  /// What a line is counted for besides its text. It is what a line took when each had a string
  /// of its own (its record, the string, the allocator's header), kept so that a ring holds as
  /// many lines as it did then; a line's record now takes less (32 bytes), and the texts sit in
  /// one buffer, which is at most twice the bytes of the lines kept (see compact()).
  static constexpr std::size_t line_overhead = sizeof(OutputLine) + 32;

  /// A ring of `capacity_bytes` (lines counted with line_overhead each).
  explicit OutputRing(std::size_t capacity_bytes = default_capacity);

  /// Stores a line and returns its sequence number.
  std::uint64_t append(WallTime time, OutputStream stream, std::string_view text,
                       bool continues = false);
  /// Lines that came together (one read): the same as append() for each in turn, but the lines
  /// that the later ones would push out at once are only numbered and counted as dropped, never
  /// copied in. A service writing fast hands over ten times what a 64 KiB ring keeps per read.
  struct Text {
    std::string_view text;   ///< without '\n'
    bool continues = false;  ///< a piece that the next one continues
  };
  /// Stores `lines`, read together at `time` from `stream`.
  void append_all(WallTime time, OutputStream stream, std::span<const Text> lines);
  /// Smaller: the oldest lines are dropped until the rest fits.
  void set_capacity(std::size_t capacity_bytes);

  /// the bytes it may hold (lines counted with line_overhead)
  std::size_t capacity() const { return capacity_; }
  std::size_t bytes() const { return bytes_; }          ///< the bytes it holds now, counted so
  std::size_t size() const { return entries_.size(); }  ///< how many lines it holds
  /// The sequence the next line will get; lines below first_sequence() are gone.
  std::uint64_t next_sequence() const { return next_sequence_; }
  /// the sequence of the oldest line still held
  std::uint64_t first_sequence() const { return next_sequence_ - entries_.size(); }
  /// Lines dropped to make room, since the ring was made.
  std::uint64_t dropped() const { return first_sequence() - 1; }

  /// The newest line; the ring must not be empty.
  OutputLineView newest() const {
    const Entry& entry = entries_.back();  // inline: a reader asks for it after each append
    return {next_sequence_ - 1, entry.time, entry.stream,
            std::string_view(text_).substr(static_cast<std::size_t>(entry.offset - text_offset_),
                                           entry.length),
            entry.continues};
  }
  /// The last `count` lines (fewer if it holds fewer), oldest first.
  std::vector<OutputLine> last(std::size_t count) const;

  /// What a reader that has seen every line before `from` gets next: the lines from `from` on
  /// (at most `most`), and how many it can no longer get because they were dropped meanwhile.
  struct Since {
    std::uint64_t missed = 0;       ///< lines dropped before the reader could get them
    std::vector<OutputLine> lines;  ///< oldest first
    std::uint64_t next = 0;         ///< where to ask from next time
  };
  /// The lines from sequence `from` on, at most `most`; see Since.
  Since lines_from(std::uint64_t from, std::size_t most = SIZE_MAX) const;

 private:
  /// A line's record; its text is in text_, copied there once (no allocation per line).
  struct Entry {
    WallTime time;
    std::uint64_t offset;  ///< of its text, counted from the first byte the ring ever stored
    std::uint32_t length;  ///< lines are cut far below 4 GiB (LineSplitter); longer ones are cut
    OutputStream stream;
    bool continues;
  };
  OutputLineView view_of(std::size_t index) const;
  OutputLine line_at(std::size_t index) const;
  void drop_oldest_beyond(std::size_t capacity_bytes);
  /// Drops the texts of dropped lines from the front of text_ once they take as much as the
  /// kept ones: the bytes moved are at most those appended since, so it costs a copy per byte.
  void compact();

  std::size_t capacity_;
  std::size_t bytes_ = 0;
  std::uint64_t next_sequence_ = 1;
  std::deque<Entry> entries_;
  /// the texts of the lines kept, oldest first, after a dead prefix
  std::string text_;
  std::uint64_t text_offset_ = 0;  ///< the offset of text_[0]
};

/// When and how a log file is rotated by renaming, as logrotate does: the file in use is
/// `path`, the older ones path.1 (the most recent) to path.K, K being kept_files (the oldest).
struct ARM_EXPORT FileRotation {
  std::uint64_t max_size = 10 * 1024 * 1024;  ///< bytes of the file in use
  std::size_t kept_files = 5;                 ///< rotated files kept besides it (at least 1)

  /// Whether a file of `size` bytes must be rotated before `incoming` more are appended. An
  /// empty file never is: a line longer than max_size goes whole into a file of its own.
  bool due(std::uint64_t size, std::size_t incoming) const {
    return size > 0 && size + incoming > max_size;
  }
  /// The renames that rotate `path`, in the order to make them: path.(K-1) to path.K
  /// (replacing the oldest, K being kept_files), ..., path.1 to path.2, path to path.1.
  std::vector<std::pair<std::string, std::string>> renames(const std::string& path) const;
};

/// A captured line as a log file holds it: "TIME STREAM TEXT\n", the text's bytes as they came,
/// with a '\' before the newline for a piece the next line continues.
ARM_EXPORT std::string format_log_file_line(const OutputLine& line);
/// The same line appended to `out`, with a stamp made already (StampCache): no string of its own.
ARM_EXPORT void append_log_file_line(std::string& out, std::string_view stamp, OutputStream stream,
                                     std::string_view text, bool continues);
/// How many bytes that line takes.
ARM_EXPORT std::size_t log_file_line_size(OutputStream stream, std::string_view text,
                                          bool continues);

ARM_END_NAMESPACE
