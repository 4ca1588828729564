// The reload keys (issue 14): reload_signal, reload, config_check and check_timeout; what they
// refuse is refused at file:line:key, saying what is allowed.
#include <doctest/doctest.h>

#include "arm/config.hpp"
#include "service_keys.hpp"

using namespace arm;
using namespace std::chrono_literals;

using test::check_refused;
using test::read_service;

TEST_CASE("without the keys a service has no reload: a config change restarts it") {
  CHECK_FALSE(read_service("").reload);
}

TEST_CASE("reload_signal by name, with or without SIG, and a check with the default timeout") {
  ServiceSpec a = read_service(
      "config = \"/etc/nginx.conf\"\nreload_signal = \"HUP\"\n"
      "config_check = [\"nginx\", \"-t\", \"-c\", \"{config}\"]\n");
  REQUIRE(a.reload);
  CHECK(a.reload->signal == ReloadSignal::hangup);
  CHECK(a.reload->check == std::vector<std::string>{"nginx", "-t", "-c", "{config}"});
  CHECK(a.reload->command.empty());
  CHECK(a.reload->check_timeout == 30s);
  CHECK(read_service("reload_signal = \"SIGUSR2\"\n").reload->signal == ReloadSignal::user2);
  CHECK(read_service("reload_signal = \"WINCH\"\n").reload->signal == ReloadSignal::window_change);
  CHECK(to_string(ReloadSignal::hangup) == "SIGHUP");
}

TEST_CASE("a reload command, as an array or a string, and check_timeout") {
  ServiceSpec a = read_service(
      "reload = [\"/usr/sbin/nginx\", \"-s\", \"reload\"]\n"
      "check_timeout = \"5s\"\n");
  CHECK(a.reload->command == std::vector<std::string>{"/usr/sbin/nginx", "-s", "reload"});
  CHECK(a.reload->check_timeout == 5s);
  CHECK(read_service("reload = \"kill -HUP {pid}\"\n").reload->command.size() == 3);
}

TEST_CASE("bad reload keys are refused at file:line:key") {
  check_refused("reload_signal = 1\n", "services.a.reload_signal", 3, "signal number");
  check_refused("reload_signal = \"KILL\"\n", "services.a.reload_signal", 3,
                "expected one of HUP, USR1");
  check_refused("reload_signal = \"hup\"\n", "services.a.reload_signal", 3, "'hup'");
  check_refused("reload = []\n", "services.a.reload", 3, "needs a command");
  check_refused("reload_signal = \"HUP\"\nreload = \"x\"\n", "services.a.reload", 4, "exclusive");
  check_refused("config_check = [\"x\", \"{config}\"]\n", "services.a.config_check", 3,
                "no `config` file");
  check_refused("reload = [\"x\", \"--conf={config}\"]\n", "services.a.reload", 3,
                "no `config` file");
  check_refused("check_timeout = \"0s\"\nconfig_check = \"x\"\n", "services.a.check_timeout", 3,
                "more than 0");
  check_refused("check_timeout = \"5s\"\n", "services.a.check_timeout", 3, "needs config_check");
}

TEST_CASE("check_config refuses a reload signal and a command together") {
  Config config;
  ServiceSpec spec;
  spec.name = "a";
  spec.binary = "/x";
  spec.reload = ConfigReload{.signal = ReloadSignal::hangup, .command = {"x"}, .check = {}};
  config.services["a"] = spec;
  auto checked = check_config(config);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().front().to_string().find("services.a.reload") != std::string::npos);
}
