// Rotation by rename, and the line format of log files.
#include <fmt/format.h>

#include "arm/output.hpp"

ARM_BEGIN_NAMESPACE

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
  std::string out;
  out.reserve(log_file_line_size(line.stream, line.text, line.continues));
  append_log_file_line(out, format_rfc3339_ms(line.time), line.stream, line.text, line.continues);
  return out;
}

std::size_t log_file_line_size(OutputStream stream, std::string_view text, bool continues) {
  return StampCache::size + 1 + to_string(stream).size() + 1 + text.size() + (continues ? 1 : 0) +
         1;
}

void append_log_file_line(std::string& out, std::string_view stamp, OutputStream stream,
                          std::string_view text, bool continues) {
  out += stamp;
  out += ' ';
  out += to_string(stream);
  out += ' ';
  out += text;
  if (continues) out += '\\';
  out += '\n';
}

ARM_END_NAMESPACE
