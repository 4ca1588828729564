// The way into `armctl import` (arm/config_import.hpp): which format, then its importer.
#include "arm/config_import.hpp"

#include <algorithm>

#include "import_detail.hpp"

ARM_BEGIN_NAMESPACE

std::optional<ImportFormat> detect_import_format(std::string_view path, std::string_view text) {
  if (path.ends_with(".service")) return ImportFormat::systemd;
  // A [program:x] header at the start of a line (after blanks), as supervisord reads it.
  for (std::size_t at = text.find("[program:"); at != std::string_view::npos;
       at = text.find("[program:", at + 1)) {
    std::size_t start = text.rfind('\n', at);
    start = start == std::string_view::npos ? 0 : start + 1;
    if (text.substr(start, at - start).find_first_not_of(" \t") == std::string_view::npos)
      return ImportFormat::supervisord;
  }
  return std::nullopt;
}

std::optional<ImportFormat> parse_import_format(std::string_view word) {
  if (word == "supervisord") return ImportFormat::supervisord;
  if (word == "systemd") return ImportFormat::systemd;
  return std::nullopt;
}

namespace {

// The line a note is about: "FILE:LINE: ..." (0 for a note about the whole file).
int line_of(const std::string& note, std::size_t file_length) {
  int line = 0;
  for (std::size_t i = file_length + 1; i < note.size() && note[i] >= '0' && note[i] <= '9'; ++i)
    line = line * 10 + (note[i] - '0');
  return line;
}

}  // namespace

std::expected<ImportResult, Error> import_config(const ImportSource& source, ImportFormat format) {
  auto result = format == ImportFormat::supervisord ? config_detail::import_supervisord(source)
                                                    : config_detail::import_systemd(source);
  if (!result) return result;
  // In line order, as a reader goes through the file next to them.
  std::ranges::stable_sort(result->notes, {}, [&](const std::string& note) {
    return line_of(note, source.path.size());
  });
  return result;
}

ARM_END_NAMESPACE
