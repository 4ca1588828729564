// `logs -n N` and `logs --since TIME` beyond the ring: the older lines read back from the
// service's log files (FILE, then FILE.1 ... FILE.<log_max_files>), newest first, backwards in
// blocks, so that printing 10 lines never reads a 50 MB file. armd does it in its loop, so the
// work is bounded by a budget of bytes per request (older lines beyond it are not returned).
//
// The seam: every line the ring holds is in the file too (block mode, once flushed), as the
// file's newest lines. So lines stamped after the ring's oldest line are skipped, and of those
// stamped in its millisecond, as many as the ring holds (they are the file's last ones of that
// millisecond). In drop mode the file may lack some of those: then as many older lines of that
// millisecond are skipped too. A wall clock set back mid-file makes the seam fall wrongly.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "arm/output.hpp"
#include "log_files.hpp"

namespace armd {

// A line of a log file, "TIME STREAM TEXT" as arm::format_log_file_line writes it. The
// sequence is 0 (not the ring's). nullopt for anything else.
std::optional<arm::OutputLine> parse_log_file_line(std::string_view line);

// What one logs request may read of log files, all its services together: a few milliseconds
// of armd's loop when the files are in the page cache.
constexpr std::size_t read_back_budget = 8 * 1024 * 1024;

struct FileLine {
  arm::OutputLine line;   // for an unparsed one: the whole line as text, the next line's time
  bool unparsed = false;  // shown as the file holds it
};

struct OlderLinesQuery {
  std::size_t count = 0;                  // lines wanted
  std::optional<arm::WallTime> since;     // none stamped before it
  const arm::OutputRing* ring = nullptr;  // what the file's newest lines repeat; may be null
};

// At most query.count lines older than the ring's, oldest first. `budget`: bytes that may
// still be read for this request, lowered by what is read.
std::vector<FileLine> read_older_lines(const LogFiles::Setting& setting,
                                       const OlderLinesQuery& query, std::size_t& budget);

}  // namespace armd
