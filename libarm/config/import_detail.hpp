// The parts of `armctl import` (arm/config_import.hpp), one job each:
//   import_ini.cpp          supervisord's INI (Python configparser's rules) and systemd's unit
//                           files, read into sections of keys with their lines
//   import_words.cpp        command lines split into words: shlex's rules (supervisord) and
//                           systemd's "COMMAND LINES" rules
//   import_supervisord.cpp  [program:x] sections to services
//   import_systemd.cpp      a .service unit to a service
//   config_import.cpp       the way in: the format, and the TOML text
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "arm/abi.hpp"
#include "arm/config_import.hpp"
#include "arm/error.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

// Bounds that keep a hostile file from costing much: neither format has a use for more.
inline constexpr std::size_t max_import_bytes = std::size_t{4} << 20;
inline constexpr std::size_t max_import_line = 64 * 1024;

// One `key = value` (or `Key=Value`) with the line it starts on.
struct ImportEntry {
  std::string key;  // supervisord: lower case (configparser's optionxform); systemd: as written
  std::string value;
  int line = 0;
};

struct ImportSection {
  std::string name;  // between the brackets, as written
  int line = 0;
  std::vector<ImportEntry> entries;  // in file order; a key given twice is there twice
};

// configparser as supervisord configures it: `key = value` or `key: value`, full-line `;` and
// `#` comments, inline `;`/`#` comments after whitespace, continuation lines (indented deeper
// than their key), keys in lower case. Interpolation is the caller's (it needs the program).
std::expected<std::vector<ImportSection>, Error> read_supervisord_ini(std::string_view text,
                                                                      const std::string& file);

// systemd's unit syntax: `Key=Value`, `#`/`;` comment lines, a trailing `\` continues the line
// (joined with a space; comment lines inside are skipped), as systemd's config parser does.
std::expected<std::vector<ImportSection>, Error> read_systemd_unit(std::string_view text,
                                                                   const std::string& file);

// Python's shlex.split (POSIX mode), which supervisord splits `command` with: '...' literal,
// "..." with \" and \\ escapes, a backslash outside quotes escapes the next character. An
// unterminated quote or a trailing backslash is the error.
std::expected<std::vector<std::string>, std::string> split_shell_words(std::string_view text);

// systemd's command-line and Environment= splitting: words separated by blanks; "..." and
// '...' quote (only a whole word, or from a word's start); C-style escapes (\n, \t, \", \\,
// \xNN, \NNN octal...) inside and outside quotes; a backslash at the end is an error.
std::expected<std::vector<std::string>, std::string> split_systemd_words(std::string_view text);

// The notes of one import: "FILE:LINE: KEY=VALUE: why".
struct ImportNotes {
  std::string file;
  std::vector<std::string> lines;
  void add(int line, std::string_view key, std::string_view value, std::string_view why);
};

std::expected<ImportResult, Error> import_supervisord(const ImportSource& source);
std::expected<ImportResult, Error> import_systemd(const ImportSource& source);

// Makes `text` a usable armd service name: letters, digits and `_ . @ -` kept, others `_`.
std::string import_service_name(std::string_view text);

}  // namespace config_detail
ARM_END_NAMESPACE
