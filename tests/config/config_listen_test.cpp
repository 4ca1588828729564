// Socket activation's keys (issue 14): `listen` and its options, `start`, `idle_stop`, and
// `config_arg` (with `{config}` and `{name}` in argv); what they refuse is refused at
// file:line:key, saying what is allowed.
#include <doctest/doctest.h>

#include "arm/config.hpp"
#include "service_keys.hpp"

using namespace arm;
using namespace std::chrono_literals;

using test::check_refused;
using test::read_service;

TEST_CASE("without listen a service holds no socket and starts manually") {
  ServiceSpec a = read_service("");
  CHECK(a.listen.empty());
  CHECK(a.start == StartMode::manual);
  CHECK_FALSE(a.idle_stop);
  CHECK(a.listen_backlog == 4096);
  CHECK(a.listen_mode == 0666);
}

TEST_CASE("listen reads tcp, IPv6, udp, unix paths and abstract names, in order") {
  ServiceSpec a = read_service(
      "listen = [\"tcp:127.0.0.1:8080\", \"tcp:[::1]:8080\", \"udp:0.0.0.0:53\", "
      "\"unix:/run/a.sock\", \"unix:@a\"]\n");
  REQUIRE(a.listen.size() == 5);
  CHECK(a.listen[0].kind == ListenSocket::Kind::tcp);
  CHECK(a.listen[0].address == ListenAddress{"127.0.0.1", 8080, false});
  CHECK(a.listen[1].address == ListenAddress{"::1", 8080, true});
  CHECK(a.listen[2].kind == ListenSocket::Kind::udp);
  CHECK(a.listen[3].kind == ListenSocket::Kind::unix_stream);
  CHECK(a.listen[3].path == "/run/a.sock");
  CHECK(a.listen[4].path == "@a");
  CHECK(to_string(a.listen[1]) == "tcp:[::1]:8080");
  CHECK(read_service("listen = \"tcp:127.0.0.1:1\"\n").listen.size() == 1);
}

TEST_CASE("a socket that cannot be is refused at its element") {
  check_refused("listen = [\"tcp:127.0.0.1:80\", \"http:1.2.3.4:80\"]\n", "services.a.listen[1]",
                3, "unknown socket kind 'http'");
  check_refused("listen = [\"tcp:localhost:80\"]\n", "services.a.listen[0]", 3,
                "names are not looked up");
  check_refused("listen = [\"tcp:127.0.0.1:0\"]\n", "services.a.listen[0]", 3, "1 to 65535");
  check_refused("listen = [\"unix:run/a.sock\"]\n", "services.a.listen[0]", 3, "absolute path");
  check_refused("listen = [\"unix:/" + std::string(120, 'x') + "\"]\n", "services.a.listen[0]", 3,
                "at most 107");
  check_refused("listen = [\"tcp:127.0.0.1:80\", \"tcp:127.0.0.1:80\"]\n", "services.a.listen[1]",
                3, "listed twice");
  check_refused("listen = 80\n", "services.a.listen", 3, "an array of socket addresses");
}

TEST_CASE("the listen options need listen; mode and owner a unix socket") {
  ServiceSpec a = read_service(
      "listen = [\"unix:/run/a.sock\"]\nlisten_backlog = 16\nlisten_mode = \"0660\"\n"
      "listen_owner = \"www-data:adm\"\n");
  CHECK(a.listen_backlog == 16);
  CHECK(a.listen_mode == 0660);
  CHECK(a.listen_owner == std::string("www-data:adm"));
  CHECK(read_service("listen = [\"unix:/run/a.sock\"]\nlisten_mode = 0o600\n").listen_mode ==
        0600);
  check_refused("listen_backlog = 16\n", "services.a.listen_backlog", 3, "needs `listen`");
  check_refused("listen = [\"tcp:127.0.0.1:80\"]\nlisten_mode = \"0600\"\n",
                "services.a.listen_mode", 4, "unix sockets only");
  check_refused("listen = [\"unix:/a\"]\nlisten_mode = \"rw\"\n", "services.a.listen_mode", 4,
                "octal");
  check_refused("listen = [\"unix:/a\"]\nlisten_backlog = 0\n", "services.a.listen_backlog", 4,
                "between 1 and 65535");
  check_refused("listen = [\"unix:/a\"]\nlisten_owner = \"a:b:c\"\n", "services.a.listen_owner",
                4, "USER:GROUP");
}

TEST_CASE("start: manual, boot or on-demand; on-demand needs listen; idle_stop needs on-demand") {
  CHECK(read_service("start = \"boot\"\n").start == StartMode::boot);
  ServiceSpec a = read_service(
      "listen = [\"tcp:127.0.0.1:80\"]\nstart = \"on-demand\"\nidle_stop = \"5m\"\n");
  CHECK(a.start == StartMode::on_demand);
  CHECK(a.idle_stop == 5min);
  check_refused("start = \"lazy\"\n", "services.a.start", 3, "manual, boot, on-demand");
  check_refused("start = \"on-demand\"\n", "services.a.start", 3, "needs `listen`");
  check_refused("listen = [\"tcp:127.0.0.1:80\"]\nidle_stop = \"5m\"\n", "services.a.idle_stop", 4,
                "on-demand");
  check_refused("listen = [\"tcp:127.0.0.1:80\"]\nstart = \"on-demand\"\nidle_stop = 0\n",
                "services.a.idle_stop", 5, "more than 0");
}

TEST_CASE("a readiness descriptor must lie above the sockets'") {
  check_refused("listen = [\"tcp:127.0.0.1:80\", \"tcp:127.0.0.1:81\"]\nreadiness = \"fd:4\"\n",
                "services.a.readiness", 4, "use 5 or more");
  CHECK(read_service("listen = [\"tcp:127.0.0.1:80\"]\nreadiness = \"fd:4\"\n").readiness.fd == 4);
}

TEST_CASE("one socket, one service: a second service listing it is refused") {
  auto config = parse_config(
      "[services.a]\nbinary = \"/x\"\nlisten = [\"tcp:127.0.0.1:80\"]\n"
      "[services.b]\nbinary = \"/x\"\nlisten = [\"tcp:127.0.0.1:81\", \"tcp:127.0.0.1:80\"]\n",
      "test.toml");
  REQUIRE_FALSE(config);
  CHECK(config.error().key == "services.b.listen[1]");
  CHECK(config.error().line == 6);
  CHECK(config.error().message.find("also listed by service 'a'") != std::string::npos);
}

TEST_CASE("an on-demand service is not a default service") {
  auto config = parse_config(
      "[arm]\ndefault_services = [\"a\"]\n"
      "[services.a]\nbinary = \"/x\"\nlisten = [\"tcp:127.0.0.1:80\"]\nstart = \"on-demand\"\n",
      "test.toml");
  REQUIRE_FALSE(config);
  CHECK(config.error().key == "arm.default_services[0]");
  CHECK(config.error().message.find("on-demand") != std::string::npos);
}

TEST_CASE("config_arg puts the config file where the program wants it") {
  auto argv_of = [](std::string_view keys) {
    std::string text = "[services.a]\nbinary = \"/usr/bin/prog\"\nconfig = \"/etc/a.conf\"\n" +
                       std::string(keys);
    auto config = parse_config(text, "test.toml");
    if (!config) FAIL(config.error().to_string());
    return compose_argv(config->services.at("a"), config->arm);
  };
  using Argv = std::vector<std::string>;
  CHECK(argv_of("") == Argv{"/usr/bin/prog", "-c", "/etc/a.conf"});
  CHECK(argv_of("config_arg = [\"-f\", \"{config}\"]\n") == Argv{"/usr/bin/prog", "-f", "/etc/a.conf"});
  CHECK(argv_of("config_arg = [\"{config}\"]\noptions = [\"--port\", \"1\"]\n") ==
        Argv{"/usr/bin/prog", "/etc/a.conf", "--port", "1"});
  CHECK(argv_of("config_arg = []\n") == Argv{"/usr/bin/prog"});
  CHECK(argv_of("config_arg = \"--config={config}\"\n") ==
        Argv{"/usr/bin/prog", "--config=/etc/a.conf"});
  CHECK(argv_of("config_arg = []\noptions = [\"-C\", \"{config}\", \"--name={name}\", \"{x}\"]\n") ==
        Argv{"/usr/bin/prog", "-C", "/etc/a.conf", "--name=a", "{x}"});
  check_refused("config_arg = [\"-f\", \"{config}\"]\n", "services.a.config_arg", 3,
                "needs `config`");
  check_refused("options = [\"-f\", \"{config}\"]\n", "services.a.options", 3, "has no `config`");
}
