// A service, or a dotted key of an error ("services.web.listen[1]"), back to its node in a parsed
// document.
#pragma once

#include <toml++/toml.h>

#include <string_view>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

// The table written for service `name`: `[services.NAME]`, or, for an instance of a template
// ("worker@2"), the template's table (`[services."worker@"]` with `instances`), which is where
// everything the instance has was written. An empty view when there is neither.
toml::node_view<const toml::node> service_table(const toml::table& root, std::string_view name);

// "services.web.listen[1]" -> the node of that element, or null. The name may hold '.': the
// last dot separates it from the key, which has none. An instance's keys are found in its
// template's table. Keys deeper than one table are not found.
const toml::node* find_service_key(const toml::table& root, std::string_view key);

}  // namespace config_reading
ARM_END_NAMESPACE
