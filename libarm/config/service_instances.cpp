#include "service_instances.hpp"

#include <fmt/format.h>

#include <set>

#include "service_table.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

constexpr std::string_view placeholder = "{instance}";

void replace_placeholder(std::string& text, std::string_view instance) {
  for (auto at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + instance.size()))
    text.replace(at, placeholder.size(), instance);
}

void substitute(toml::node& node, std::string_view instance) {
  if (auto* text = node.as_string()) {
    replace_placeholder(text->get(), instance);
  } else if (auto* table = node.as_table()) {
    for (auto&& [key, value] : *table) substitute(value, instance);
  } else if (auto* array = node.as_array()) {
    for (auto& element : *array) substitute(element, instance);
  }
}

// Letters, digits and _ . - : what a service name allows, without the '@' that separates the
// instance from its template.
bool is_valid_instance_name(std::string_view name) {
  return !name.empty() && name.find('@') == std::string_view::npos && is_valid_service_name(name);
}

}  // namespace

bool is_template_name(std::string_view name) {
  return name.ends_with('@');
}

Read<std::vector<std::string>> read_instance_names(const ValueReader& reader,
                                                   const toml::table& service,
                                                   const std::string& path) {
  std::string key = path + ".instances";
  const toml::node* node = service.get("instances");
  if (!node)
    return Failure(reader.error_at(
        service, path,
        "a template service (a name ending in '@') needs `instances`: a number, or a list of "
        "instance names"));
  std::vector<std::string> names;
  if (auto count = node->value_exact<std::int64_t>()) {
    if (*count < 1 || static_cast<std::uint64_t>(*count) > max_instances)
      return Failure(reader.error_at(*node, key, fmt::format("expected 1 to {}", max_instances)));
    for (std::int64_t i = 1; i <= *count; ++i) names.push_back(std::to_string(i));
    return names;
  }
  const toml::array* array = node->as_array();
  if (!array) return Failure(reader.wrong_type(*node, key, "an integer or an array of strings"));
  if (array->empty() || array->size() > max_instances)
    return Failure(
        reader.error_at(*node, key, fmt::format("expected 1 to {} names", max_instances)));
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < array->size(); ++i) {
    std::string element_key = fmt::format("{}[{}]", key, i);
    auto name = reader.string(*array->get(i), element_key);
    if (!name) return Failure(name.error());
    if (!is_valid_instance_name(*name))
      return Failure(reader.error_at(*array->get(i), element_key,
                                     "instance names may only contain letters, digits and _ . -"));
    if (!seen.insert(*name).second)
      return Failure(
          reader.error_at(*array->get(i), element_key, fmt::format("'{}' is listed twice", *name)));
    names.push_back(std::move(*name));
  }
  return names;
}

toml::table instantiate(const toml::table& service, std::string_view instance) {
  toml::table copy = service;
  copy.erase("instances");
  for (auto&& [key, value] : copy) substitute(value, instance);
  return copy;
}

}  // namespace config_reading
ARM_END_NAMESPACE
