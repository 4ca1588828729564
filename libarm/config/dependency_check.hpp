// The dependency graph of a configuration: unknown names and cycles, found in O(services +
// edges) without recursion (a chain of ten thousand services must not exhaust the stack).
//
// The check only says which edge is wrong and why; callers say where: the loader points at the
// array element in the file, check_dependencies() (for configs built in code) cannot.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

struct BadEdge {
  std::string service;  // whose list holds it
  std::string list;     // "depends_on" or "wants"
  std::size_t index = 0;
  std::string message;  // "'dbb' is not a configured service (did you mean 'db'?)", or
                        // "dependency cycle: a -> b -> a"
};

// The first bad edge with services visited in name order and edges in listed order
// (depends_on before wants), so the same configuration always gets the same message.
std::optional<BadEdge> find_bad_edge(const Config& config);

}  // namespace config_reading
ARM_END_NAMESPACE
