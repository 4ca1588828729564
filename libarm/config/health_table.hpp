// A service's `health` table and its `on_unhealthy` key (issue 13).
#pragma once

#include <toml++/toml.h>

#include <string>

#include "arm/config.hpp"
#include "key_table.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

// `health = { exec = [...] | tcp = "HOST:PORT" | http = "URL", interval, timeout, failures,
// start_period }`: exactly one kind of probe, durations more than 0 (start_period may be 0).
Done read_health(const ValueReader& reader, const toml::node& value, const std::string& path,
                 ServiceSpec& spec);
// `on_unhealthy = "restart" | "ignore"`, checked where it is written...
Done read_on_unhealthy(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec);
// ... and applied once the whole service table is read (the keys come in any order): it needs
// `health`.
Done apply_on_unhealthy(const ValueReader& reader, const toml::table& table,
                        const std::string& table_path, ServiceSpec& spec);

}  // namespace config_reading
ARM_END_NAMESPACE
