// depends_on, wants and restart_with_dependencies: how they are read, and the graph checks
// (unknown names, cycles) with the position of the edge at fault.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "arm/config.hpp"

using namespace arm;

namespace {

ConfigError error_of(std::string_view text) {
  auto config = parse_config(text, "test.toml");
  REQUIRE_FALSE(config);
  return config.error();
}

constexpr std::string_view three = R"([services.a]
binary = "/a"
depends_on = ["b"]
[services.b]
binary = "/b"
depends_on = ["c"]
[services.c]
binary = "/c"
depends_on = ["a"]
)";

std::string service_name(int number) {
  return fmt::format("s{:05}", number);
}

ServiceSpec service(std::string name) {
  ServiceSpec spec;
  spec.name = std::move(name);
  spec.binary = "/bin/x";
  return spec;
}

// s00000 depends on s00001, which depends on s00002 ... up to s{count-1}: a graph as deep as
// it is long.
Config chain(int count) {
  Config config;
  for (int i = 0; i < count; ++i) {
    ServiceSpec spec = service(service_name(i));
    if (i + 1 < count) spec.depends_on = {service_name(i + 1)};
    config.services.emplace(spec.name, spec);
  }
  return config;
}

// `edge_count` distinct edges, each from a service to one later in name order (so there is no
// cycle), alternately hard and soft. A fixed linear congruential generator, not
// std::uniform_int_distribution, whose output differs between standard libraries.
Config random_dag(int service_count, int edge_count) {
  Config config;
  for (int i = 0; i < service_count; ++i) {
    ServiceSpec spec = service(service_name(i));
    config.services.emplace(spec.name, spec);
  }
  std::uint64_t state = 20'240'601;
  auto next = [&state](std::uint64_t below) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % below;
  };
  std::set<std::pair<int, int>> edges;
  while (static_cast<int>(edges.size()) < edge_count) {
    int from = static_cast<int>(next(service_count - 1));
    int to = from + 1 + static_cast<int>(next(service_count - from - 1));
    if (!edges.emplace(from, to).second) continue;
    ServiceSpec& spec = config.services.at(service_name(from));
    (edges.size() % 2 ? spec.depends_on : spec.wants).push_back(service_name(to));
  }
  return config;
}

// The services' tables as TOML, three or more lines each, for the loader's side of the checks.
std::string to_toml(const Config& config) {
  auto quoted = [](const std::vector<std::string>& names) {
    std::string list;
    for (const auto& name : names) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", name);
    return "[" + list + "]";
  };
  std::string text;
  for (const auto& [name, spec] : config.services) {
    text += fmt::format("[services.{}]\nbinary = \"{}\"\n", name, spec.binary);
    if (!spec.depends_on.empty()) text += "depends_on = " + quoted(spec.depends_on) + "\n";
    if (!spec.wants.empty()) text += "wants = " + quoted(spec.wants) + "\n";
  }
  return text;
}

// "dependency cycle: a -> b -> a" is a cycle of the configuration: it ends where it began and
// each step is an edge.
void check_is_cycle(const Config& config, std::string_view message) {
  constexpr std::string_view prefix = "dependency cycle: ";
  REQUIRE(message.starts_with(prefix));
  message.remove_prefix(prefix.size());
  std::vector<std::string> steps;
  for (std::size_t arrow; (arrow = message.find(" -> ")) != std::string_view::npos;) {
    steps.emplace_back(message.substr(0, arrow));
    message.remove_prefix(arrow + 4);
  }
  steps.emplace_back(message);
  REQUIRE(steps.size() >= 2);
  CHECK(steps.front() == steps.back());
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
    const ServiceSpec& from = config.services.at(steps[i]);
    bool is_edge = std::ranges::find(from.depends_on, steps[i + 1]) != from.depends_on.end() ||
                   std::ranges::find(from.wants, steps[i + 1]) != from.wants.end();
    CAPTURE(steps[i]);
    CHECK(is_edge);
  }
}

}  // namespace

TEST_CASE("the dependency keys are read, with their defaults") {
  auto config = parse_config(R"([services.web]
binary = "/web"
depends_on = ["db", "cache"]
wants = ["metrics"]
restart_with_dependencies = false
[services.db]
binary = "/db"
[services.cache]
binary = "/cache"
[services.metrics]
binary = "/metrics"
)",
                             "test.toml");
  REQUIRE(config);
  const ServiceSpec& web = config->services.at("web");
  CHECK(web.depends_on == std::vector<std::string>{"db", "cache"});
  CHECK(web.wants == std::vector<std::string>{"metrics"});
  CHECK_FALSE(web.restart_with_dependencies);
  const ServiceSpec& db = config->services.at("db");
  CHECK(db.depends_on.empty());
  CHECK(db.wants.empty());
  CHECK(db.restart_with_dependencies);
}

TEST_CASE("a cycle is refused, printed in order, at the edge that closes it") {
  auto error = error_of(three);
  CHECK(error.to_string() ==
        "test.toml:9:15: services.c.depends_on[0]: dependency cycle: a -> b -> c -> a");
}

TEST_CASE("wants edges count for cycles too") {
  auto error = error_of(R"([services.a]
binary = "/a"
wants = ["b"]
[services.b]
binary = "/b"
depends_on = ["a"]
)");
  CHECK(error.key == "services.b.depends_on[0]");
  CHECK(error.line == 6);
  CHECK(error.message == "dependency cycle: a -> b -> a");
}

TEST_CASE("an unknown name is refused where it is written, with a guess") {
  auto error = error_of(R"([services.web]
binary = "/web"
depends_on = ["db", "cahce"]
[services.db]
binary = "/db"
[services.cache]
binary = "/cache"
)");
  CHECK(error.to_string() ==
        "test.toml:3:21: services.web.depends_on[1]: 'cahce' is not a "
        "configured service (did you mean 'cache'?)");
}

TEST_CASE("bad lists are refused with the element at fault") {
  struct Case {
    std::string_view lines;
    std::string_view error;
  };
  for (const auto& c : {
           Case{"depends_on = \"db\"",
                "test.toml:3:14: services.web.depends_on: expected an array of service names, "
                "got string"},
           Case{"depends_on = [1]",
                "test.toml:3:15: services.web.depends_on[0]: expected a string, got integer"},
           Case{"depends_on = [\"web\"]",
                "test.toml:3:15: services.web.depends_on[0]: web cannot depend on itself"},
           Case{"wants = [\"web\"]",
                "test.toml:3:10: services.web.wants[0]: web cannot depend on itself"},
           Case{"wants = [\"db\", \"db\"]",
                "test.toml:3:16: services.web.wants[1]: 'db' is listed twice"},
           Case{"depends_on = [\"a b\"]",
                "test.toml:3:15: services.web.depends_on[0]: 'a b' is not a valid service name"},
           Case{"depends_on = [\"db\"]\nwants = [\"db\"]",
                "test.toml:4:10: services.web.wants[0]: 'db' is already in depends_on"},
           Case{"restart_with_dependencies = \"yes\"",
                "test.toml:3:29: services.web.restart_with_dependencies: expected true or false, "
                "got string"},
       }) {
    std::string text = fmt::format(
        "[services.web]\nbinary = \"/web\"\n{}\n[services.db]\nbinary = \"/db\"\n", c.lines);
    CAPTURE(text);
    CHECK(error_of(text).to_string() == c.error);
  }
}

TEST_CASE("of two cycles, the one met first in name order is reported") {
  auto error = error_of(R"([services.x]
binary = "/x"
depends_on = ["y"]
[services.y]
binary = "/y"
depends_on = ["x"]
[services.b]
binary = "/b"
wants = ["c"]
[services.c]
binary = "/c"
wants = ["b"]
)");
  CHECK(error.to_string() == "test.toml:12:10: services.c.wants[0]: dependency cycle: b -> c -> b");
}

TEST_CASE("check_dependencies checks a configuration built in code") {
  Config config;
  auto add = [&](std::string name, std::vector<std::string> depends_on) {
    ServiceSpec spec;
    spec.name = name;
    spec.binary = "/bin/" + name;
    spec.depends_on = std::move(depends_on);
    config.services.emplace(name, spec);
  };
  add("a", {"b"});
  add("b", {});
  CHECK(check_dependencies(config));
  config.services.at("b").depends_on = {"a"};
  auto cycle = check_dependencies(config);
  REQUIRE_FALSE(cycle);
  CHECK(cycle.error().message == "dependency cycle: a -> b -> a");
  CHECK(cycle.error().key == "services.b.depends_on[0]");
  CHECK(cycle.error().line == 0);
  config.services.at("b").depends_on = {"zz"};
  CHECK(check_dependencies(config).error().message == "'zz' is not a configured service");
}

TEST_CASE("check_dependencies refuses a service that wants itself") {
  Config config;
  ServiceSpec web = service("web");
  web.wants = {"web"};
  config.services.emplace("web", web);
  auto error = check_dependencies(config);
  REQUIRE_FALSE(error);
  CHECK(error.error().key == "services.web.wants[0]");
  CHECK(error.error().message == "dependency cycle: web -> web");
}

TEST_CASE("check_dependencies guesses at a misspelt name") {
  Config config;
  ServiceSpec web = service("web");
  web.wants = {"db", "metrcs"};
  config.services.emplace("web", web);
  config.services.emplace("db", service("db"));
  config.services.emplace("metrics", service("metrics"));
  auto error = check_dependencies(config);
  REQUIRE_FALSE(error);
  CHECK(error.error().file.empty());
  CHECK(error.error().line == 0);
  CHECK(error.error().key == "services.web.wants[1]");
  CHECK(error.error().message == "'metrcs' is not a configured service (did you mean 'metrics'?)");
}

TEST_CASE("a 10,000-service chain is checked without recursion, and a ring is found") {
  Config config = chain(10'000);
  CHECK(check_dependencies(config));
  config.services.at("s09999").depends_on = {"s00000"};
  auto cycle = check_dependencies(config);
  REQUIRE_FALSE(cycle);
  CHECK(cycle.error().key == "services.s09999.depends_on[0]");
  CHECK(cycle.error().message.starts_with("dependency cycle: s00000 -> s00001 -> "));
  CHECK(cycle.error().message.ends_with(" -> s09998 -> s09999 -> s00000"));
  check_is_cycle(config, cycle.error().message);
}

TEST_CASE("the loader finds the ring closing a 10,000-service chain, at its line") {
  Config config = chain(10'000);
  auto loaded = parse_config(to_toml(config), "test.toml");
  REQUIRE(loaded);
  CHECK(*loaded == config);

  config.services.at("s09999").depends_on = {"s00000"};
  auto error = error_of(to_toml(config));
  // Three lines per service: s09999's depends_on is the file's line 30,000.
  CHECK(error.line == 30'000);
  CHECK(error.column == 15);
  CHECK(error.key == "services.s09999.depends_on[0]");
  CHECK(error.message.ends_with(" -> s09999 -> s00000"));
}

TEST_CASE("a random DAG of 10,000 services and 50,000 edges passes") {
  Config config = random_dag(10'000, 50'000);
  std::size_t edges = 0;
  for (const auto& [name, spec] : config.services)
    edges += spec.depends_on.size() + spec.wants.size();
  REQUIRE(edges == 50'000);
  CHECK(check_dependencies(config));
  CHECK(parse_config(to_toml(config), "test.toml"));
}

TEST_CASE("one edge pointing back in a random DAG makes a cycle that is found and printed") {
  Config config = random_dag(10'000, 50'000);
  // Some service that s00000 reaches; an edge from it back to s00000 closes a cycle.
  std::string reached = config.services.at("s00000").depends_on.empty()
                            ? config.services.at("s00000").wants.front()
                            : config.services.at("s00000").depends_on.front();
  while (!config.services.at(reached).depends_on.empty())
    reached = config.services.at(reached).depends_on.back();
  config.services.at(reached).wants.push_back("s00000");

  auto error = check_dependencies(config);
  REQUIRE_FALSE(error);
  CHECK(error.error().key.starts_with("services."));
  check_is_cycle(config, error.error().message);
  auto located = error_of(to_toml(config));
  CHECK(located.message == error.error().message);
  CHECK(located.key == error.error().key);
  CHECK(located.line > 0);
}
