// The message for a key the configuration does not know, with a guess at what was meant.
//
// Unknown keys are errors, not warnings: a misspelt `stop_timeout` silently ignored is how a
// service ends up SIGKILLed after the default. Since the user is stopped anyway, say which
// spelling was probably intended.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "../core/closest_name.hpp"
#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

using detail::closest_name;  // shared with the core, which guesses at unknown service names

// "unknown key 'restat' (did you mean 'restart'?)", or just "unknown key 'x'" when no known key
// is within two edits.
std::string unknown_key_message(std::string_view key, std::span<const std::string_view> known);

}  // namespace config_reading
ARM_END_NAMESPACE
