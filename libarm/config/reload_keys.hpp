// A service's reload keys (issue 14): `reload_signal`, `reload`, `config_check` and
// `check_timeout`, read into ServiceSpec::reload.
#pragma once

#include <toml++/toml.h>

#include <string>

#include "arm/config.hpp"
#include "key_table.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

// `reload_signal = "HUP"` (or "SIGHUP"; HUP, USR1, USR2, INT, QUIT, TERM, WINCH): a number is
// refused, since signal numbers differ between systems and a name says what is meant.
Done read_reload_signal(const ValueReader& reader, const toml::node& value, const std::string& path,
                        ServiceSpec& spec);
// `reload = [...]` and `config_check = [...]`: commands, as a string or an array of words.
Done read_reload_command(const ValueReader& reader, const toml::node& value,
                         const std::string& path, ServiceSpec& spec);
Done read_config_check(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec);
// `check_timeout = "30s"`: more than 0.
Done read_check_timeout(const ValueReader& reader, const toml::node& value, const std::string& path,
                        ServiceSpec& spec);
// Once the whole table is read (the keys come in any order): reload_signal and reload are
// exclusive; a command that names `{config}` needs `config`; check_timeout needs something to
// time.
Done check_reload_keys(const ValueReader& reader, const toml::table& table,
                       const std::string& table_path, const ServiceSpec& spec);

}  // namespace config_reading
ARM_END_NAMESPACE
