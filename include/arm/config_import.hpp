// Importing other supervisors' definitions (issue 17 item 3): a supervisord configuration or a
// systemd service unit read into the text of an equivalent armd TOML configuration, with a note
// for every setting that could not be carried over, or only approximately.
//
// Pure: the caller reads the file and passes its text (and, for supervisord's `%(ENV_X)s`, the
// environment), so the conversion can be tested and fuzzed without files. `armctl import FILE`
// is the command that uses it; docs/import.md is the mapping, key by key.
#pragma once

#include "arm/abi.hpp"

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/error.hpp"

ARM_BEGIN_NAMESPACE

/// Which supervisor a file to import was written for.
enum class ImportFormat {
  supervisord,  ///< supervisord's INI: `[program:NAME]` sections
  systemd,      ///< a systemd service unit: `[Unit]`, `[Service]`, `[Install]`
};

/// What to import: the file's text and what the conversion needs to know about it.
struct ARM_EXPORT ImportSource {
  /// The file's path as the user named it: in notes and errors, and the unit's name (systemd:
  /// `nginx.service` is the service `nginx`; `getty@.service` is the template `getty@`).
  std::string path;
  /// The directory the file is in, absolute: supervisord's `%(here)s`.
  std::string directory;
  std::string text;  ///< the file's text
  /// `$NAME` of the importing environment: supervisord's `%(ENV_NAME)s`. Unset: nothing is set.
  std::function<std::optional<std::string>(const std::string& name)> environment;
};

/// What an import produced.
struct ARM_EXPORT ImportResult {
  std::string toml;  ///< the armd configuration, a `[services.NAME]` table per program or unit
  /// Every setting not carried over, or only approximately: one line each,
  /// "FILE:LINE: KEY=VALUE: why".
  std::vector<std::string> notes;
};

/// The format a file is in, told from its name and text: a name ending in `.service` is
/// systemd's; a text with a `[program:` section is supervisord's; anything else: nullopt.
ARM_EXPORT std::optional<ImportFormat> detect_import_format(std::string_view path,
                                                            std::string_view text);

/// `supervisord` or `systemd` read into an ImportFormat; nullopt for any other word.
ARM_EXPORT std::optional<ImportFormat> parse_import_format(std::string_view word);

/// Converts `source` as `format` says. A syntax error (an unterminated quote, a line that is
/// neither a section, a key nor a comment, an unknown section kind, a NUL byte) is an Error
/// naming the file and line; nothing is produced then.
ARM_EXPORT std::expected<ImportResult, Error> import_config(const ImportSource& source,
                                                            ImportFormat format);

ARM_END_NAMESPACE
