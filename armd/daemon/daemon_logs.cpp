// `logs` beyond the ring: the older lines from the services' log files (log_file_reader.hpp).
#include "daemon.hpp"

namespace armd {

std::vector<std::vector<FileLine>> Daemon::older_lines_from_files(
    const std::vector<std::string>& names, const std::vector<std::vector<arm::OutputLine>>& kept,
    std::size_t count, std::optional<arm::WallTime> since) {
  std::vector<std::vector<FileLine>> older(names.size());
  std::size_t budget = read_back_budget;
  bool flushed = false;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const LogFiles::Setting* setting = log_files_.setting(names[i]);
    const arm::OutputRing* ring = outputs_.ring(names[i]);
    std::size_t in_ring = ring ? ring->size() : 0;
    // Every line of the ring kept and still fewer than asked: the ring holds nothing as old as
    // `since`, and not `count` lines.
    if (!setting || kept[i].size() >= count || kept[i].size() < std::min(count, in_ring)) continue;
    if (!std::exchange(flushed, true)) log_files_.flush();  // the ring's lines in the file too
    older[i] = read_older_lines(*setting, {count - kept[i].size(), since, ring}, budget);
  }
  return older;
}

}  // namespace armd
