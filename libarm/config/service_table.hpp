// One [services.NAME] table to a ServiceSpec.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "arm/config.hpp"
#include "value_reader.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

// Service names appear on command lines (`armctl start NAME`) and in logs, so they are kept to
// characters that need no quoting: letters, digits and _ . @ -
bool is_valid_service_name(std::string_view name);

// Reads every key of the table, then checks what involves several keys at once (a binary is
// required; backoff_initial <= backoff_max; the exit code classes do not overlap).
Read<ServiceSpec> read_service(const ValueReader& reader, const std::string& name,
                               const toml::table& table);

}  // namespace config_reading
ARM_END_NAMESPACE
