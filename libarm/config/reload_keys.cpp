#include "reload_keys.hpp"

#include <fmt/format.h>

#include <algorithm>

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

ConfigReload& reload_of(ServiceSpec& spec) {
  if (!spec.reload) spec.reload = ConfigReload{};
  return *spec.reload;
}

Done read_command(const ValueReader& reader, const toml::node& value, const std::string& path,
                  std::vector<std::string>& into) {
  auto words = reader.command_prefix(value, path);
  if (!words) return Failure(words.error());
  if (words->empty()) return Failure(reader.error_at(value, path, "needs a command to run"));
  into = std::move(*words);
  return {};
}

bool names_config(const std::vector<std::string>& command) {
  return std::ranges::any_of(
      command, [](const std::string& word) { return word.find("{config}") != std::string::npos; });
}

}  // namespace

Done read_reload_signal(const ValueReader& reader, const toml::node& value, const std::string& path,
                        ServiceSpec& spec) {
  if (value.is_integer())
    return Failure(reader.error_at(
        value, path,
        "a signal number is not accepted (numbers differ between systems): write its name, "
        "such as \"HUP\""));
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  auto signal = parse_reload_signal(*text);
  if (!signal)
    return Failure(reader.error_at(
        value, path,
        fmt::format("'{}': expected one of HUP, USR1, USR2, INT, QUIT, TERM, WINCH (SIG prefix "
                    "allowed)",
                    *text)));
  reload_of(spec).signal = *signal;
  return {};
}

Done read_reload_command(const ValueReader& reader, const toml::node& value,
                         const std::string& path, ServiceSpec& spec) {
  return read_command(reader, value, path, reload_of(spec).command);
}

Done read_config_check(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec) {
  return read_command(reader, value, path, reload_of(spec).check);
}

Done read_check_timeout(const ValueReader& reader, const toml::node& value, const std::string& path,
                        ServiceSpec& spec) {
  auto duration = reader.duration(value, path);
  if (!duration) return Failure(duration.error());
  if (duration->count() <= 0) return Failure(reader.error_at(value, path, "must be more than 0"));
  reload_of(spec).check_timeout = *duration;
  return {};
}

Done check_reload_keys(const ValueReader& reader, const toml::table& table,
                       const std::string& table_path, const ServiceSpec& spec) {
  if (!spec.reload) return {};
  const ConfigReload& reload = *spec.reload;
  if (reload.signal && !reload.command.empty())
    return Failure(reader.error_at(*table.get("reload"), table_path + ".reload",
                                   "reload_signal and reload are exclusive: write one of them"));
  for (const char* key : {"reload", "config_check"}) {
    const auto& command = std::string_view(key) == "reload" ? reload.command : reload.check;
    if (names_config(command) && !spec.config_file)
      return Failure(reader.error_at(*table.get(key), fmt::format("{}.{}", table_path, key),
                                     "names {config} but the service has no `config` file"));
  }
  if (!reload.reloads() && reload.check.empty())
    return Failure(reader.error_at(*table.get("check_timeout"), table_path + ".check_timeout",
                                   "needs config_check or reload: the command it limits"));
  return {};
}

}  // namespace config_reading
ARM_END_NAMESPACE
