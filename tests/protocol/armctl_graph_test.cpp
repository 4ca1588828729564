// `armctl graph`: the dependency graph as text and as Graphviz.
#include <doctest/doctest.h>

#include "client/armctl_graph.hpp"

using armctl::format_graph_dot;
using armctl::format_graph_text;
using nlohmann::json;

namespace {
const json services = json::parse(R"([
  {"name":"web","state":"running","depends_on":["db","cache"],"wants":["metrics"]},
  {"name":"db","state":"backoff","depends_on":[],"wants":[]},
  {"name":"metrics","state":"running","depends_on":[],"wants":[]},
  {"name":"cache","state":"running","depends_on":["db"],"wants":[]},
  {"name":"solo","state":"stopped","depends_on":[],"wants":["metrics"]}])");
}  // namespace

TEST_CASE("the text graph has one line per service, by name, with its edges") {
  CHECK(format_graph_text(services) ==
        "cache (running) -> db\n"
        "db (backoff)\n"
        "metrics (running)\n"
        "solo (stopped) -> wants metrics\n"
        "web (running) -> db, cache; wants metrics\n");
}

TEST_CASE("the dot graph has every service as a node, hard edges solid, soft ones dashed") {
  CHECK(format_graph_dot(services) ==
        "digraph arm {\n"
        "  rankdir=LR;\n"
        "  node [shape=box];\n"
        "  \"cache\" [label=\"cache\\nrunning\"];\n"
        "  \"db\" [label=\"db\\nbackoff\"];\n"
        "  \"metrics\" [label=\"metrics\\nrunning\"];\n"
        "  \"solo\" [label=\"solo\\nstopped\"];\n"
        "  \"web\" [label=\"web\\nrunning\"];\n"
        "  \"cache\" -> \"db\";\n"
        "  \"solo\" -> \"metrics\" [style=dashed];\n"
        "  \"web\" -> \"db\";\n"
        "  \"web\" -> \"cache\";\n"
        "  \"web\" -> \"metrics\" [style=dashed];\n"
        "}\n");
}

TEST_CASE("names are quoted for Graphviz, and malformed entries are skipped") {
  auto odd = json::parse(R"([{"name":"a\"b","state":"running","depends_on":["c\\d"]},
                              {"state":"running"}, 7, {"name":"e","depends_on":"x"}])");
  auto dot = format_graph_dot(odd);
  CHECK(dot.find(R"("a\"b" -> "c\\d";)") != std::string::npos);
  CHECK(format_graph_text(odd) == "a\"b (running) -> c\\d\ne (?)\n");
}
