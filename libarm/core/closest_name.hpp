// Guessing what a misspelt name meant: a configuration key, a dependency's name, the service an
// operator asked armctl for. Shared by libarm/config (keys, depends_on/wants) and libarm/core
// (requests naming an unknown service), so a typo gets the same guess wherever it is made.
#pragma once

#include <span>
#include <string_view>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

// The known name within two edits of `name` (the nearest; the first of equals), or empty when
// there is none.
std::string_view closest_name(std::string_view name, std::span<const std::string_view> known);

}  // namespace detail
ARM_END_NAMESPACE
