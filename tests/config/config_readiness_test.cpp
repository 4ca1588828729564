// The readiness keys (issue 13): readiness, start_timeout and watchdog are read into their
// fields, and what they refuse is refused at file:line:key, saying what is allowed.
#include <doctest/doctest.h>

#include "arm/config.hpp"
#include "service_keys.hpp"

using namespace arm;
using namespace std::chrono_literals;

using test::check_refused;
using test::read_service;

TEST_CASE("without the keys a service is ready at exec, has 90 s to start and no watchdog") {
  ServiceSpec a = read_service("");
  CHECK(a.readiness == Readiness{});
  CHECK(a.readiness.kind == Readiness::Kind::exec);
  CHECK(a.start_timeout == 90s);
  CHECK_FALSE(a.watchdog);
}

TEST_CASE("each readiness kind is read") {
  CHECK(read_service("readiness = \"exec\"\n").readiness.kind == Readiness::Kind::exec);
  CHECK(read_service("readiness = \"notify\"\n").readiness.kind == Readiness::Kind::notify);
  Readiness fd = read_service("readiness = \"fd:3\"\n").readiness;
  CHECK(fd.kind == Readiness::Kind::fd);
  CHECK(fd.fd == 3);
  CHECK(read_service("readiness = \"fd:1023\"\n").readiness.fd == 1023);
  Readiness after = read_service("readiness = \"after:2s\"\n").readiness;
  CHECK(after.kind == Readiness::Kind::after);
  CHECK(after.after == 2s);
  CHECK(read_service("readiness = \"after:250\"\n").readiness.after == 250ms);
}

TEST_CASE("start_timeout is a duration, 0 meaning no limit; watchdog a duration") {
  CHECK(read_service("start_timeout = \"5m\"\n").start_timeout == 5min);
  CHECK(read_service("start_timeout = 0\n").start_timeout == 0ms);
  ServiceSpec watched = read_service("readiness = \"notify\"\nwatchdog = \"10s\"\n");
  CHECK(watched.watchdog == 10s);
  // The keys may come in any order: the check between them is made once all are read.
  CHECK(read_service("watchdog = 1500\nreadiness = \"notify\"\n").watchdog == 1500ms);
}

TEST_CASE("an unknown readiness is refused, listing what is allowed") {
  check_refused("readiness = \"sd_notify\"\n", "services.a.readiness", 3,
                "'sd_notify': expected \"exec\", \"notify\", \"fd:N\" (N from 3 to 1023) or "
                "\"after:DURATION\"");
  check_refused("readiness = \"Notify\"\n", "services.a.readiness", 3, "expected \"exec\"");
  check_refused("readiness = 3\n", "services.a.readiness", 3, "expected a string, got integer");
}

TEST_CASE("fd: needs a descriptor from 3 to 1023") {
  for (auto bad : {"fd:", "fd:2", "fd:0", "fd:-3", "fd:1024", "fd:3x", "fd: 3", "fd:99999999999"})
    check_refused("readiness = \"" + std::string(bad) + "\"\n", "services.a.readiness", 3,
                  "from 3 to 1023");
}

TEST_CASE("after: needs a duration more than 0, below start_timeout") {
  check_refused("readiness = \"after:soon\"\n", "services.a.readiness", 3,
                "'soon': expected an integer followed by ms, s, m or h");
  check_refused("readiness = \"after:0s\"\n", "services.a.readiness", 3, "must be more than 0");
  check_refused("readiness = \"after:90s\"\n", "services.a.readiness", 3,
                "the delay (90000 ms) must be less than start_timeout (90000 ms; 0 for no limit)");
  check_refused("start_timeout = \"1s\"\n\nreadiness = \"after:2s\"\n", "services.a.readiness", 5,
                "must be less than start_timeout");
  CHECK(read_service("start_timeout = 0\nreadiness = \"after:3h\"\n").readiness.after == 3h);
}

TEST_CASE("a bad start_timeout or watchdog is refused like any duration") {
  check_refused("start_timeout = \"-1s\"\n", "services.a.start_timeout", 3,
                "expected an integer followed by ms, s, m or h");
  check_refused("start_timeout = true\n", "services.a.start_timeout", 3, "got boolean");
  check_refused("readiness = \"notify\"\nwatchdog = \"ten\"\n", "services.a.watchdog", 4, "'ten'");
  check_refused("readiness = \"notify\"\nwatchdog = 0\n", "services.a.watchdog", 4,
                "must be more than 0");
}

TEST_CASE("watchdog without readiness = \"notify\" is refused at the watchdog key") {
  check_refused("watchdog = \"10s\"\n", "services.a.watchdog", 3,
                "needs readiness = \"notify\": only a notify service can send the WATCHDOG=1 "
                "keep-alives");
  check_refused("readiness = \"fd:3\"\nwatchdog = \"10s\"\n", "services.a.watchdog", 4,
                "needs readiness = \"notify\"");
  check_refused("watchdog = \"10s\"\nreadiness = \"after:1s\"\n", "services.a.watchdog", 3,
                "needs readiness = \"notify\"");
}

TEST_CASE("check_config refuses the same mistakes in a configuration built in code") {
  ServiceSpec a;
  a.name = "a";
  a.binary = "/x";
  a.watchdog = Milliseconds(10);  // readiness is exec
  a.start_timeout = Milliseconds(-1);
  ServiceSpec b = a;
  b.name = "b";
  b.watchdog.reset();
  b.start_timeout = 1s;
  b.readiness = {.kind = Readiness::Kind::fd, .fd = 1};
  Config config;
  config.services = {{"a", a}, {"b", b}};
  auto checked = check_config(config);
  REQUIRE_FALSE(checked);
  std::vector<std::string> keys;
  for (const Error& error : checked.error()) keys.push_back(error.key);
  CHECK(keys == std::vector<std::string>{"services.a.start_timeout", "services.a.watchdog",
                                         "services.b.readiness"});
  config.services["a"].readiness.kind = Readiness::Kind::notify;
  config.services["a"].start_timeout = 0s;
  config.services["b"].readiness.fd = 3;
  CHECK(check_config(config));
}
