#include "armctl_graph.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace armctl {

namespace {

using nlohmann::json;

struct Node {
  std::string name;
  std::string state;
  std::vector<std::string> depends_on;
  std::vector<std::string> wants;
};

std::vector<std::string> names_in(const json& service, const char* key) {
  std::vector<std::string> names;
  auto it = service.find(key);
  if (it == service.end() || !it->is_array()) return names;
  for (const json& name : *it)
    if (name.is_string()) names.push_back(name.get<std::string>());
  return names;
}

// What the reply says, sorted by name; anything malformed is skipped rather than trusted.
std::vector<Node> nodes_of(const json& services) {
  std::vector<Node> nodes;
  if (!services.is_array()) return nodes;
  for (const json& service : services) {
    if (!service.is_object()) continue;
    auto name = service.find("name");
    if (name == service.end() || !name->is_string()) continue;
    auto state = service.find("state");
    nodes.push_back({name->get<std::string>(),
                     state != service.end() && state->is_string() ? state->get<std::string>() : "?",
                     names_in(service, "depends_on"), names_in(service, "wants")});
  }
  std::ranges::sort(nodes, {}, &Node::name);
  return nodes;
}

// Text inside a Graphviz double-quoted ID: only '"' and '\' need escaping there.
std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string dot_id(std::string_view text) {
  return '"' + escaped(text) + '"';
}

}  // namespace

std::string format_graph_text(const json& services) {
  std::string out;
  for (const Node& node : nodes_of(services)) {
    out += fmt::format("{} ({})", node.name, node.state);
    if (!node.depends_on.empty()) out += fmt::format(" -> {}", fmt::join(node.depends_on, ", "));
    if (!node.wants.empty()) {
      out += node.depends_on.empty() ? " ->" : ";";
      out += fmt::format(" wants {}", fmt::join(node.wants, ", "));
    }
    out += '\n';
  }
  return out;
}

std::string format_graph_dot(const json& services) {
  auto nodes = nodes_of(services);
  std::string out = "digraph arm {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const Node& node : nodes)
    out += fmt::format("  {} [label=\"{}\\n{}\"];\n", dot_id(node.name), escaped(node.name),
                       escaped(node.state));
  for (const Node& node : nodes) {
    for (const auto& dependency : node.depends_on)
      out += fmt::format("  {} -> {};\n", dot_id(node.name), dot_id(dependency));
    for (const auto& wanted : node.wants)
      out += fmt::format("  {} -> {} [style=dashed];\n", dot_id(node.name), dot_id(wanted));
  }
  return out + "}\n";
}

}  // namespace armctl
