// Socket activation in the core (issue 14): which sockets a service holds and gets at each spawn,
// the `listening` state of an on-demand service and the client that starts it, idle_stop, and
// reloads that move, add or cannot open sockets.
#include <doctest/doctest.h>

#include <string>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::Exits;
using testing::SupervisorRig;

namespace {

ListenSocket tcp(int port) {
  return *parse_listen_socket("tcp:127.0.0.1:" + std::to_string(port));
}

ServiceSpec listening(std::string name, std::vector<ListenSocket> sockets,
                      StartMode start = StartMode::manual) {
  ServiceSpec spec = testing::service(std::move(name));
  spec.listen = std::move(sockets);
  spec.start = start;
  spec.backoff_initial = 1s;
  return spec;
}

ServiceSpec on_demand(std::string name, int port) {
  return listening(std::move(name), {tcp(port)}, StartMode::on_demand);
}

std::vector<int> fds_of(const SupervisorRig& rig, std::string_view name) {
  return rig.spawner.latest(name)->request.listen_fds;
}

}  // namespace

TEST_CASE("the sockets are opened with the configuration and passed to every process, the same") {
  SupervisorRig rig(testing::config_with({listening("web", {tcp(8080), tcp(8081)})}));
  CHECK(rig.listeners.is_open("tcp:127.0.0.1:8080"));
  CHECK(rig.listeners.is_open("tcp:127.0.0.1:8081"));
  rig.supervisor.start(rig.request(), "web");
  std::vector<int> first = fds_of(rig, "web");
  REQUIRE(first.size() == 2);
  rig.exit("web");
  rig.advance(1s);
  REQUIRE(rig.state_of("web") == ServiceState::running);
  CHECK(fds_of(rig, "web") == first);  // the same sockets: clients waited in their backlog
}

TEST_CASE("a service without listen gets no descriptors") {
  SupervisorRig rig(testing::config_with({testing::service("plain")}));
  rig.supervisor.start(rig.request(), "plain");
  CHECK(fds_of(rig, "plain").empty());
  CHECK(rig.listeners.open.empty());
}

TEST_CASE("a socket that cannot be opened refuses the configuration, naming service and socket") {
  Config config = testing::config_with({listening("web", {tcp(80)})});
  testing::FakeClock clock;
  testing::FakeSpawner spawner;
  testing::RecordingNotifier notifier;
  testing::FakeListeners listeners;
  listeners.refuse("tcp:127.0.0.1:80");
  auto created = ServiceSupervisor::create(config, clock, spawner, notifier, nullptr, nullptr,
                                           nullptr, &listeners);
  REQUIRE_FALSE(created);
  REQUIRE(created.error().size() == 1);
  CHECK(created.error()[0].key == "services.web.listen");
  CHECK(created.error()[0].message.find("tcp:127.0.0.1:80") != std::string::npos);
}

TEST_CASE("an on-demand service listens, and its first client starts it") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000)}));
  CHECK(rig.state_of("echo") == ServiceState::listening);
  CHECK(rig.listeners.watching("echo"));
  CHECK(rig.spawner.spawn_count() == 0);
  CHECK(rig.connect("echo"));
  CHECK(rig.state_of("echo") == ServiceState::running);
  CHECK(rig.supervisor.status("echo")->refcount == 1);
  CHECK_FALSE(rig.listeners.watching("echo"));  // running without idle_stop: nothing to watch
}

TEST_CASE("stopped, an on-demand service listens again; a crash restarts it as any service") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000)}));
  REQUIRE(rig.connect("echo"));
  rig.exit("echo");
  CHECK(rig.state_of("echo") == ServiceState::backoff);
  rig.advance(1s);
  REQUIRE(rig.state_of("echo") == ServiceState::running);
  auto stop = rig.request();
  rig.supervisor.stop(stop, "echo");
  rig.settle();
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK(rig.state_of("echo") == ServiceState::listening);
  CHECK(rig.listeners.watching("echo"));
  CHECK(rig.connect("echo"));
  CHECK(rig.state_of("echo") == ServiceState::running);
}

TEST_CASE("stop of a listening service is not_running and it keeps listening") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000)}));
  auto stop = rig.request();
  rig.supervisor.stop(stop, "echo");
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::not_running);
  CHECK(rig.state_of("echo") == ServiceState::listening);
  CHECK(rig.listeners.watching("echo"));
}

TEST_CASE("a listening service starts on request too; its clients then need no watch") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000)}));
  auto start = rig.request();
  rig.supervisor.start(start, "echo");
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::started);
  CHECK_FALSE(rig.listeners.watching("echo"));
  CHECK_FALSE(rig.connect("echo"));  // not watched: the client waits for the running service
}

TEST_CASE("a report nobody asked for changes nothing") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000), testing::service("plain")}));
  REQUIRE(rig.connect("echo"));
  CHECK_FALSE(rig.supervisor.on_socket_activity("echo"));  // running, no idle_stop: no watch
  CHECK_FALSE(rig.supervisor.on_socket_activity("plain"));
  CHECK_FALSE(rig.supervisor.on_socket_activity("nobody"));
  CHECK(rig.spawner.spawn_count() == 1);
}

TEST_CASE("idle_stop: a period without a client stops it, and it listens again") {
  ServiceSpec spec = on_demand("echo", 7000);
  spec.idle_stop = 30s;
  SupervisorRig rig(testing::config_with({spec}));
  REQUIRE(rig.connect("echo"));
  REQUIRE(rig.state_of("echo") == ServiceState::running);
  CHECK(rig.listeners.watching("echo"));  // the first idle period is watched
  rig.advance(20s);
  CHECK(rig.connect("echo"));                   // a client in this period
  CHECK_FALSE(rig.listeners.watching("echo"));  // not watched again until the period ends
  rig.advance(10s);
  CHECK(rig.state_of("echo") == ServiceState::running);  // the period saw a client
  CHECK(rig.listeners.watching("echo"));
  rig.advance(30s, Exits::delivered);
  CHECK(rig.state_of("echo") == ServiceState::listening);
  CHECK(rig.listeners.watching("echo"));
}

TEST_CASE("idle_stop leaves running a service that something else holds") {
  ServiceSpec spec = on_demand("echo", 7000);
  spec.idle_stop = 30s;
  SupervisorRig rig(testing::config_with({spec}));
  REQUIRE(rig.connect("echo"));
  rig.supervisor.start(rig.request(), "echo");  // an operator's start: a second reference
  rig.advance(90s, Exits::delivered);
  CHECK(rig.state_of("echo") == ServiceState::running);
}

TEST_CASE("start = boot starts with the default services; a listening service is not one") {
  Config config = testing::config_with(
      {listening("early", {tcp(9000)}, StartMode::boot), testing::service("late")});
  SupervisorRig rig(config);
  rig.supervisor.start_default_services();
  CHECK(rig.state_of("early") == ServiceState::running);
  CHECK(rig.state_of("late") == ServiceState::stopped);
}

TEST_CASE("shutdown stops listening: no client starts a service any more") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000)}));
  rig.supervisor.shutdown(rig.request());
  CHECK(rig.state_of("echo") == ServiceState::stopped);
  CHECK_FALSE(rig.listeners.watching("echo"));
  CHECK(rig.supervisor.finished());
}

TEST_CASE("reload: kept sockets stay, a moved one goes to its new service, a dropped one closes") {
  SupervisorRig rig(testing::config_with(
      {listening("web", {tcp(8080), tcp(8081)}), listening("api", {tcp(9090)})}));
  rig.supervisor.start(rig.request(), "web");
  int kept = rig.listeners.open.at("tcp:127.0.0.1:8080");
  int moved = rig.listeners.open.at("tcp:127.0.0.1:8081");
  auto summary = rig.supervisor.reload(testing::config_with(
      {listening("web", {tcp(8080)}), listening("api", {tcp(9090), tcp(8081)})}));
  REQUIRE(summary);
  CHECK(summary->restarted == std::vector<std::string>{"web"});  // other sockets: restarted
  CHECK(rig.listeners.open.at("tcp:127.0.0.1:8080") == kept);
  CHECK(rig.listeners.open.at("tcp:127.0.0.1:8081") == moved);
  rig.settle();
  REQUIRE(rig.state_of("web") == ServiceState::running);
  CHECK(fds_of(rig, "web") == std::vector<int>{kept});
  summary = rig.supervisor.reload(testing::config_with({listening("web", {tcp(8080)})}));
  REQUIRE(summary);
  CHECK_FALSE(rig.listeners.is_open("tcp:127.0.0.1:9090"));
  CHECK_FALSE(rig.listeners.is_open("tcp:127.0.0.1:8081"));
}

TEST_CASE("reload: a socket that cannot be opened refuses it all, and nothing changes") {
  SupervisorRig rig(testing::config_with({listening("web", {tcp(8080)})}));
  rig.supervisor.start(rig.request(), "web");
  ProcessId before = *rig.pid_of("web");
  rig.listeners.refuse("tcp:127.0.0.1:80");
  auto summary = rig.supervisor.reload(testing::config_with(
      {listening("web", {tcp(8080), tcp(8082)}), listening("new", {tcp(80)})}));
  REQUIRE_FALSE(summary);
  CHECK(summary.error()[0].message.find("tcp:127.0.0.1:80") != std::string::npos);
  CHECK(rig.pid_of("web") == before);
  CHECK(rig.listeners.held.at("web") == std::vector<std::string>{"tcp:127.0.0.1:8080"});
  CHECK_FALSE(rig.listeners.is_open("tcp:127.0.0.1:8082"));
  CHECK_FALSE(rig.supervisor.status("new"));
}

TEST_CASE("reload: a service made on-demand listens; made manual again, it is stopped") {
  SupervisorRig rig(testing::config_with({listening("echo", {tcp(7000)})}));
  REQUIRE(rig.state_of("echo") == ServiceState::stopped);
  REQUIRE(rig.supervisor.reload(testing::config_with({on_demand("echo", 7000)})));
  CHECK(rig.state_of("echo") == ServiceState::listening);
  CHECK(rig.listeners.watching("echo"));
  REQUIRE(rig.supervisor.reload(testing::config_with({listening("echo", {tcp(7000)})})));
  CHECK(rig.state_of("echo") == ServiceState::stopped);
  CHECK_FALSE(rig.listeners.watching("echo"));
}

TEST_CASE("reload: a removed on-demand service stops listening and its socket closes") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000), testing::service("other")}));
  REQUIRE(rig.supervisor.reload(testing::config_with({testing::service("other")})));
  CHECK_FALSE(rig.listeners.watching("echo"));
  CHECK_FALSE(rig.listeners.is_open("tcp:127.0.0.1:7000"));
  CHECK_FALSE(rig.supervisor.status("echo"));
}

TEST_CASE("a hard dependent starts an on-demand dependency without waiting for a client") {
  ServiceSpec web = testing::service("web");
  web.depends_on = {"db"};
  SupervisorRig rig(testing::config_with({on_demand("db", 5432), web}));
  rig.supervisor.start(rig.request(), "web");
  CHECK(rig.state_of("db") == ServiceState::running);
  CHECK(rig.state_of("web") == ServiceState::running);
  rig.supervisor.stop(rig.request(), "web");
  rig.settle();
  CHECK(rig.state_of("db") == ServiceState::listening);  // released: back to listening
}

TEST_CASE(
    "reload: idle_stop given to a running service starts its idle period; taken, it runs on") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000)}));
  REQUIRE(rig.connect("echo"));
  ServiceSpec idle = on_demand("echo", 7000);
  idle.idle_stop = 10s;
  REQUIRE(rig.supervisor.reload(testing::config_with({idle})));
  CHECK(rig.listeners.watching("echo"));
  rig.advance(10s, Exits::delivered);
  CHECK(rig.state_of("echo") == ServiceState::listening);
  REQUIRE(rig.connect("echo"));
  REQUIRE(rig.supervisor.reload(testing::config_with({on_demand("echo", 7000)})));
  CHECK_FALSE(rig.listeners.watching("echo"));
  rig.advance(60s, Exits::delivered);
  CHECK(rig.state_of("echo") == ServiceState::running);
}

TEST_CASE("idle_stop leaves running a listening service an operator started (no client yet)") {
  ServiceSpec spec = on_demand("echo", 7000);
  spec.idle_stop = 30s;
  SupervisorRig rig(testing::config_with({spec}));
  auto start = rig.request();
  rig.supervisor.start(start, "echo");  // its only reference is the operator's, not a client's
  REQUIRE(rig.notifier.reply_to(start)->outcome == Outcome::started);
  rig.advance(90s, Exits::delivered);
  CHECK(rig.state_of("echo") == ServiceState::running);
  // Stopped by that operator, it listens again, and a client's start is idle-stopped as before.
  rig.supervisor.stop(rig.request(), "echo");
  rig.settle();
  REQUIRE(rig.state_of("echo") == ServiceState::listening);
  REQUIRE(rig.connect("echo"));
  rig.advance(30s, Exits::delivered);
  CHECK(rig.state_of("echo") == ServiceState::listening);
}

TEST_CASE("reload refused: a removed service still stopping does not take its closed socket back") {
  SupervisorRig rig(testing::config_with({listening("web", {tcp(8080)}), testing::service("x")}));
  rig.supervisor.start(rig.request(), "web");
  REQUIRE(rig.supervisor.reload(testing::config_with({testing::service("x")})));
  REQUIRE(rig.state_of("web") == ServiceState::stopping);
  REQUIRE_FALSE(rig.listeners.is_open("tcp:127.0.0.1:8080"));
  rig.listeners.refuse("tcp:127.0.0.1:80");
  auto summary = rig.supervisor.reload(testing::config_with(
      {testing::service("x"), listening("web", {tcp(8080)}), listening("new", {tcp(80)})}));
  REQUIRE_FALSE(summary);
  CHECK_FALSE(rig.listeners.held.contains("web"));
  CHECK_FALSE(rig.listeners.is_open("tcp:127.0.0.1:8080"));
}

TEST_CASE("idle_stop still stops a client's service that failed and was re-armed") {
  ServiceSpec spec = on_demand("echo", 7000);
  spec.idle_stop = 1h;
  spec.backoff_initial = 100ms;
  spec.backoff_max = 100ms;
  spec.max_restarts = 3;
  spec.restart_window = 10s;
  spec.retry_failed_after = 10min;
  SupervisorRig rig(testing::config_with({spec}));
  REQUIRE(rig.connect("echo"));
  for (int i = 0; i < 4; ++i) {
    rig.exit("echo");
    rig.advance(100ms);
  }
  REQUIRE(rig.state_of("echo") == ServiceState::failed);
  rig.advance(10min);
  REQUIRE(rig.state_of("echo") == ServiceState::running);
  CHECK(rig.supervisor.status("echo")->refcount == 1);  // the client's, given back
  rig.advance(1h, Exits::delivered);
  REQUIRE(rig.state_of("echo") == ServiceState::listening);
  rig.supervisor.start(rig.request(), "echo");  // an operator's now: not the client's any more
  rig.advance(2h, Exits::delivered);
  CHECK(rig.state_of("echo") == ServiceState::running);
}

TEST_CASE(
    "reload refused: a listening service whose sockets it would have dropped is still watched") {
  SupervisorRig rig(testing::config_with({on_demand("echo", 7000)}));
  REQUIRE(rig.listeners.watching("echo"));
  rig.listeners.refuse("tcp:127.0.0.1:80");
  // echo would list no socket (dropped, which cancels its watch), but "new" cannot open its own.
  auto summary = rig.supervisor.reload(
      testing::config_with({testing::service("echo"), listening("new", {tcp(80)})}));
  REQUIRE_FALSE(summary);
  CHECK(rig.listeners.held.contains("echo"));
  CHECK(rig.listeners.watching("echo"));
  CHECK(rig.connect("echo"));
  CHECK(rig.state_of("echo") == ServiceState::running);
}
