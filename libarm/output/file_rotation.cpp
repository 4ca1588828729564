// Rotation by rename, and the line format of log files.
#include <fmt/format.h>

#include "arm/output.hpp"

namespace arm {

std::vector<std::pair<std::string, std::string>> FileRotation::renames(
    const std::string& path) const {
  std::vector<std::pair<std::string, std::string>> steps;
  std::size_t kept = kept_files == 0 ? 1 : kept_files;
  for (std::size_t n = kept - 1; n >= 1; --n)
    steps.emplace_back(fmt::format("{}.{}", path, n), fmt::format("{}.{}", path, n + 1));
  steps.emplace_back(path, path + ".1");
  return steps;
}

std::string format_log_file_line(const OutputLine& line) {
  std::string out = format_rfc3339_ms(line.time);
  out.reserve(out.size() + 10 + line.text.size());  // one allocation per line, not several
  out += ' ';
  out += to_string(line.stream);
  out += ' ';
  out += line.text;
  if (line.continues) out += '\\';
  out += '\n';
  return out;
}

}  // namespace arm
