// GNUnet's layered configuration (gnunet_ini) to armd's Config, as GNUnet's ARM would run it.
// The mapping, key by key, is the table in docs/config.md ("GNUnet configuration"); the public
// entry points are parse_gnunet_config_text and load_gnunet_config_file (arm/config.hpp).
#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/abi.hpp"
#include "gnunet_ini.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

using LookUpEnvironment = std::function<std::optional<std::string>(const std::string&)>;

// GNUnet's expand_dollar: each `$NAME` (NAME ends at '/', '\' or a space) and `${NAME}` /
// `${NAME:-DEFAULT}` replaced by [PATHS] NAME (itself expanded), else the environment's NAME,
// else DEFAULT (expanded); a `$NAME` found nowhere stays as written (its name goes to
// `unresolved`). An error: a chain of variables deeper than 64 (one that names itself), or a
// result longer than 64 KiB (variables that double at each level).
std::expected<std::string, std::string> expand_gnunet_value(
    std::string_view text, const IniDocument& document, const LookUpEnvironment& environment,
    std::vector<std::string>* unresolved = nullptr);

// A digest of what service `service` reads of `document` (gnunet_digest.cpp says what that is):
// equal as long as none of it changed.
std::string gnunet_service_digest(const IniDocument& document, std::string_view service,
                                  const LookUpEnvironment& environment);

// GNUnet's start_process_s: words split at spaces, a double-quoted stretch kept as one word
// (the quotes removed).
std::vector<std::string> split_gnunet_words(std::string_view text);

}  // namespace config_detail
ARM_END_NAMESPACE
