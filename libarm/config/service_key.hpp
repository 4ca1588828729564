// A dotted key of an error ("services.web.listen[1]") back to its node in a parsed document.
#pragma once

#include <toml++/toml.h>

#include <string_view>

namespace arm::config_reading {

// "services.web.listen[1]" -> the node of that element, or null. The name may hold '.': the
// last dot separates it from the key, which has none. Keys deeper than one table are not
// found.
const toml::node* find_service_key(const toml::table& root, std::string_view key);

}  // namespace arm::config_reading
