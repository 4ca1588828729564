#include "execution_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "user_database_posix.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

using config_detail::find_group;
using config_detail::find_user;
using config_detail::UserEntry;

ExecutionSettings& execution_of(ServiceSpec& spec) {
  if (!spec.execution) spec.execution = ExecutionSettings{};
  return *spec.execution;
}

// An id written as a number: an integer, or a string of digits ("1001"). nullopt for a name.
std::optional<std::uint32_t> as_number(std::string_view text) {
  std::uint32_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

// A user or group as written: a name, a string of digits or an integer.
Read<std::string> id_text(const ValueReader& reader, const toml::node& value,
                          const std::string& path, std::string_view what) {
  if (value.is_integer()) {
    auto number = *value.value<std::int64_t>();
    if (number < 0 || number >= 0xffffffffLL)
      return Failure(reader.error_at(value, path, fmt::format("{} ids are 0 to 4294967294", what)));
    return std::to_string(number);
  }
  if (!value.is_string())
    return Failure(reader.wrong_type(value, path, fmt::format("a {} name or number", what)));
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  if (text->empty()) return Failure(reader.error_at(value, path, "must not be empty"));
  return text;
}

Read<std::uint32_t> resolve_group(const ValueReader& reader, const toml::node& value,
                                  const std::string& path) {
  auto text = id_text(reader, value, path, "group");
  if (!text) return Failure(text.error());
  if (auto number = as_number(*text)) {
    if (*number == 0xffffffffU)
      return Failure(reader.error_at(value, path, "group ids are 0 to 4294967294"));
    return *number;
  }
  std::optional<std::uint32_t> gid;
  if (int error = find_group(*text, gid); error != 0)
    return Failure(reader.error_at(
        value, path, fmt::format("'{}': looking up the group: {}", *text, std::strerror(error))));
  if (!gid) return Failure(reader.error_at(value, path, fmt::format("'{}': no such group", *text)));
  return *gid;
}

// An integer within [least, most].
Read<int> bounded_integer(const ValueReader& reader, const toml::node& value,
                          const std::string& path, int least, int most) {
  if (!value.is_integer()) return Failure(reader.wrong_type(value, path, "an integer"));
  auto number = *value.value<std::int64_t>();
  if (number < least || number > most)
    return Failure(reader.error_at(
        value, path, fmt::format("{}: must be between {} and {}", number, least, most)));
  return static_cast<int>(number);
}

// One limit value: an integer (0 or more) or "unlimited".
Read<std::uint64_t> limit_value(const ValueReader& reader, const toml::node& value,
                                const std::string& path) {
  if (value.is_string() && *value.value<std::string_view>() == "unlimited")
    return ExecutionSettings::unlimited;
  if (!value.is_integer())
    return Failure(reader.wrong_type(value, path, "an integer, \"unlimited\" or { soft, hard }"));
  auto number = *value.value<std::int64_t>();
  if (number < 0) return Failure(reader.error_at(value, path, "must not be negative"));
  return static_cast<std::uint64_t>(number);
}

std::string limit_text(std::uint64_t value) {
  return value == ExecutionSettings::unlimited ? std::string("unlimited") : std::to_string(value);
}

}  // namespace

Done read_user(const ValueReader& reader, const toml::node& value, const std::string& path,
               ServiceSpec& spec) {
  auto text = id_text(reader, value, path, "user");
  if (!text) return Failure(text.error());
  auto number = as_number(*text);
  if (number && *number == 0xffffffffU)
    return Failure(reader.error_at(value, path, "user ids are 0 to 4294967294"));
  std::optional<UserEntry> found;
  if (int error = find_user(*text, number, found); error != 0)
    return Failure(reader.error_at(
        value, path, fmt::format("'{}': looking up the user: {}", *text, std::strerror(error))));
  ExecutionSettings& execution = execution_of(spec);
  if (!found) {
    // A uid without a passwd entry is allowed (as systemd allows it), with `group` given.
    if (!number)
      return Failure(reader.error_at(value, path, fmt::format("'{}': no such user", *text)));
    execution.user = *number;
    execution.user_name.clear();
    execution.user_home.clear();
    return {};
  }
  execution.user = found->uid;
  execution.user_name = found->name;
  execution.user_home = found->home;
  return {};
}

Done read_group(const ValueReader& reader, const toml::node& value, const std::string& path,
                ServiceSpec& spec) {
  auto gid = resolve_group(reader, value, path);
  if (!gid) return Failure(gid.error());
  execution_of(spec).group = *gid;
  return {};
}

Done read_supplementary_groups(const ValueReader& reader, const toml::node& value,
                               const std::string& path, ServiceSpec& spec) {
  const toml::array* array = value.as_array();
  if (!array) return Failure(reader.wrong_type(value, path, "an array of group names or ids"));
  // Linux's NGROUPS_MAX; the spawner's child holds them in a fixed array.
  constexpr std::size_t most = 65536;
  if (array->size() > most)
    return Failure(reader.error_at(value, path, fmt::format("at most {} groups", most)));
  std::vector<std::uint32_t> groups;
  for (std::size_t i = 0; i < array->size(); ++i) {
    auto gid = resolve_group(reader, *array->get(i), fmt::format("{}[{}]", path, i));
    if (!gid) return Failure(gid.error());
    if (std::ranges::find(groups, *gid) == groups.end()) groups.push_back(*gid);
  }
  execution_of(spec).supplementary_groups = std::move(groups);
  return {};
}

Done read_umask(const ValueReader& reader, const toml::node& value, const std::string& path,
                ServiceSpec& spec) {
  constexpr std::string_view expected = "expected an octal mask from \"000\" to \"777\" (\"027\")";
  std::int64_t mask = -1;
  if (value.is_integer()) {
    mask = *value.value<std::int64_t>();
  } else if (value.is_string()) {
    std::string_view text = *value.value<std::string_view>();
    if (text.starts_with("0o")) text.remove_prefix(2);
    unsigned parsed = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed, 8);
    if (text.empty() || text.size() > 4 || error != std::errc() || end != text.data() + text.size())
      return Failure(reader.error_at(value, path, fmt::format("'{}': {}", text, expected)));
    mask = parsed;
  } else {
    return Failure(reader.wrong_type(value, path, "an octal string such as \"027\""));
  }
  if (mask < 0 || mask > 0777)
    return Failure(reader.error_at(value, path, fmt::format("{:o}: {}", mask, expected)));
  execution_of(spec).umask = static_cast<unsigned>(mask);
  return {};
}

Done read_limits(const ValueReader& reader, const toml::node& value, const std::string& path,
                 ServiceSpec& spec) {
  const toml::table* table = value.as_table();
  if (!table) return Failure(reader.wrong_type(value, path, "a table of limits (nofile = 65536)"));
  std::vector<ExecutionSettings::Limit> limits;
  for (auto&& [key, limit_node] : *table) {
    std::string limit_path = fmt::format("{}.{}", path, key.str());
    auto resource = parse_resource_limit(key.str());
    if (!resource) {
      std::vector<std::string_view> names;
      for (int i = 0; i <= static_cast<int>(ResourceLimit::stack); ++i)
        names.push_back(to_string(static_cast<ResourceLimit>(i)));
      std::string message = unknown_key_message(key.str(), names);
      // "unknown key 'nofiles'": say what kind of key.
      message.replace(0, 11, "unknown limit");
      return Failure(reader.error_at(key.source(), limit_path, message));
    }
    ExecutionSettings::Limit limit{*resource, 0, 0};
    if (const toml::table* pair = limit_node.as_table()) {
      for (auto&& [part, ignored] : *pair) {
        if (part.str() != "soft" && part.str() != "hard")
          return Failure(reader.error_at(part.source(),
                                         fmt::format("{}.{}", limit_path, part.str()),
                                         "expected only `soft` and `hard`"));
      }
      const toml::node* soft = pair->get("soft");
      const toml::node* hard = pair->get("hard");
      if (!soft || !hard)
        return Failure(reader.error_at(limit_node, limit_path, "needs both `soft` and `hard`"));
      auto soft_value = limit_value(reader, *soft, limit_path + ".soft");
      if (!soft_value) return Failure(soft_value.error());
      auto hard_value = limit_value(reader, *hard, limit_path + ".hard");
      if (!hard_value) return Failure(hard_value.error());
      if (*soft_value > *hard_value)
        return Failure(
            reader.error_at(*soft, limit_path + ".soft",
                            fmt::format("the soft limit ({}) is above the hard limit ({})",
                                        limit_text(*soft_value), limit_text(*hard_value))));
      limit.soft = *soft_value;
      limit.hard = *hard_value;
    } else {
      auto both = limit_value(reader, limit_node, limit_path);
      if (!both) return Failure(both.error());
      limit.soft = limit.hard = *both;
    }
    limits.push_back(limit);
  }
  execution_of(spec).limits = std::move(limits);
  return {};
}

Done read_nice(const ValueReader& reader, const toml::node& value, const std::string& path,
               ServiceSpec& spec) {
  auto nice = bounded_integer(reader, value, path, -20, 19);
  if (!nice) return Failure(nice.error());
  execution_of(spec).nice = *nice;
  return {};
}

Done read_oom_score_adj(const ValueReader& reader, const toml::node& value, const std::string& path,
                        ServiceSpec& spec) {
  auto adjustment = bounded_integer(reader, value, path, -1000, 1000);
  if (!adjustment) return Failure(adjustment.error());
  execution_of(spec).oom_score_adj = *adjustment;
  return {};
}

Done read_no_new_privileges(const ValueReader& reader, const toml::node& value,
                            const std::string& path, ServiceSpec& spec) {
  auto flag = reader.boolean(value, path);
  if (!flag) return Failure(flag.error());
  execution_of(spec).no_new_privileges = *flag;
  return {};
}

Done read_capabilities(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec) {
  const toml::array* array = value.as_array();
  if (!array) return Failure(reader.wrong_type(value, path, "an array of capability names"));
  std::uint64_t set = 0;
  for (std::size_t i = 0; i < array->size(); ++i) {
    std::string element_path = fmt::format("{}[{}]", path, i);
    auto name = reader.string(*array->get(i), element_path);
    if (!name) return Failure(name.error());
    auto number = parse_capability(*name);
    if (!number)
      return Failure(
          reader.error_at(*array->get(i), element_path,
                          fmt::format("'{}': unknown capability (names as in capabilities(7): "
                                      "\"CAP_NET_BIND_SERVICE\" or \"net_bind_service\")",
                                      *name)));
    set |= std::uint64_t{1} << *number;
  }
  execution_of(spec).capabilities = set;
  return {};
}

Done read_environment_file(const ValueReader& reader, const toml::node& value,
                           const std::string& path, ServiceSpec& spec) {
  auto file = reader.path(value, path);
  if (!file) return Failure(file.error());
  execution_of(spec).environment_file = std::move(*file);
  return {};
}

Done read_clear_environment(const ValueReader& reader, const toml::node& value,
                            const std::string& path, ServiceSpec& spec) {
  auto flag = reader.boolean(value, path);
  if (!flag) return Failure(flag.error());
  execution_of(spec).clear_environment = *flag;
  return {};
}

Done complete_execution(const ValueReader& reader, const toml::table& table,
                        const std::string& table_path, ServiceSpec& spec) {
  if (!spec.execution) return {};
  ExecutionSettings& execution = *spec.execution;
  if (execution.user) {
    if (!table.contains("group")) {
      if (execution.user_name.empty())
        return Failure(reader.error_at(
            *table.get("user"), table_path + ".user",
            fmt::format("uid {} has no passwd entry, so no primary group: set `group`",
                        *execution.user)));
      std::optional<UserEntry> entry;
      if (find_user(execution.user_name, std::nullopt, entry) != 0 || !entry)
        return Failure(reader.error_at(*table.get("user"), table_path + ".user",
                                       fmt::format("'{}': no such user", execution.user_name)));
      execution.group = entry->gid;
    }
    if (!table.contains("supplementary_groups")) {
      std::vector<std::uint32_t> groups;
      if (!execution.user_name.empty()) {
        groups = config_detail::groups_of(execution.user_name, *execution.group);
      }
      execution.supplementary_groups = std::move(groups);
    }
  } else if (execution.group && !execution.supplementary_groups) {
    execution.supplementary_groups = std::vector<std::uint32_t>{};
  }
  return {};
}

}  // namespace config_reading
ARM_END_NAMESPACE
