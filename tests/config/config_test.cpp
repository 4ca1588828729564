// The TOML configuration: every field, the defaults, and errors that say where.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include "arm/config.hpp"

using namespace arm;
using namespace std::chrono_literals;
using Words = std::vector<std::string>;

namespace {
ConfigError error_of(std::string_view text) {
  auto config = parse_config(text, "test.toml");
  REQUIRE_FALSE(config);
  return config.error();
}
}  // namespace

TEST_CASE("every documented field is read") {
  auto config = parse_config(R"(
[arm]
socket = "/run/x.sock"
default_services = ["a"]
global_prefix = "valgrind -q"

[services.a]
binary = "/usr/bin/a"
config = "/etc/a.conf"
prefix = ["strace", "-f"]
options = "--x  y"
debug = true
restart = "on-failure"
backoff_initial = "1ms"
backoff_max = "30m"
backoff_reset_after = "2h"
stop_timeout = 2500
environment = { KEY = "value", OTHER = "2" }
working_directory = "/srv"
)",
                             "test.toml");
  REQUIRE(config);
  CHECK(config->arm.socket == "/run/x.sock");
  CHECK(config->arm.default_services == Words{"a"});
  CHECK(config->arm.global_prefix == Words{"valgrind", "-q"});
  const ServiceSpec& a = config->services.at("a");
  CHECK(a.name == "a");
  CHECK(a.binary == "/usr/bin/a");
  CHECK(a.config_file == "/etc/a.conf");
  CHECK(a.prefix == Words{"strace", "-f"});
  CHECK(a.options == Words{"--x", "y"});
  CHECK(a.debug);
  CHECK(a.restart == RestartPolicy::on_failure);
  CHECK(a.backoff_initial == 1ms);
  CHECK(a.backoff_max == 30min);
  CHECK(a.backoff_reset_after == 2h);
  CHECK(a.stop_timeout == 2500ms);
  CHECK(a.environment == std::map<std::string, std::string>{{"KEY", "value"}, {"OTHER", "2"}});
  CHECK(a.working_directory == "/srv");
}

TEST_CASE("a service with only a binary gets the documented defaults") {
  auto config = parse_config("[services.a]\nbinary = \"sleep\"\n", "test.toml");
  REQUIRE(config);
  const ServiceSpec& a = config->services.at("a");
  CHECK(a.binary == "sleep");  // no slash: left for PATH lookup
  CHECK(a.restart == RestartPolicy::always);
  CHECK(a.backoff_initial == 100ms);
  CHECK(a.backoff_max == 30min);
  CHECK(a.backoff_reset_after == 10s);
  CHECK(a.stop_timeout == 5s);
  CHECK_FALSE(a.prefix);
  CHECK_FALSE(a.config_file);
}

TEST_CASE("durations: integer milliseconds or a number with ms, s, m or h") {
  CHECK(parse_duration("250") == 250ms);
  CHECK(parse_duration("250ms") == 250ms);
  CHECK(parse_duration("5s") == 5s);
  CHECK(parse_duration("3m") == 3min);
  CHECK(parse_duration("2h") == 2h);
  CHECK(parse_duration("0") == 0ms);
  for (auto bad : {"5 sec", "", "s", "-1s", "1.5s", "5d", "99999999999999999999999h"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad));
  }
}

TEST_CASE("errors name the file, the line and column, and the key") {
  auto error = error_of("[services.web]\nbinary = \"/x\"\nrestart = \"sometimes\"\n");
  CHECK(error.file == "test.toml");
  CHECK(error.line == 3);
  CHECK(error.column == 11);
  CHECK(error.key == "services.web.restart");
  CHECK(error.to_string() ==
        "test.toml:3:11: services.web.restart: 'sometimes': expected one of always, on-failure, "
        "never");
}

TEST_CASE("wrong types are named") {
  auto error = error_of("[services.web]\nbinary = 12\n");
  CHECK(error.key == "services.web.binary");
  CHECK(error.line == 2);
  CHECK(error.message == "expected a string, got integer");

  error = error_of("[services.web]\nbinary = \"/x\"\noptions = [\"a\", 3]\n");
  CHECK(error.key == "services.web.options[1]");
  CHECK(error.line == 3);
}

TEST_CASE("unknown keys are refused, with a suggestion for near misses") {
  auto error = error_of("[services.web]\nbinary = \"/x\"\nrestat = \"always\"\n");
  CHECK(error.line == 3);
  CHECK(error.message == "unknown key 'restat' (did you mean 'restart'?)");
  CHECK(error_of("[arm]\nsockett = \"/x\"\n").key == "arm.sockett");
  CHECK(error_of("[servics.web]\nbinary = \"/x\"\n").key == "servics");
}

TEST_CASE("a service without a binary points at its table") {
  auto error = error_of("[services.a]\nbinary = \"/x\"\n\n[services.b]\ndebug = true\n");
  CHECK(error.key == "services.b.binary");
  CHECK(error.line == 4);
  CHECK(error.message == "is required");
}

TEST_CASE("bad durations and inverted backoffs are refused where they are written") {
  auto error = error_of("[services.a]\nbinary = \"/x\"\nstop_timeout = \"soon\"\n");
  CHECK(error.key == "services.a.stop_timeout");
  CHECK(error.line == 3);
  CHECK(error_of("[services.a]\nbinary = \"/x\"\nbackoff_max = -5\n").message ==
        "must not be negative");
  error =
      error_of("[services.a]\nbinary = \"/x\"\nbackoff_initial = \"2h\"\nbackoff_max = \"1h\"\n");
  CHECK(error.key == "services.a.backoff_initial");
  CHECK(error.line == 3);
}

TEST_CASE("default services must be configured services") {
  auto error =
      error_of("[arm]\ndefault_services = [\"a\",\n  \"ghost\"]\n[services.a]\nbinary = \"/x\"\n");
  CHECK(error.key == "arm.default_services[1]");
  CHECK(error.line == 3);
  CHECK(error.message == "'ghost' is not a configured service");
}

TEST_CASE("service names are restricted to what is safe on a command line") {
  auto error = error_of("[services.\"a b\"]\nbinary = \"/x\"\n");
  CHECK(error.key == "services.a b");
  CHECK(error.line == 1);
}

TEST_CASE("syntax errors carry the parser's line and column") {
  auto error = error_of("[services.a]\nbinary = \"/x\n");
  CHECK(error.line == 2);
  CHECK(error.key.empty());
  CHECK_FALSE(error.message.empty());
}

TEST_CASE("a missing file is an error naming it") {
  auto config = load_config_file("/nonexistent/armd.toml");
  REQUIRE_FALSE(config);
  CHECK(config.error().file == "/nonexistent/armd.toml");
  CHECK(config.error().to_string() == "/nonexistent/armd.toml: No such file or directory");
}

TEST_CASE("relative paths in a file are taken relative to the file's directory") {
  std::string path = "/tmp/arm-config-test.toml";
  {
    std::ofstream file(path);
    file << "[services.a]\nbinary = \"bin/a.sh\"\nconfig = \"a.conf\"\nworking_directory = \".\"\n"
            "[services.b]\nbinary = \"sleep\"\n";
  }
  auto config = load_config_file(path);
  std::remove(path.c_str());
  REQUIRE(config);
  CHECK(config->services.at("a").binary == "/tmp/bin/a.sh");
  CHECK(config->services.at("a").config_file == "/tmp/a.conf");
  CHECK(config->services.at("a").working_directory == "/tmp");
  CHECK(config->services.at("b").binary == "sleep");
}

TEST_CASE("control characters are refused with their position") {
  auto error = error_of(std::string_view("[services.a]\nbinary = \"/x\"\n[\0]\n", 31));
  CHECK(error.line == 3);
  CHECK(error.column == 2);
  CHECK(error.message == "control character U+0000 is not allowed in TOML");
}

TEST_CASE("the restart controls are read and checked") {
  auto config = parse_config(R"([services.a]
binary = "/x"
max_restarts = 5
restart_window = "60s"
retry_failed_after = "10m"
success_exit_codes = [0, 143]
permanent_failure_exit_codes = [78]
backoff_jitter = 0.2
)",
                             "test.toml");
  REQUIRE(config);
  const ServiceSpec& a = config->services.at("a");
  CHECK(a.max_restarts == 5u);
  CHECK(a.restart_window == 60s);
  CHECK(a.retry_failed_after == 10min);
  CHECK(a.success_exit_codes == std::vector<int>{0, 143});
  CHECK(a.permanent_failure_exit_codes == std::vector<int>{78});
  CHECK(a.backoff_jitter == doctest::Approx(0.2));

  CHECK(error_of("[services.a]\nbinary = \"/x\"\nbackoff_jitter = 1.5\n").message ==
        "must be between 0 and 1");
  CHECK(error_of("[services.a]\nbinary = \"/x\"\nmax_restarts = -1\n").key ==
        "services.a.max_restarts");
  CHECK(error_of("[services.a]\nbinary = \"/x\"\nsuccess_exit_codes = [0, 300]\n").key ==
        "services.a.success_exit_codes[1]");
  CHECK(error_of("[services.a]\nbinary = \"/x\"\npermanent_failure_exit_codes = [0]\n").message ==
        "exit code 0 is also a success exit code");
  CHECK(error_of("[services.a]\nbinary = \"/x\"\nrestart_window = 0\n").message ==
        "must be more than 0");
}
