// A service's execution keys (issue 15): who its process runs as (`user`, `group`,
// `supplementary_groups`), its `umask`, `limits`, `nice`, `oom_score_adj`,
// `no_new_privileges`, `capabilities`, and where its environment comes from
// (`environment_file`, `clear_environment`). All land in ServiceSpec::execution.
//
// Users and groups are looked up here, when the file is loaded (the passwd and group
// databases, through getpwnam_r and friends): the spawner's child may not look anything up
// between fork and exec, and an unknown name is the configuration's error, with its line.
#pragma once

#include <toml++/toml.h>

#include <string>

#include "arm/config.hpp"
#include "key_table.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

Done read_user(const ValueReader& reader, const toml::node& value, const std::string& path,
               ServiceSpec& spec);
Done read_group(const ValueReader& reader, const toml::node& value, const std::string& path,
                ServiceSpec& spec);
Done read_supplementary_groups(const ValueReader& reader, const toml::node& value,
                               const std::string& path, ServiceSpec& spec);
// `umask = "027"` or `0o027`: 0 to 0777.
Done read_umask(const ValueReader& reader, const toml::node& value, const std::string& path,
                ServiceSpec& spec);
// `limits = { nofile = 65536, core = "unlimited", stack = { soft = 8388608, hard = 16777216 } }`
Done read_limits(const ValueReader& reader, const toml::node& value, const std::string& path,
                 ServiceSpec& spec);
Done read_nice(const ValueReader& reader, const toml::node& value, const std::string& path,
               ServiceSpec& spec);
Done read_oom_score_adj(const ValueReader& reader, const toml::node& value, const std::string& path,
                        ServiceSpec& spec);
Done read_no_new_privileges(const ValueReader& reader, const toml::node& value,
                            const std::string& path, ServiceSpec& spec);
// `capabilities = ["CAP_NET_BIND_SERVICE", "sys_time"]`
Done read_capabilities(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec);
Done read_environment_file(const ValueReader& reader, const toml::node& value,
                           const std::string& path, ServiceSpec& spec);
Done read_clear_environment(const ValueReader& reader, const toml::node& value,
                            const std::string& path, ServiceSpec& spec);

// Once the whole table is read: the defaults that depend on `user` (its primary group, its
// groups), and a numeric uid without a passwd entry needs `group`.
Done complete_execution(const ValueReader& reader, const toml::table& table,
                        const std::string& table_path, ServiceSpec& spec);

}  // namespace config_reading
ARM_END_NAMESPACE
