#include "health_table.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <optional>

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

// What the health table's keys are read into before its kind is known.
struct HealthKeys {
  HealthCheck check;
  unsigned kinds = 0;  // how many of exec, tcp, http were written
};

Done read_probe_target(const ValueReader& reader, const toml::node& value, const std::string& path,
                       HealthKeys& keys,
                       std::expected<HealthCheck, std::string> (*parse)(std::string_view)) {
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  auto parsed = parse(*text);
  if (!parsed) return Failure(reader.error_at(value, path, parsed.error()));
  HealthCheck timing = keys.check;  // interval and the rest may have come first
  keys.check = std::move(*parsed);
  keys.check.interval = timing.interval;
  keys.check.timeout = timing.timeout;
  keys.check.failures = timing.failures;
  keys.check.start_period = timing.start_period;
  ++keys.kinds;
  return {};
}

Done read_positive_duration(const ValueReader& reader, const toml::node& value,
                            const std::string& path, Milliseconds& into) {
  auto duration = reader.duration(value, path);
  if (!duration) return Failure(duration.error());
  if (duration->count() <= 0) return Failure(reader.error_at(value, path, "must be more than 0"));
  into = *duration;
  return {};
}

const std::array health_keys{
    Key<HealthKeys>{"exec",
                    [](auto& reader, auto& value, auto& path, HealthKeys& keys) -> Done {
                      auto words = reader.command_prefix(value, path);
                      if (!words) return Failure(words.error());
                      if (words->empty())
                        return Failure(reader.error_at(value, path, "needs a command to run"));
                      keys.check.kind = HealthCheck::Kind::exec;
                      keys.check.command = std::move(*words);
                      ++keys.kinds;
                      return {};
                    }},
    Key<HealthKeys>{"tcp",
                    [](auto& reader, auto& value, auto& path, HealthKeys& keys) {
                      return read_probe_target(reader, value, path, keys, parse_tcp_probe_address);
                    }},
    Key<HealthKeys>{"http",
                    [](auto& reader, auto& value, auto& path, HealthKeys& keys) {
                      return read_probe_target(reader, value, path, keys, parse_http_probe_url);
                    }},
    Key<HealthKeys>{"interval",
                    [](auto& reader, auto& value, auto& path, HealthKeys& keys) {
                      return read_positive_duration(reader, value, path, keys.check.interval);
                    }},
    Key<HealthKeys>{"timeout",
                    [](auto& reader, auto& value, auto& path, HealthKeys& keys) {
                      return read_positive_duration(reader, value, path, keys.check.timeout);
                    }},
    Key<HealthKeys>{"failures",
                    [](auto& reader, auto& value, auto& path, HealthKeys& keys) -> Done {
                      constexpr std::int64_t most = 1000;
                      if (!value.is_integer())
                        return Failure(reader.wrong_type(value, path, "an integer"));
                      auto count = *value.template value<std::int64_t>();
                      if (count < 1 || count > most)
                        return Failure(reader.error_at(
                            value, path, fmt::format("must be between 1 and {}", most)));
                      keys.check.failures = static_cast<unsigned>(count);
                      return {};
                    }},
    Key<HealthKeys>{"start_period",
                    [](auto& reader, auto& value, auto& path, HealthKeys& keys) {
                      return assign(reader.duration(value, path), keys.check.start_period);
                    }},
};

}  // namespace

Done read_health(const ValueReader& reader, const toml::node& value, const std::string& path,
                 ServiceSpec& spec) {
  const toml::table* table = value.as_table();
  if (!table)
    return Failure(reader.wrong_type(
        value, path, "a table such as { tcp = \"127.0.0.1:5432\", interval = \"10s\" }"));
  HealthKeys keys;
  if (Done done = read_keys<HealthKeys>(reader, *table, path, health_keys, keys); !done)
    return done;
  if (keys.kinds != 1)
    return Failure(reader.error_at(
        value, path,
        keys.kinds == 0 ? "needs the probe to run: exec = [...], tcp = \"HOST:PORT\" or http = "
                          "\"URL\""
                        : "has more than one probe: write one of exec, tcp and http"));
  // A probe still running when the next one is due would be cut short by it anyway.
  if (keys.check.timeout > keys.check.interval)
    return Failure(
        reader.error_at(value, path,
                        fmt::format("timeout ({} ms) must not be more than interval ({} ms)",
                                    keys.check.timeout.count(), keys.check.interval.count())));
  keys.check.on_unhealthy = spec.health ? spec.health->on_unhealthy : keys.check.on_unhealthy;
  spec.health = std::move(keys.check);
  return {};
}

namespace {

std::optional<HealthCheck::OnUnhealthy> on_unhealthy_named(std::string_view text) {
  if (text == "restart") return HealthCheck::OnUnhealthy::restart;
  if (text == "ignore") return HealthCheck::OnUnhealthy::ignore;
  return std::nullopt;
}

}  // namespace

Done read_on_unhealthy(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec&) {
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  if (!on_unhealthy_named(*text))
    return Failure(reader.error_at(value, path,
                                   fmt::format("'{}': expected \"restart\" or \"ignore\"", *text)));
  return {};
}

Done apply_on_unhealthy(const ValueReader& reader, const toml::table& table,
                        const std::string& table_path, ServiceSpec& spec) {
  const toml::node* value = table.get("on_unhealthy");
  if (!value) return {};
  if (!spec.health)
    return Failure(reader.error_at(*value, table_path + ".on_unhealthy",
                                   "needs `health`: the probe whose failures it acts on"));
  spec.health->on_unhealthy = *on_unhealthy_named(*value->value<std::string_view>());
  return {};
}

}  // namespace config_reading
ARM_END_NAMESPACE
