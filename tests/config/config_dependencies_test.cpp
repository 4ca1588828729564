// depends_on, wants and restart_with_dependencies: how they are read, and the graph checks
// (unknown names, cycles) with the position of the edge at fault.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

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
    std::string_view key;
    std::string_view message;
  };
  for (const auto& c : {
           Case{"depends_on = \"db\"", "services.web.depends_on",
                "expected an array of service names"},
           Case{"depends_on = [1]", "services.web.depends_on[0]", "expected a string"},
           Case{"depends_on = [\"web\"]", "services.web.depends_on[0]",
                "web cannot depend on itself"},
           Case{"wants = [\"db\", \"db\"]", "services.web.wants[1]", "'db' is listed twice"},
           Case{"depends_on = [\"a b\"]", "services.web.depends_on[0]",
                "'a b' is not a valid service name"},
           Case{"depends_on = [\"db\"]\nwants = [\"db\"]", "services.web.wants[0]",
                "'db' is already in depends_on"},
           Case{"restart_with_dependencies = \"yes\"", "services.web.restart_with_dependencies",
                "expected true or false"},
       }) {
    std::string text = fmt::format(
        "[services.web]\nbinary = \"/web\"\n{}\n[services.db]\nbinary = \"/db\"\n", c.lines);
    CAPTURE(text);
    auto error = error_of(text);
    CAPTURE(error.to_string());
    CHECK(error.key == c.key);
    CHECK(error.line >= 3);
    CHECK(error.message.find(c.message) != std::string::npos);
  }
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

TEST_CASE("large graphs are checked without recursion: a 10,000-service chain") {
  Config config;
  constexpr int count = 10'000;
  for (int i = 0; i < count; ++i) {
    ServiceSpec spec;
    spec.name = fmt::format("s{:05}", i);
    spec.binary = "/bin/x";
    if (i + 1 < count) spec.depends_on = {fmt::format("s{:05}", i + 1)};
    config.services.emplace(spec.name, spec);
  }
  CHECK(check_dependencies(config));
  config.services.at("s09999").depends_on = {"s00000"};  // closes the chain into a ring
  auto cycle = check_dependencies(config);
  REQUIRE_FALSE(cycle);
  CHECK(cycle.error().message.starts_with("dependency cycle: s00000 -> s00001 -> "));
  CHECK(cycle.error().message.ends_with("s09999 -> s00000"));
}
