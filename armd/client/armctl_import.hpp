// `armctl import FILE [--from supervisord|systemd]` (issue 17 item 3): another supervisor's
// definitions printed as armd's TOML. Needs no running armd.
#pragma once

#include <optional>
#include <string>

namespace armctl {

// Prints the TOML on stdout and a note per setting not carried over on stderr; returns
// exit_ok, or exit_usage (nothing on stdout) when the file cannot be read, its format cannot
// be told, or it has a syntax error.
int import_file(const std::string& path, const std::optional<std::string>& from);

}  // namespace armctl
