// `environment_file` (issue 15): a file of KEY=VALUE lines, read by the spawner at each start of
// the service, as systemd reads an EnvironmentFile=, so a change takes effect at the next start
// without a reload of armd.
#pragma once

#include <expected>
#include <string>
#include <utility>
#include <vector>

#include "arm/error.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

// The variables of `path`, in the file's order. Blank lines and lines whose first non-blank
// character is `#` are skipped; blanks around a line are dropped; a value wholly in double or
// single quotes loses them (nothing inside is interpreted). A name is letters, digits and _,
// not starting with a digit. An error names the file, and the line for a line that is not
// KEY=VALUE: "environment_file: /etc/web.env:3: expected KEY=VALUE ...".
std::expected<std::vector<std::pair<std::string, std::string>>, Error> read_environment_file(
    const std::string& path);

}  // namespace posix
ARM_END_NAMESPACE
