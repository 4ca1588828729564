// TOML text, or a file of it, to arm::Config: the document's two tables, the checks that span
// them, and the way in from a file. Every error names the file, the line and column of the
// offending value, and the dotted key; the first error found is the one reported.
//
// Parts: value_reader (one value, typed), key_table (a table through its list of keys),
// service_table (one service), duration.cpp (parse_duration), nesting_limits (what the text
// must keep before the parser sees it), read_file_posix (the file itself).

#include <fmt/format.h>
#include <toml++/toml.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <set>

#include "arm/config.hpp"
#include "dependency_check.hpp"
#include "key_table.hpp"
#include "listen_table.hpp"
#include "nesting_limits.hpp"
#include "read_file_posix.hpp"
#include "service_instances.hpp"
#include "service_key.hpp"
#include "service_table.hpp"
#include "value_reader.hpp"

ARM_BEGIN_NAMESPACE

namespace {

using namespace config_reading;

const std::array arm_keys{
    Key<ArmSettings>{"socket",
                     [](auto& reader, auto& value, auto& path, ArmSettings& arm) {
                       return assign(reader.path(value, path), arm.socket);
                     }},
    Key<ArmSettings>{"default_services",
                     [](auto& reader, auto& value, auto& path, ArmSettings& arm) {
                       return assign(reader.words(value, path), arm.default_services);
                     }},
    Key<ArmSettings>{"cgroup",
                     [](auto& reader, auto& value, auto& path, ArmSettings& arm) -> Done {
                       auto text = reader.string(value, path);
                       if (!text) return Failure(text.error());
                       if (*text != "auto" && *text != "off" && !text->starts_with('/'))
                         return Failure(reader.error_at(
                             value, path,
                             "expected \"auto\", \"off\" or the absolute path of a cgroup v2 "
                             "directory"));
                       arm.cgroup = std::move(*text);
                       return {};
                     }},
    Key<ArmSettings>{"log_dir",
                     [](auto& reader, auto& value, auto& path, ArmSettings& arm) {
                       return assign(reader.path(value, path), arm.log_dir);
                     }},
    Key<ArmSettings>{"metrics_listen",
                     [](auto& reader, auto& value, auto& path, ArmSettings& arm) -> Done {
                       auto text = reader.string(value, path);
                       if (!text) return Failure(text.error());
                       auto address = parse_listen_address(*text);
                       if (!address) return Failure(reader.error_at(value, path, address.error()));
                       arm.metrics_listen = std::move(*address);
                       return {};
                     }},
    Key<ArmSettings>{"global_prefix",
                     [](auto& reader, auto& value, auto& path, ArmSettings& arm) {
                       return assign(reader.command_prefix(value, path), arm.global_prefix);
                     }},
};

constexpr std::array<std::string_view, 2> top_level_keys{"arm", "services"};

// Adds a service read by read_service; a name taken already (an instance of a template and a
// service of the same name) is an error at `where`.
Done add_service(const ValueReader& reader, ServiceSpec spec, const toml::node& where,
                 Config& config) {
  std::string name = spec.name;
  if (!config.services.emplace(name, std::move(spec)).second)
    return Failure(reader.error_at(
        where, fmt::format("services.{}", name),
        fmt::format("'{}' is defined twice: as a service and as an instance of a template", name)));
  return {};
}

Done read_plain_service(const ValueReader& reader, const std::string& name,
                        const toml::table& table, Config& config) {
  if (const toml::node* instances = table.get("instances"))
    return Failure(reader.error_at(*instances, fmt::format("services.{}.instances", name),
                                   "only a template service (a name ending in '@', such as "
                                   "\"worker@\") has instances"));
  auto spec = read_service(reader, name, table);
  if (!spec) return Failure(spec.error());
  return add_service(reader, std::move(*spec), table, config);
}

// An error in one instance's copy of a template (which has no source positions) pointed back at
// the template: its key, its line when found there (the table's own line otherwise), and the
// instance named.
ConfigError at_template(const ValueReader& reader, const toml::table& root,
                        const std::string& template_name, const std::string& instance,
                        ConfigError error) {
  std::string instance_key = fmt::format("services.{}{}", template_name, instance);
  std::string template_key = fmt::format("services.{}", template_name);
  if (error.key.starts_with(instance_key))
    error.key = template_key + error.key.substr(instance_key.size());
  error.message += fmt::format(" (in instance '{}')", instance);
  if (error.line != 0) return error;
  const toml::node* node = find_service_key(root, error.key);
  if (!node) node = root["services"][template_name].node();
  return node ? reader.error_at(*node, error.key, error.message) : error;
}

// A template ("worker@"): one service per instance, read from the template's table with
// `{instance}` replaced.
Done read_instances(const ValueReader& reader, const toml::table& root,
                    const std::string& template_name, const toml::table& table, Config& config) {
  std::string path = fmt::format("services.{}", template_name);
  if (template_name.size() == 1)
    return Failure(reader.error_at(table, path, "a template needs a name before the '@'"));
  auto instances = read_instance_names(reader, table, path);
  if (!instances) return Failure(instances.error());
  for (const std::string& instance : *instances) {
    auto spec = read_service(reader, template_name + instance, instantiate(table, instance));
    if (!spec)
      return Failure(at_template(reader, root, template_name, instance, std::move(spec.error())));
    if (Done done = add_service(reader, std::move(*spec), table, config); !done) return done;
  }
  return {};
}

Done read_services(const ValueReader& reader, const toml::table& root, const toml::node& node,
                   Config& config) {
  auto services = reader.table(node, "services");
  if (!services) return Failure(services.error());
  for (auto&& [name, value] : **services) {
    std::string path = fmt::format("services.{}", name.str());
    if (name.str().empty())
      return Failure(reader.error_at(name.source(), path, "a service name must not be empty"));
    if (!is_valid_service_name(name.str()))
      return Failure(reader.error_at(name.source(), path,
                                     "service names may only contain letters, digits and _ . @ -"));
    auto table = reader.table(value, path);
    if (!table) return Failure(table.error());
    Done done = is_template_name(name.str())
                    ? read_instances(reader, root, std::string(name.str()), **table, config)
                    : read_plain_service(reader, std::string(name.str()), **table, config);
    if (!done) return done;
  }
  return {};
}

// `[arm] log_dir`: the log file of each service that did not name one (or opt out with
// `log_file = false`, which leaves the key present and the file unset).
void apply_log_dir(const toml::table& root, Config& config) {
  if (!config.arm.log_dir) return;
  for (auto& [name, spec] : config.services) {
    // The instances of a template have what the template has: its log_file, or its `false`.
    if (service_table(root, name)["log_file"].node()) continue;
    spec.log_file = *config.arm.log_dir + "/" + name + ".log";
  }
}

// Each default service must be configured, and listed once: a name listed twice would be
// started twice, holding a reference nobody could give back.
Done check_default_services(const ValueReader& reader, const toml::table& root,
                            const Config& config) {
  const toml::node* written = root.at_path("arm.default_services").node();
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < config.arm.default_services.size(); ++i) {
    const std::string& name = config.arm.default_services[i];
    std::string message;
    if (!config.services.contains(name))
      message = fmt::format("'{}' is not a configured service", name);
    else if (config.services.at(name).start == StartMode::on_demand)
      message =
          fmt::format("'{}' has start = \"on-demand\": it starts on its first connection", name);
    else if (!seen.insert(name).second)
      message = fmt::format("'{}' is listed twice", name);
    else
      continue;
    // The array form points at the element; the string form ("a b") can only point at itself.
    const toml::array* array = written ? written->as_array() : nullptr;
    const toml::node* where = array && i < array->size() ? array->get(i) : written;
    std::string key = fmt::format("arm.default_services[{}]", i);
    if (!where) return Failure(Error::at(reader.file(), 0, 0, key, message));
    return Failure(reader.error_at(*where, key, message));
  }
  return {};
}

// Unknown names and cycles, pointing at the array element of the edge at fault.
Done check_dependency_graph(const ValueReader& reader, const toml::table& root,
                            const Config& config) {
  auto bad = find_bad_edge(config);
  if (!bad) return {};
  std::string key = fmt::format("services.{}.{}[{}]", bad->service, bad->list, bad->index);
  const toml::node* element = service_table(root, bad->service)[bad->list][bad->index].node();
  if (!element) return Failure(Error::at(reader.file(), 0, 0, key, bad->message));
  return Failure(reader.error_at(*element, key, bad->message));
}

Read<Config> read_document(const ValueReader& reader, const toml::table& root) {
  Config config;
  for (auto&& [key, value] : root) {
    Done done;
    if (key == "arm") {
      auto table = reader.table(value, "arm");
      if (!table) return Failure(table.error());
      done = read_keys<ArmSettings>(reader, **table, "arm", arm_keys, config.arm);
    } else if (key == "services") {
      done = read_services(reader, root, value, config);
    } else {
      std::string message = unknown_key_message(key.str(), top_level_keys);
      if (message.find("did you mean") == std::string::npos)
        message += " (the top level holds only [arm] and [services])";
      done = Failure(reader.error_at(key.source(), std::string(key.str()), message));
    }
    if (!done) return Failure(done.error());
  }
  apply_log_dir(root, config);
  if (Done done = check_default_services(reader, root, config); !done) return Failure(done.error());
  if (Done done = check_dependency_graph(reader, root, config); !done) return Failure(done.error());
  if (Done done = check_sockets_unique(reader, root, config); !done) return Failure(done.error());
  return config;
}

// TOML allows no control characters but tab and line endings, anywhere; refusing them here
// gives one clear message with the exact position instead of whatever the parser trips on.
std::optional<ConfigError> find_control_character(std::string_view text, std::string_view source) {
  int line = 1;
  int column = 1;
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
      return Error::at(std::string(source), line, column, "",
                       fmt::format("control character U+{:04X} is not allowed in TOML", c));
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::nullopt;
}

Read<Config> parse_with_base(std::string_view text, std::string_view source,
                             std::filesystem::path base_directory) {
  // Nothing may escape the public API: toml++ reports syntax errors by exception, and anything
  // else (bad_alloc, filesystem_error) becomes a ConfigError without a position.
  try {
    ValueReader reader{std::string(source), std::move(base_directory)};
    if (auto control = find_control_character(text, source)) return Failure(*control);
    // toml++ recurses once per level: a deep enough document overflows the stack.
    if (auto too_deep = find_excessive_nesting(text, source)) return Failure(*too_deep);
    try {
      toml::table root = toml::parse(text, source);
      return read_document(reader, root);
    } catch (const toml::parse_error& error) {
      return Failure(reader.error_at(error.source(), "", std::string(error.description())));
    }
  } catch (const std::exception& error) {
    return Failure(Error::at(std::string(source), 0, 0, "", error.what()));
  }
}

}  // namespace

std::expected<Config, ConfigError> parse_config(std::string_view toml_text,
                                                std::string_view source_name) {
  return parse_with_base(toml_text, source_name, {});
}

std::expected<Config, ConfigError> load_config_file(const std::filesystem::path& path) {
  auto text = read_config_file_text(path);
  if (!text) return std::unexpected(std::move(text.error()));
  return parse_config_file_text(*text, path);
}

std::expected<std::string, ConfigError> read_config_file_text(const std::filesystem::path& path) {
  try {
    auto text = config_detail::read_whole_file(path);
    if (!text) return Failure(Error::at(path.string(), 0, 0, "", text.error()));
    return std::move(*text);
  } catch (const std::exception& error) {
    return Failure(Error::at(path.string(), 0, 0, "", error.what()));
  }
}

std::expected<Config, ConfigError> parse_config_file_text(std::string_view text,
                                                          const std::filesystem::path& path) {
  try {
    // Relative paths inside are taken relative to the file, wherever armd was started from.
    std::error_code unknown;
    std::filesystem::path directory = std::filesystem::absolute(path, unknown).parent_path();
    return parse_with_base(text, path.string(), directory);
  } catch (const std::exception& error) {
    return Failure(Error::at(path.string(), 0, 0, "", error.what()));
  }
}

ARM_END_NAMESPACE
