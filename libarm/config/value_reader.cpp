#include "value_reader.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <utility>

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

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

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::vector<std::string> split_on_whitespace(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

bool is_blank(std::string_view text) {
  for (char c : text) {
    if (!is_space(c)) return false;
  }
  return true;
}

}  // namespace

ValueReader::ValueReader(std::string file, std::filesystem::path base_directory)
    : file_(std::move(file)), base_directory_(std::move(base_directory)) {}

ConfigError ValueReader::error_at(const toml::source_region& where, std::string key,
                                  std::string message) const {
  return Error::at(file_, static_cast<int>(where.begin.line), static_cast<int>(where.begin.column),
                   std::move(key), std::move(message));
}

ConfigError ValueReader::error_at(const toml::node& node, std::string key,
                                  std::string message) const {
  return error_at(node.source(), std::move(key), std::move(message));
}

ConfigError ValueReader::wrong_type(const toml::node& node, std::string key,
                                    std::string_view expected) const {
  return error_at(node, std::move(key),
                  fmt::format("expected {}, got {}", expected, type_name(node)));
}

Read<std::string> ValueReader::string(const toml::node& node, const std::string& key) const {
  if (!node.is_string()) return Failure(wrong_type(node, key, "a string"));
  std::string_view text = *node.value<std::string_view>();
  // TOML lets "\u0000" through; every string here ends up in an argv, the environment or a
  // path, where the C library would silently cut it short at the NUL.
  if (text.find('\0') != std::string_view::npos)
    return Failure(error_at(node, key, "must not contain a NUL character"));
  return std::string(text);
}

Read<bool> ValueReader::boolean(const toml::node& node, const std::string& key) const {
  if (!node.is_boolean()) return Failure(wrong_type(node, key, "true or false"));
  return *node.value<bool>();
}

Read<const toml::table*> ValueReader::table(const toml::node& node, const std::string& key) const {
  const toml::table* table = node.as_table();
  if (!table) return Failure(wrong_type(node, key, "a table"));
  return table;
}

Read<std::string> ValueReader::path(const toml::node& node, const std::string& key) const {
  auto text = string(node, key);
  if (!text) return text;
  if (text->empty()) return Failure(error_at(node, key, "must not be empty"));
  return resolve(*text);
}

Read<std::string> ValueReader::program(const toml::node& node, const std::string& key) const {
  auto text = string(node, key);
  if (!text) return text;
  if (is_blank(*text)) return Failure(error_at(node, key, "must not be empty"));
  if (text->find('/') == std::string::npos) return text;
  return resolve(*text);
}

Read<std::vector<std::string>> ValueReader::words(const toml::node& node,
                                                  const std::string& key) const {
  if (node.is_string()) {
    auto text = string(node, key);
    if (!text) return Failure(text.error());
    return split_on_whitespace(*text);
  }
  const toml::array* array = node.as_array();
  if (!array) return Failure(wrong_type(node, key, "a string or an array of strings"));
  std::vector<std::string> words;
  for (std::size_t i = 0; i < array->size(); ++i) {
    auto word = string(*array->get(i), fmt::format("{}[{}]", key, i));
    if (!word) return Failure(word.error());
    words.push_back(std::move(*word));
  }
  return words;
}

Read<std::vector<std::string>> ValueReader::command_prefix(const toml::node& node,
                                                           const std::string& key) const {
  auto words = this->words(node, key);
  if (!words || words->empty()) return words;
  // Only the array form can get here with a blank program: the string form drops blanks.
  const toml::node& first = node.is_array() ? *node.as_array()->get(0) : node;
  if (is_blank(words->front()))
    return Failure(
        error_at(first, node.is_array() ? key + "[0]" : key, "the program must not be empty"));
  if (words->front().find('/') != std::string::npos) words->front() = resolve(words->front());
  return words;
}

Read<Milliseconds> ValueReader::duration(const toml::node& node, const std::string& key) const {
  std::string text;
  if (node.is_integer()) {
    auto milliseconds = *node.value<std::int64_t>();
    if (milliseconds < 0) return Failure(error_at(node, key, "must not be negative"));
    // Through parse_duration so that integers and strings share one upper limit.
    text = std::to_string(milliseconds);
  } else if (node.is_string()) {
    text = *node.value<std::string>();
  } else {
    return Failure(wrong_type(node, key, "a duration (milliseconds, or a string like \"5s\")"));
  }
  auto parsed = parse_duration(text);
  if (!parsed) return Failure(error_at(node, key, parsed.error()));
  return *parsed;
}

Read<std::vector<int>> ValueReader::exit_codes(const toml::node& node,
                                               const std::string& key) const {
  const toml::array* array = node.as_array();
  if (!array) return Failure(wrong_type(node, key, "an array of exit codes"));
  std::vector<int> codes;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    std::string element_key = fmt::format("{}[{}]", key, i);
    if (!element.is_integer()) return Failure(wrong_type(element, element_key, "an integer"));
    auto code = *element.value<std::int64_t>();
    if (code < 0 || code > 255)
      return Failure(error_at(element, element_key, "exit codes are between 0 and 255"));
    codes.push_back(static_cast<int>(code));
  }
  return codes;
}

Read<OutputTarget> ValueReader::output_target(const toml::node& node,
                                              const std::string& key) const {
  auto text = string(node, key);
  if (!text) return Failure(text.error());
  if (*text == "inherit") return OutputTarget{};
  if (*text == "null") return OutputTarget{OutputTarget::Kind::null, {}};
  if (*text == "log") return OutputTarget{OutputTarget::Kind::log, {}};
  if (*text == "stdout") {
    if (key.ends_with(".stderr")) return OutputTarget{OutputTarget::Kind::same_as_stdout, {}};
    return Failure(error_at(node, key, "\"stdout\" is for stderr only (to merge it into stdout)"));
  }
  if (text->starts_with("file:")) {
    std::string path = text->substr(5);
    if (path.empty()) return Failure(error_at(node, key, "\"file:\" needs a path after it"));
    return OutputTarget{OutputTarget::Kind::file, resolve(path)};
  }
  return Failure(
      error_at(node, key,
               fmt::format("'{}': expected \"log\", \"inherit\", \"null\", \"file:PATH\"{}", *text,
                           key.ends_with(".stderr") ? " or \"stdout\"" : "")));
}

std::string ValueReader::resolve(const std::string& path) const {
  if (base_directory_.empty() || std::filesystem::path(path).is_absolute()) return path;
  auto resolved = (base_directory_ / path).lexically_normal();
  // "a/." normalises to "a/"; keep "a", the form a user would write.
  if (!resolved.has_filename() && resolved.has_parent_path()) resolved = resolved.parent_path();
  return resolved.string();
}

}  // namespace config_reading
ARM_END_NAMESPACE
