// locate_in_file: errors found after loading (a socket that could not be opened) pointed back at
// the file and line of the key they are about, as errors found while loading are.
#include <charconv>

#include "arm/config.hpp"
#include "read_file_posix.hpp"
#include "service_key.hpp"

ARM_BEGIN_NAMESPACE

namespace config_reading {

toml::node_view<const toml::node> service_table(const toml::table& root, std::string_view name) {
  // Step by step: a service name may contain '.', which at_path would split.
  auto services = root["services"];
  if (auto written = services[name]) return written;
  // An instance's name is its template's ("worker@") and the instance's, which holds no '@'.
  auto at = name.rfind('@');
  if (at == std::string_view::npos || at + 1 == name.size()) return {};
  auto written = services[name.substr(0, at + 1)];
  if (const toml::table* table = written.as_table(); table && table->contains("instances"))
    return written;
  return {};
}

const toml::node* find_service_key(const toml::table& root, std::string_view key) {
  constexpr std::string_view services = "services.";
  if (!key.starts_with(services)) return nullptr;
  key.remove_prefix(services.size());
  auto dot = key.rfind('.');
  if (dot == std::string_view::npos) return nullptr;
  std::string name(key.substr(0, dot));
  std::string_view field = key.substr(dot + 1);
  std::optional<std::size_t> index;
  if (auto open = field.find('['); open != std::string_view::npos && field.ends_with(']')) {
    std::size_t number = 0;
    auto digits = field.substr(open + 1, field.size() - open - 2);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (error != std::errc() || end != digits.data() + digits.size()) return nullptr;
    index = number;
    field = field.substr(0, open);
  }
  auto node = service_table(root, name)[field];
  return index ? node[*index].node() : node.node();
}

}  // namespace config_reading

void locate_in_file(const std::filesystem::path& path, std::vector<Error>& errors) {
  std::optional<toml::table> root;
  for (Error& error : errors) {
    if (!error.file.empty()) continue;
    error.file = path.string();
    if (!root) root = config_detail::reread_for_positions(path);
    const toml::node* node = root ? config_reading::find_service_key(*root, error.key) : nullptr;
    if (!node) continue;
    error.line = static_cast<int>(node->source().begin.line);
    error.column = static_cast<int>(node->source().begin.column);
  }
}

ARM_END_NAMESPACE
