#include "dependency_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <string_view>
#include <vector>

#include "../core/name_index.hpp"
#include "key_suggestion.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

// A configured service as the check sees it: the map's key, not spec.name (in a Config built in
// code the two could differ, and the key is what the edges refer to). Its number is its place
// in name order.
struct Node {
  std::string_view key;
  const ServiceSpec* spec;
  std::string_view name() const { return key; }
};

struct Edge {
  std::size_t to;
  const char* list;
  std::size_t index;
};

// An edge whose name is no configured service, with a guess at what was meant.
BadEdge unknown_name(std::span<const Node> nodes, const Node& from, const char* list,
                     std::size_t index, std::string_view target) {
  std::vector<std::string_view> names;
  names.reserve(nodes.size());
  for (const Node& known : nodes) names.push_back(known.key);
  std::string message = fmt::format("'{}' is not a configured service", target);
  std::string_view guess = closest_name(target, names);
  if (!guess.empty()) message += fmt::format(" (did you mean '{}'?)", guess);
  return BadEdge{std::string(from.key), list, index, std::move(message)};
}

}  // namespace

std::optional<BadEdge> find_bad_edge(const Config& config) {
  // Most configurations have no edges at all: nothing to number then.
  if (std::ranges::none_of(config.services, [](const auto& entry) {
        return !entry.second.depends_on.empty() || !entry.second.wants.empty();
      }))
    return std::nullopt;
  // Number the services in name order and list each one's edges, depends_on first, in one
  // array (`first_edge[n]` is where service n's begin). A supervisor checks its configuration
  // each time one is built: a fixed handful of allocations, not a node or a list per service
  // (issue 9's core benchmark builds thousands of services with a few edges each).
  std::vector<Node> nodes;
  nodes.reserve(config.services.size());
  for (const auto& [name, spec] : config.services) nodes.push_back({name, &spec});
  detail::NameIndex<const Node> index;
  index.reserve(nodes.size());
  for (const Node& node : nodes) index.insert(&node);
  std::vector<Edge> edges;
  std::size_t edge_total = 0;
  for (const Node& node : nodes)
    edge_total += node.spec->depends_on.size() + node.spec->wants.size();
  edges.reserve(edge_total);
  std::vector<std::size_t> first_edge;
  first_edge.reserve(nodes.size() + 1);
  // In name order, depends_on before wants: the first unknown name found is the first reported.
  for (const Node& node : nodes) {
    first_edge.push_back(edges.size());
    for (const char* list : {"depends_on", "wants"}) {
      const auto& targets = list[0] == 'd' ? node.spec->depends_on : node.spec->wants;
      for (std::size_t i = 0; i < targets.size(); ++i) {
        const Node* to = index.find(targets[i]);
        if (!to) return unknown_name(nodes, node, list, i, targets[i]);
        edges.push_back({static_cast<std::size_t>(to - nodes.data()), list, i});
      }
    }
  }
  first_edge.push_back(edges.size());
  auto edge_count = [&](std::size_t service) {
    return first_edge[service + 1] - first_edge[service];
  };

  // Depth-first search with an explicit stack; reaching a service that is still on the stack
  // closes a cycle, which is the stack from there on.
  enum class Mark { unvisited, on_stack, done };
  std::vector<Mark> marks(nodes.size(), Mark::unvisited);
  struct Frame {
    std::size_t service;
    std::size_t next_edge;
  };
  std::vector<Frame> stack;
  for (std::size_t root = 0; root < nodes.size(); ++root) {
    if (marks[root] != Mark::unvisited) continue;
    stack.push_back({root, 0});
    marks[root] = Mark::on_stack;
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (frame.next_edge == edge_count(frame.service)) {
        marks[frame.service] = Mark::done;
        stack.pop_back();
        continue;
      }
      const Edge& edge = edges[first_edge[frame.service] + frame.next_edge++];
      if (marks[edge.to] == Mark::done) continue;
      if (marks[edge.to] == Mark::unvisited) {
        marks[edge.to] = Mark::on_stack;
        stack.push_back({edge.to, 0});
        continue;
      }
      std::string path;
      bool in_cycle = false;
      for (const Frame& on_path : stack) {
        if (on_path.service == edge.to) in_cycle = true;
        if (in_cycle) path += fmt::format("{} -> ", nodes[on_path.service].key);
      }
      path += nodes[edge.to].key;
      return BadEdge{std::string(nodes[frame.service].key), edge.list, edge.index,
                     "dependency cycle: " + path};
    }
  }
  return std::nullopt;
}

}  // namespace config_reading
ARM_END_NAMESPACE

ARM_BEGIN_NAMESPACE

std::expected<void, ConfigError> check_dependencies(const Config& config) {
  auto bad = config_reading::find_bad_edge(config);
  if (!bad) return {};
  return std::unexpected(
      Error::at("", 0, 0, fmt::format("services.{}.{}[{}]", bad->service, bad->list, bad->index),
                bad->message));
}

ARM_END_NAMESPACE
