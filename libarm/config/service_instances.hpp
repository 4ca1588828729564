// Template services (issue 15): `[services."worker@"]` with `instances = 4` or
// `instances = ["eu", "us"]` stands for the services worker@1 ... worker@4 (worker@eu,
// worker@us), each read from a copy of the template's table in which every string has
// `{instance}` replaced by the instance's name.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

#include "value_reader.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

// At most this many instances per template: each is a full service.
inline constexpr std::size_t max_instances = 10000;

// "worker@": a name that ends in '@'.
bool is_template_name(std::string_view name);

// The instance names of a template's `instances` key: 1 .. N for an integer N, or the strings
// of an array (each a valid part of a service name, none twice). `path` is the template's
// dotted key ("services.worker@").
Read<std::vector<std::string>> read_instance_names(const ValueReader& reader,
                                                   const toml::table& service,
                                                   const std::string& path);

// The template's table for one instance: without `instances`, `{instance}` replaced in every
// string value at any depth. (A copy keeps no source positions: errors in it are pointed back
// at the template by the loader.)
toml::table instantiate(const toml::table& service, std::string_view instance);

}  // namespace config_reading
ARM_END_NAMESPACE
