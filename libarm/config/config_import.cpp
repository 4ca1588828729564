// The way into `armctl import` (arm/config_import.hpp): which format, then its importer.
#include "arm/config_import.hpp"

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

std::expected<ImportResult, Error> import_config(const ImportSource& source, ImportFormat format) {
  switch (format) {
    case ImportFormat::supervisord:
      return config_detail::import_supervisord(source);
    case ImportFormat::systemd:
      return config_detail::import_systemd(source);
  }
  return std::unexpected(Error::at(source.path, 0, 0, "", "unknown import format"));
}

ARM_END_NAMESPACE
