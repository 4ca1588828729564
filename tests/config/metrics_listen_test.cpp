// `[arm] metrics_listen`: the addresses it takes, the errors it gives (file:line:key), and the
// warning --check-config gives for an address other hosts can reach.
#include <doctest/doctest.h>

#include <fstream>

#include "arm/config.hpp"
#include "temporary_directory.hpp"

using namespace arm;

TEST_CASE("metrics_listen takes an IPv4 address and port, or a bracketed IPv6 one") {
  auto config = parse_config("[arm]\nmetrics_listen = \"127.0.0.1:9321\"\n", "t.toml");
  REQUIRE(config);
  REQUIRE(config->arm.metrics_listen);
  CHECK(config->arm.metrics_listen->host == "127.0.0.1");
  CHECK(config->arm.metrics_listen->port == 9321);
  CHECK_FALSE(config->arm.metrics_listen->ipv6);

  auto v6 = parse_config("[arm]\nmetrics_listen = \"[::1]:80\"\n", "t.toml");
  REQUIRE(v6);
  CHECK(v6->arm.metrics_listen == ListenAddress{"::1", 80, true});
  CHECK(to_string(*v6->arm.metrics_listen) == "[::1]:80");

  auto absent = parse_config("[arm]\n", "t.toml");
  REQUIRE(absent);
  CHECK_FALSE(absent->arm.metrics_listen);
}

TEST_CASE("a metrics_listen that is not ADDRESS:PORT is refused at its line, saying why") {
  struct Case {
    const char* value;
    const char* words;
  };
  for (const Case& bad :
       {Case{"localhost:9321", "not an IPv4 address (names are not looked up)"},
        Case{"127.0.0.1", "expected \"ADDRESS:PORT\""},
        Case{"127.0.0.1:0", "from 1 to 65535, not '0'"}, Case{"127.0.0.1:65536", "from 1 to 65535"},
        Case{"127.0.0.1:http", "from 1 to 65535, not 'http'"}, Case{"::1:9321", "in brackets"},
        Case{"[::1]9321", "[IPv6]:PORT"}, Case{"[127.0.0.1]:9321", "not an IPv6 address"},
        // armd's IPv6 listener is IPv6-only: it could not bind this one (EINVAL) at start.
        Case{"[::ffff:127.0.0.1]:9321", "IPv4-mapped: write it as \"127.0.0.1:9321\""}}) {
    CAPTURE(bad.value);
    auto config =
        parse_config(std::string("[arm]\n\nmetrics_listen = \"") + bad.value + "\"\n", "t.toml");
    REQUIRE_FALSE(config);
    CAPTURE(config.error().to_string());
    CHECK(config.error().key == "arm.metrics_listen");
    CHECK(config.error().line == 3);
    CHECK(config.error().message.find(bad.words) != std::string::npos);
  }
  auto number = parse_config("[arm]\nmetrics_listen = 9321\n", "t.toml");
  REQUIRE_FALSE(number);
  CHECK(number.error().message.find("expected a string") != std::string::npos);
}

TEST_CASE("loopback is 127.0.0.0/8 and ::1, nothing else") {
  CHECK(is_loopback({"127.0.0.1", 1, false}));
  CHECK(is_loopback({"127.1.2.3", 1, false}));
  CHECK(is_loopback({"::1", 1, true}));
  CHECK_FALSE(is_loopback({"0.0.0.0", 1, false}));
  CHECK_FALSE(is_loopback({"10.0.0.1", 1, false}));
  CHECK_FALSE(is_loopback({"::", 1, true}));
  CHECK_FALSE(is_loopback({"::ffff:127.0.0.1", 1, true}));
}

TEST_CASE("--check-config warns of metrics served to other hosts, at the key's line") {
  TemporaryDirectory directory;
  auto path = directory.path() / "armd.toml";
  auto write = [&](std::string_view text) { std::ofstream(path) << text; };

  write("[arm]\nsocket = \"/tmp/x.sock\"\nmetrics_listen = \"0.0.0.0:9321\"\n");
  auto exposed = load_config_file(path);
  REQUIRE(exposed);
  auto warnings = find_exposed_metrics(path, *exposed);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].line == 3);
  CHECK(warnings[0].key == "arm.metrics_listen");
  CHECK(warnings[0].message.find("0.0.0.0:9321 is not a loopback address") != std::string::npos);

  write("[arm]\nmetrics_listen = \"127.0.0.1:9321\"\n");
  auto local = load_config_file(path);
  REQUIRE(local);
  CHECK(find_exposed_metrics(path, *local).empty());
}
