// The health keys (issue 13): a `health` table with exactly one probe (exec, tcp, http) and its
// timing, and `on_unhealthy`; what they refuse is refused at file:line:key, saying what is allowed.
#include <doctest/doctest.h>

#include "arm/config.hpp"
#include "service_keys.hpp"

using namespace arm;
using namespace std::chrono_literals;

using test::check_refused;
using test::read_service;

TEST_CASE("without `health` a service is not probed") {
  CHECK_FALSE(read_service("").health);
}

TEST_CASE("a tcp probe with the defaults: every 10 s, 5 s to answer, unhealthy after 3") {
  ServiceSpec a = read_service("health = { tcp = \"127.0.0.1:5432\" }\n");
  REQUIRE(a.health);
  CHECK(a.health->kind == HealthCheck::Kind::tcp);
  CHECK(a.health->address == ListenAddress{"127.0.0.1", 5432, false});
  CHECK(a.health->interval == 10s);
  CHECK(a.health->timeout == 5s);
  CHECK(a.health->failures == 3);
  CHECK(a.health->start_period == 0s);
  CHECK(a.health->on_unhealthy == HealthCheck::OnUnhealthy::restart);
  CHECK(describe(*a.health) == "tcp 127.0.0.1:5432");
}

TEST_CASE("every key of the table, in any order, and on_unhealthy before or after it") {
  ServiceSpec a = read_service(
      "on_unhealthy = \"ignore\"\n"
      "health = { interval = \"2s\", timeout = \"500ms\", failures = 5, start_period = \"1m\", "
      "tcp = \"[::1]:80\" }\n");
  REQUIRE(a.health);
  CHECK(a.health->address == ListenAddress{"::1", 80, true});
  CHECK(a.health->interval == 2s);
  CHECK(a.health->timeout == 500ms);
  CHECK(a.health->failures == 5);
  CHECK(a.health->start_period == 60s);
  CHECK(a.health->on_unhealthy == HealthCheck::OnUnhealthy::ignore);
  ServiceSpec b =
      read_service("health = { tcp = \"localhost:6379\" }\non_unhealthy = \"ignore\"\n");
  CHECK(b.health->address == ListenAddress{"127.0.0.1", 6379, false});
  CHECK(b.health->on_unhealthy == HealthCheck::OnUnhealthy::ignore);
}

TEST_CASE("an exec probe is a command, as a string or an array") {
  ServiceSpec a = read_service("health = { exec = \"pg_isready -q\" }\n");
  CHECK(a.health->kind == HealthCheck::Kind::exec);
  CHECK(a.health->command == std::vector<std::string>{"pg_isready", "-q"});
  ServiceSpec b =
      read_service("[services.a.health]\nexec = [\"/bin/sh\", \"-c\", \"test -e /run/x\"]\n");
  CHECK(b.health->command == std::vector<std::string>{"/bin/sh", "-c", "test -e /run/x"});
  CHECK(describe(*b.health) == "exec /bin/sh -c test -e /run/x");
}

TEST_CASE("an http probe: host, port (80 when left out) and path (/ when left out)") {
  ServiceSpec a = read_service("health = { http = \"http://127.0.0.1:8080/healthz?full=1\" }\n");
  CHECK(a.health->kind == HealthCheck::Kind::http);
  CHECK(a.health->address == ListenAddress{"127.0.0.1", 8080, false});
  CHECK(a.health->http_host == "127.0.0.1:8080");
  CHECK(a.health->http_path == "/healthz?full=1");
  ServiceSpec b = read_service("health = { http = \"http://localhost\" }\n");
  CHECK(b.health->address == ListenAddress{"127.0.0.1", 80, false});
  CHECK(b.health->http_host == "localhost");
  CHECK(b.health->http_path == "/");
  ServiceSpec c = read_service("health = { http = \"http://[::1]:9000/\" }\n");
  CHECK(c.health->address == ListenAddress{"::1", 9000, true});
  CHECK(c.health->http_host == "[::1]:9000");
}

TEST_CASE("what the health keys refuse, and where") {
  check_refused("health = \"tcp:80\"\n", "services.a.health", 3, "a table");
  check_refused("health = { interval = \"1s\" }\n", "services.a.health", 3,
                "needs the probe to run");
  check_refused("health = { tcp = \"127.0.0.1:1\", http = \"http://127.0.0.1/\" }\n",
                "services.a.health", 3, "more than one probe");
  check_refused("health = { tcp = \"db.local:5432\" }\n", "services.a.health.tcp", 3,
                "write an IP address or localhost");
  check_refused("health = { tcp = \"127.0.0.1\" }\n", "services.a.health.tcp", 3, "PORT");
  check_refused("health = { http = \"https://127.0.0.1/\" }\n", "services.a.health.http", 3,
                "https is not supported");
  check_refused("health = { http = \"127.0.0.1:80/x\" }\n", "services.a.health.http", 3,
                "expected a URL");
  check_refused("health = { http = \"http://127.0.0.1/a b\" }\n", "services.a.health.http", 3,
                "must not contain spaces");
  check_refused("health = { exec = \"\" }\n", "services.a.health.exec", 3, "");
  check_refused("health = { exec = [] }\n", "services.a.health.exec", 3, "");
  check_refused("health = { tcp = \"127.0.0.1:1\", interval = \"0s\" }\n",
                "services.a.health.interval", 3, "more than 0");
  check_refused("health = { tcp = \"127.0.0.1:1\", failures = 0 }\n", "services.a.health.failures",
                3, "between 1 and 1000");
  check_refused("health = { tcp = \"127.0.0.1:1\", interval = \"1s\", timeout = \"2s\" }\n",
                "services.a.health", 3, "must not be more than interval");
  check_refused("health = { tcp = \"127.0.0.1:1\", intervall = \"1s\" }\n",
                "services.a.health.intervall", 3, "interval");
  check_refused("on_unhealthy = \"restart\"\n", "services.a.on_unhealthy", 3, "needs `health`");
  check_refused("health = { tcp = \"127.0.0.1:1\" }\non_unhealthy = \"stop\"\n",
                "services.a.on_unhealthy", 4, "expected \"restart\" or \"ignore\"");
}

TEST_CASE("check_config refuses a health check built in code that could never run") {
  Config config;
  ServiceSpec spec;
  spec.name = "a";
  spec.binary = "/x";
  HealthCheck check;  // exec, without a command
  check.failures = 0;
  spec.health = check;
  config.services.emplace("a", spec);
  auto checked = check_config(config);
  REQUIRE_FALSE(checked);
  std::string all;
  for (const auto& error : checked.error()) all += error.to_string() + "\n";
  CHECK(all.find("services.a.health.failures") != std::string::npos);
  CHECK(all.find("services.a.health.exec") != std::string::npos);
}
