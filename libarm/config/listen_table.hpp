// A service's socket activation keys (issue 14): `listen` and its options, `start`, `idle_stop`,
// and `config_arg`, with the checks that involve several of them.
#pragma once

#include <toml++/toml.h>

#include <string>

#include "arm/config.hpp"
#include "key_table.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

// `listen = ["tcp:127.0.0.1:8080", ...]` (or one string): each socket once.
Done read_listen(const ValueReader& reader, const toml::node& value, const std::string& path,
                 ServiceSpec& spec);
// `listen_backlog = 4096`: 1 to 65535.
Done read_listen_backlog(const ValueReader& reader, const toml::node& value,
                         const std::string& path, ServiceSpec& spec);
// `listen_mode = "0660"` or `0o660`: permission bits only.
Done read_listen_mode(const ValueReader& reader, const toml::node& value, const std::string& path,
                      ServiceSpec& spec);
// `listen_owner = "user"` or `"user:group"` (looked up when the socket is created).
Done read_listen_owner(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec);
// `listen_nonblocking = true`.
Done read_listen_nonblocking(const ValueReader& reader, const toml::node& value,
                             const std::string& path, ServiceSpec& spec);
// `start = "manual" | "boot" | "on-demand"`.
Done read_start(const ValueReader& reader, const toml::node& value, const std::string& path,
                ServiceSpec& spec);
// `idle_stop = "5m"`: more than 0.
Done read_idle_stop(const ValueReader& reader, const toml::node& value, const std::string& path,
                    ServiceSpec& spec);
// `config_arg = ["-f", "{config}"]` (or a string of words, or [] for none).
Done read_config_arg(const ValueReader& reader, const toml::node& value, const std::string& path,
                     ServiceSpec& spec);

// Once the whole table is read: the options need `listen` (mode and owner a unix socket),
// on-demand needs `listen`, idle_stop needs on-demand, a readiness descriptor must lie above
// the sockets' (3 .. 2 + their number), config_arg and `{config}` need `config`.
Done check_socket_activation(const ValueReader& reader, const toml::table& table,
                             const std::string& table_path, const ServiceSpec& spec);

// Across services: one socket belongs to one service. Points at the second one listing it.
Done check_sockets_unique(const ValueReader& reader, const toml::table& root, const Config& config);

}  // namespace config_reading
ARM_END_NAMESPACE
