// `armctl graph`: the dependency graph of the services in a status reply, as text for a
// terminal or as Graphviz (`--dot`). Pure formatting, tested apart from the socket.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace armctl {

// One line per service, by name: "web (running) -> db, cache; wants metrics". A service with
// no dependencies is its name and state alone. Every line ends with '\n'.
std::string format_graph_text(const nlohmann::json& services);

// A Graphviz digraph: every service a node labelled with its state, a solid edge per hard
// dependency (dependent -> dependency), a dashed one per soft dependency.
std::string format_graph_dot(const nlohmann::json& services);

}  // namespace armctl
