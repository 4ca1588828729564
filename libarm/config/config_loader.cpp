// TOML text to arm::Config. Every error names the file, the line and column of the offending
// value, and the dotted key; the first error found is reported.
#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "arm/config.hpp"

namespace arm {

std::string ConfigError::to_string() const {
  std::string where = file;
  if (line > 0) where += fmt::format(":{}:{}", line, column);
  if (key.empty()) return fmt::format("{}: {}", where, message);
  return fmt::format("{}: {}: {}", where, key, message);
}

namespace {

using Error = std::unexpected<ConfigError>;

const std::vector<std::string_view> arm_keys = {"socket", "default_services", "global_prefix"};
const std::vector<std::string_view> service_keys = {"binary",
                                                    "config",
                                                    "prefix",
                                                    "options",
                                                    "debug",
                                                    "restart",
                                                    "backoff_initial",
                                                    "backoff_max",
                                                    "backoff_reset_after",
                                                    "stop_timeout",
                                                    "environment",
                                                    "working_directory",
                                                    "backoff_jitter",
                                                    "max_restarts",
                                                    "restart_window",
                                                    "retry_failed_after",
                                                    "success_exit_codes",
                                                    "permanent_failure_exit_codes"};

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(std::string_view key, const std::vector<std::string_view>& known) {
  std::string_view best;
  std::size_t best_distance = 3;  // suggest only near misses
  for (auto candidate : known) {
    std::size_t distance = edit_distance(key, candidate);
    if (distance < best_distance) best = candidate, best_distance = distance;
  }
  if (best.empty()) return fmt::format("unknown key '{}'", key);
  return fmt::format("unknown key '{}' (did you mean '{}'?)", key, best);
}

std::vector<std::string> split_on_spaces(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream stream{std::string(text)};
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

bool valid_service_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '@' || c == '-';
  });
}

// Reads values out of one parsed document, producing errors that point into it.
class Reader {
 public:
  Reader(std::string file, std::filesystem::path base_directory)
      : file_(std::move(file)), base_(std::move(base_directory)) {}

  ConfigError error(const toml::source_region& where, std::string key, std::string message) const {
    return {file_, static_cast<int>(where.begin.line), static_cast<int>(where.begin.column),
            std::move(key), std::move(message)};
  }
  ConfigError error(const toml::node& node, std::string key, std::string message) const {
    return error(node.source(), std::move(key), std::move(message));
  }
  ConfigError wrong_type(const toml::node& node, const std::string& key,
                         std::string_view expected) const {
    return error(node, key, fmt::format("expected {}, got {}", expected, type_name(node)));
  }

  std::expected<std::string, ConfigError> string(const toml::node& node,
                                                 const std::string& key) const {
    if (!node.is_string()) return Error(wrong_type(node, key, "a string"));
    return std::string(*node.value<std::string_view>());
  }

  std::expected<std::string, ConfigError> path(const toml::node& node,
                                               const std::string& key) const {
    auto text = string(node, key);
    if (!text) return text;
    if (text->empty()) return Error(error(node, key, "must not be empty"));
    return resolve(*text);
  }

  // A program name without a slash is left for PATH lookup; other relative paths are taken
  // relative to the configuration file, so a config and its scripts can move together.
  std::string resolve_program(const std::string& program) const {
    if (program.find('/') == std::string::npos) return program;
    return resolve(program);
  }

  std::expected<std::vector<std::string>, ConfigError> words(const toml::node& node,
                                                             const std::string& key) const {
    if (node.is_string()) return split_on_spaces(*node.value<std::string_view>());
    const toml::array* array = node.as_array();
    if (!array) return Error(wrong_type(node, key, "a string or an array of strings"));
    std::vector<std::string> words;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      if (!element.is_string())
        return Error(wrong_type(element, fmt::format("{}[{}]", key, i), "a string"));
      words.emplace_back(*element.value<std::string_view>());
    }
    return words;
  }

  std::expected<std::vector<int>, ConfigError> exit_codes(const toml::node& node,
                                                          const std::string& key) const {
    const toml::array* array = node.as_array();
    if (!array) return Error(wrong_type(node, key, "an array of exit codes"));
    std::vector<int> codes;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      std::string element_key = fmt::format("{}[{}]", key, i);
      if (!element.is_integer()) return Error(wrong_type(element, element_key, "an integer"));
      auto code = *element.value<std::int64_t>();
      if (code < 0 || code > 255)
        return Error(error(element, element_key, "exit codes are between 0 and 255"));
      codes.push_back(static_cast<int>(code));
    }
    return codes;
  }

  std::expected<Milliseconds, ConfigError> duration(const toml::node& node,
                                                    const std::string& key) const {
    if (node.is_integer()) {
      auto value = *node.value<std::int64_t>();
      if (value < 0) return Error(error(node, key, "must not be negative"));
      auto parsed = parse_duration(std::to_string(value));
      if (!parsed) return Error(error(node, key, parsed.error()));
      return *parsed;
    }
    if (!node.is_string())
      return Error(wrong_type(node, key, "a duration (milliseconds, or a string like \"5s\")"));
    auto parsed = parse_duration(*node.value<std::string_view>());
    if (!parsed) return Error(error(node, key, parsed.error()));
    return *parsed;
  }

  const std::string& file() const { return file_; }

 private:
  std::string resolve(const std::string& path) const {
    if (base_.empty() || std::filesystem::path(path).is_absolute()) return path;
    auto resolved = (base_ / path).lexically_normal();
    if (!resolved.has_filename() && resolved.has_parent_path()) resolved = resolved.parent_path();
    return resolved.string();
  }

  std::string file_;
  std::filesystem::path base_;
};

std::expected<ArmSettings, ConfigError> read_arm(const Reader& reader, const toml::table& table) {
  ArmSettings arm;
  for (auto&& [key, node] : table) {
    std::string name = "arm." + std::string(key.str());
    if (key == "socket") {
      auto socket = reader.path(node, name);
      if (!socket) return Error(socket.error());
      arm.socket = *socket;
    } else if (key == "default_services") {
      auto names = reader.words(node, name);
      if (!names) return Error(names.error());
      arm.default_services = *names;
    } else if (key == "global_prefix") {
      auto prefix = reader.words(node, name);
      if (!prefix) return Error(prefix.error());
      arm.global_prefix = *prefix;
    } else {
      return Error(reader.error(key.source(), name, unknown_key_message(key.str(), arm_keys)));
    }
  }
  if (!arm.global_prefix.empty())
    arm.global_prefix.front() = reader.resolve_program(arm.global_prefix.front());
  return arm;
}

std::expected<RestartPolicy, ConfigError> read_restart(const Reader& reader, const toml::node& node,
                                                       const std::string& key) {
  auto text = reader.string(node, key);
  if (!text) return Error(text.error());
  if (*text == "always") return RestartPolicy::always;
  if (*text == "on-failure") return RestartPolicy::on_failure;
  if (*text == "never") return RestartPolicy::never;
  return Error(reader.error(node, key,
                            fmt::format("'{}': expected one of always, on-failure, never", *text)));
}

std::expected<ServiceSpec, ConfigError> read_service(const Reader& reader, const std::string& name,
                                                     const toml::table& table) {
  ServiceSpec spec;
  spec.name = name;
  bool has_binary = false;
  const toml::node* backoff_initial_node = nullptr;
  for (auto&& [key, node] : table) {
    std::string path = fmt::format("services.{}.{}", name, key.str());
    std::optional<ConfigError> failed;
    auto keep_error = [&](const auto& result) {
      if (!result) failed = result.error();
      return result.has_value();
    };
    if (key == "binary") {
      auto binary = reader.string(node, path);
      if (keep_error(binary)) {
        if (binary->empty()) return Error(reader.error(node, path, "must not be empty"));
        spec.binary = reader.resolve_program(*binary);
        has_binary = true;
      }
    } else if (key == "config") {
      auto file = reader.path(node, path);
      if (keep_error(file)) spec.config_file = *file;
    } else if (key == "prefix") {
      auto prefix = reader.words(node, path);
      if (keep_error(prefix)) {
        spec.prefix = *prefix;
        if (!spec.prefix->empty())
          spec.prefix->front() = reader.resolve_program(spec.prefix->front());
      }
    } else if (key == "options") {
      auto options = reader.words(node, path);
      if (keep_error(options)) spec.options = *options;
    } else if (key == "debug") {
      if (!node.is_boolean()) return Error(reader.wrong_type(node, path, "true or false"));
      spec.debug = *node.value<bool>();
    } else if (key == "restart") {
      auto policy = read_restart(reader, node, path);
      if (keep_error(policy)) spec.restart = *policy;
    } else if (key == "backoff_initial") {
      backoff_initial_node = &node;
      auto value = reader.duration(node, path);
      if (keep_error(value)) spec.backoff_initial = *value;
    } else if (key == "backoff_max") {
      auto value = reader.duration(node, path);
      if (keep_error(value)) spec.backoff_max = *value;
    } else if (key == "backoff_reset_after") {
      auto value = reader.duration(node, path);
      if (keep_error(value)) spec.backoff_reset_after = *value;
    } else if (key == "backoff_jitter") {
      auto jitter = node.value<double>();  // integers convert too
      if (!jitter || (!node.is_floating_point() && !node.is_integer()))
        return Error(reader.wrong_type(node, path, "a number between 0 and 1"));
      if (*jitter < 0.0 || *jitter > 1.0)
        return Error(reader.error(node, path, "must be between 0 and 1"));
      spec.backoff_jitter = *jitter;
    } else if (key == "max_restarts") {
      if (!node.is_integer()) return Error(reader.wrong_type(node, path, "an integer"));
      auto count = *node.value<std::int64_t>();
      if (count < 0 || count > 1'000'000)
        return Error(reader.error(node, path, "must be between 0 and 1000000"));
      spec.max_restarts = static_cast<unsigned>(count);
    } else if (key == "restart_window") {
      auto value = reader.duration(node, path);
      if (keep_error(value)) {
        if (value->count() == 0) return Error(reader.error(node, path, "must be more than 0"));
        spec.restart_window = *value;
      }
    } else if (key == "retry_failed_after") {
      auto value = reader.duration(node, path);
      if (keep_error(value)) spec.retry_failed_after = *value;
    } else if (key == "success_exit_codes" || key == "permanent_failure_exit_codes") {
      auto codes = reader.exit_codes(node, path);
      if (keep_error(codes)) {
        (key == "success_exit_codes" ? spec.success_exit_codes
                                     : spec.permanent_failure_exit_codes) = *codes;
      }
    } else if (key == "stop_timeout") {
      auto value = reader.duration(node, path);
      if (keep_error(value)) spec.stop_timeout = *value;
    } else if (key == "environment") {
      const toml::table* environment = node.as_table();
      if (!environment) return Error(reader.wrong_type(node, path, "a table of strings"));
      for (auto&& [variable, value] : *environment) {
        std::string variable_path = fmt::format("{}.{}", path, variable.str());
        if (variable.str().empty() || variable.str().find('=') != std::string_view::npos)
          return Error(reader.error(variable.source(), variable_path,
                                    "variable names must be non-empty and contain no '='"));
        auto text = reader.string(value, variable_path);
        if (!text) return Error(text.error());
        spec.environment[std::string(variable.str())] = *text;
      }
    } else if (key == "working_directory") {
      auto directory = reader.path(node, path);
      if (keep_error(directory)) spec.working_directory = *directory;
    } else {
      return Error(reader.error(key.source(), path, unknown_key_message(key.str(), service_keys)));
    }
    if (failed) return Error(*failed);
  }
  if (!has_binary)
    return Error(
        reader.error(table.source(), fmt::format("services.{}.binary", name), "is required"));
  for (int code : spec.permanent_failure_exit_codes) {
    if (std::find(spec.success_exit_codes.begin(), spec.success_exit_codes.end(), code) !=
        spec.success_exit_codes.end())
      return Error(reader.error(table.source(),
                                fmt::format("services.{}.permanent_failure_exit_codes", name),
                                fmt::format("exit code {} is also a success exit code", code)));
  }
  if (spec.backoff_initial > spec.backoff_max) {
    const toml::node& where = backoff_initial_node ? *backoff_initial_node : table;
    return Error(reader.error(where, fmt::format("services.{}.backoff_initial", name),
                              fmt::format("{} ms is more than backoff_max ({} ms)",
                                          spec.backoff_initial.count(), spec.backoff_max.count())));
  }
  return spec;
}

std::expected<Config, ConfigError> read_document(const Reader& reader, const toml::table& root) {
  Config config;
  const toml::array* defaults = nullptr;
  for (auto&& [key, node] : root) {
    if (key == "arm") {
      const toml::table* table = node.as_table();
      if (!table) return Error(reader.wrong_type(node, "arm", "a table"));
      auto arm = read_arm(reader, *table);
      if (!arm) return Error(arm.error());
      config.arm = *arm;
      if (auto* list = table->get("default_services")) defaults = list->as_array();
    } else if (key == "services") {
      const toml::table* services = node.as_table();
      if (!services) return Error(reader.wrong_type(node, "services", "a table"));
      for (auto&& [name, service] : *services) {
        std::string path = fmt::format("services.{}", name.str());
        if (!valid_service_name(name.str()))
          return Error(reader.error(name.source(), path,
                                    "service names may only contain letters, digits and _ . @ -"));
        const toml::table* table = service.as_table();
        if (!table) return Error(reader.wrong_type(service, path, "a table"));
        auto spec = read_service(reader, std::string(name.str()), *table);
        if (!spec) return Error(spec.error());
        config.services.emplace(spec->name, std::move(*spec));
      }
    } else {
      return Error(reader.error(key.source(), std::string(key.str()),
                                unknown_key_message(key.str(), {"arm", "services"})));
    }
  }
  for (std::size_t i = 0; i < config.arm.default_services.size(); ++i) {
    const std::string& name = config.arm.default_services[i];
    if (config.services.contains(name)) continue;
    std::string key = fmt::format("arm.default_services[{}]", i);
    std::string message = fmt::format("'{}' is not a configured service", name);
    if (defaults && i < defaults->size())
      return Error(reader.error(*defaults->get(i), key, message));
    return Error(ConfigError{reader.file(), 0, 0, key, message});
  }
  return config;
}

// TOML allows no control characters but tab and line endings, anywhere; refusing them here
// gives one clear message with the exact position instead of whatever the parser trips on.
std::optional<ConfigError> find_control_character(std::string_view text, std::string_view source) {
  int line = 1;
  int column = 1;
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
      return ConfigError{std::string(source), line, column, "",
                         fmt::format("control character U+{:04X} is not allowed in TOML", c)};
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::nullopt;
}

std::expected<Config, ConfigError> parse_with_base(std::string_view text, std::string_view source,
                                                   std::filesystem::path base) {
  Reader reader{std::string(source), std::move(base)};
  if (auto control = find_control_character(text, source)) return Error(*control);
  try {
    toml::table root = toml::parse(text, source);
    return read_document(reader, root);
  } catch (const toml::parse_error& error) {
    return Error(reader.error(error.source(), "", std::string(error.description())));
  } catch (const std::exception& error) {
    return Error(ConfigError{std::string(source), 0, 0, "", error.what()});
  }
}

}  // namespace

std::expected<Config, ConfigError> parse_config(std::string_view toml_text,
                                                std::string_view source_name) {
  return parse_with_base(toml_text, source_name, {});
}

std::expected<Config, ConfigError> load_config_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error(ConfigError{path.string(), 0, 0, "", std::strerror(errno)});
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Error(ConfigError{path.string(), 0, 0, "", "read error"});
  std::filesystem::path base = path.parent_path();
  if (base.empty()) base = ".";
  std::error_code ignored;
  base = std::filesystem::absolute(base, ignored);
  return parse_with_base(text.str(), path.string(), base);
}

}  // namespace arm
