#include "dependency_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "key_suggestion.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

struct Edge {
  std::size_t to;
  const char* list;
  std::size_t index;
};

// A name an edge refers to that is no configured service (the first in name order, depends_on
// before wants), with a guess at what was meant.
std::optional<BadEdge> find_unknown_name(
    const Config& config, const std::unordered_map<std::string_view, std::size_t>& number,
    std::span<const std::string_view> names) {
  for (const auto& [name, spec] : config.services) {
    for (const char* list : {"depends_on", "wants"}) {
      const auto& targets = list[0] == 'd' ? spec.depends_on : spec.wants;
      for (std::size_t i = 0; i < targets.size(); ++i) {
        if (number.contains(targets[i])) continue;
        std::string message = fmt::format("'{}' is not a configured service", targets[i]);
        std::string_view guess = closest_name(targets[i], names);
        if (!guess.empty()) message += fmt::format(" (did you mean '{}'?)", guess);
        return BadEdge{name, list, i, std::move(message)};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<BadEdge> find_bad_edge(const Config& config) {
  // Most configurations have no edges at all: nothing to number then.
  if (std::ranges::none_of(config.services, [](const auto& entry) {
        return !entry.second.depends_on.empty() || !entry.second.wants.empty();
      }))
    return std::nullopt;
  // Number the services in name order and list each one's edges, depends_on first. Names come
  // from the map's keys, not spec.name: in a Config built in code the two could differ, and the
  // key is what the edges refer to. Every edge's name is looked up in the hash index, not the
  // ordered map (thousands of services with a few edges each: issue 9's core benchmark).
  std::vector<const ServiceSpec*> specs;
  std::vector<std::string_view> names;
  std::unordered_map<std::string_view, std::size_t> number;
  specs.reserve(config.services.size());
  names.reserve(config.services.size());
  number.reserve(config.services.size());
  for (const auto& [name, spec] : config.services) {
    number.emplace(name, specs.size());
    specs.push_back(&spec);
    names.push_back(name);
  }
  if (auto unknown = find_unknown_name(config, number, names)) return unknown;
  std::vector<std::vector<Edge>> edges(specs.size());
  for (std::size_t from = 0; from < specs.size(); ++from) {
    for (const char* list : {"depends_on", "wants"}) {
      const auto& targets = list[0] == 'd' ? specs[from]->depends_on : specs[from]->wants;
      for (std::size_t i = 0; i < targets.size(); ++i)
        edges[from].push_back({number.at(targets[i]), list, i});
    }
  }

  // Depth-first search with an explicit stack; reaching a service that is still on the stack
  // closes a cycle, which is the stack from there on.
  enum class Mark { unvisited, on_stack, done };
  std::vector<Mark> marks(specs.size(), Mark::unvisited);
  struct Frame {
    std::size_t service;
    std::size_t next_edge;
  };
  std::vector<Frame> stack;
  for (std::size_t root = 0; root < specs.size(); ++root) {
    if (marks[root] != Mark::unvisited) continue;
    stack.push_back({root, 0});
    marks[root] = Mark::on_stack;
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (frame.next_edge == edges[frame.service].size()) {
        marks[frame.service] = Mark::done;
        stack.pop_back();
        continue;
      }
      const Edge& edge = edges[frame.service][frame.next_edge++];
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
        if (in_cycle) path += fmt::format("{} -> ", names[on_path.service]);
      }
      path += names[edge.to];
      return BadEdge{std::string(names[frame.service]), edge.list, edge.index,
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
