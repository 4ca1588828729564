// Services that depend on each other: start order, failure propagation, group restarts,
// cascading stops, reverse-order shutdown, soft dependencies and reload of edges.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <algorithm>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {

ServiceSpec depending(std::string name, std::vector<std::string> depends_on,
                      std::vector<std::string> wants = {}) {
  auto spec = testing::service(std::move(name));
  spec.depends_on = std::move(depends_on);
  spec.wants = std::move(wants);
  spec.backoff_initial = 100ms;
  spec.backoff_max = 100ms;
  return spec;
}

// web needs db and cache; db and cache need nothing.
Config web_db_cache() {
  return testing::config_with(
      {depending("web", {"db", "cache"}), depending("db", {}), depending("cache", {})});
}

// The services in the order they were spawned.
std::vector<std::string> spawn_order(const SupervisorRig& rig) {
  std::vector<std::pair<ProcessId, std::string>> spawned;
  for (ProcessId pid = 1000; const auto* process = rig.spawner.process(pid); ++pid)
    spawned.emplace_back(pid, process->request.service);
  std::vector<std::string> names;
  for (auto& [pid, name] : spawned) names.push_back(name);
  return names;
}

bool got_terminate(const SupervisorRig& rig, std::string_view service) {
  const auto* process = rig.spawner.latest(service);
  return process && !process->signals.empty();
}

}  // namespace

TEST_CASE("starting a service starts its dependencies first, each holding a reference") {
  SupervisorRig rig(web_db_cache());
  auto request = rig.request();
  rig.supervisor.start(request, "web");

  CHECK(spawn_order(rig) == std::vector<std::string>{"db", "cache", "web"});
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::started);
  CHECK(rig.supervisor.status("db")->refcount == 1);
  CHECK(rig.supervisor.status("web")->refcount == 1);
  CHECK(rig.supervisor.status("web")->depends_on == std::vector<std::string>{"db", "cache"});
}

TEST_CASE("a dependency that cannot start fails the start, naming it and its reason") {
  SupervisorRig rig(web_db_cache());
  rig.spawner.fail_service("db", Error::system(2, "/usr/bin/db: No such file or directory"));
  auto request = rig.request();
  rig.supervisor.start(request, "web");

  auto reply = rig.notifier.reply_to(request);
  REQUIRE(reply);
  CHECK(reply->outcome == Outcome::start_failed);
  CHECK(reply->message == "dependency db failed: /usr/bin/db: No such file or directory");
  CHECK(rig.state_of("web") == ServiceState::failed);
  CHECK(rig.state_of("db") == ServiceState::failed);
  CHECK_FALSE(rig.spawner.latest("web"));
  // Nothing is held any more: cache, started alongside, stops again.
  rig.settle();
  CHECK(rig.state_of("cache") == ServiceState::stopped);
  CHECK(rig.supervisor.status("db")->refcount == 0);
  CHECK(rig.supervisor.status("cache")->refcount == 0);
}

TEST_CASE("a dependent waits while its dependency is backing off, and starts right after it") {
  SupervisorRig rig(web_db_cache());
  rig.supervisor.start(rig.request(), "db");
  rig.exit("db");  // db is now in backoff for 100 ms
  auto request = rig.request();
  rig.supervisor.start(request, "web");

  CHECK(rig.state_of("web") == ServiceState::waiting);
  CHECK(rig.supervisor.status("web")->waiting_for == "dependency db (backoff)");
  CHECK_FALSE(rig.notifier.reply_to(request));

  rig.advance(100ms);
  CHECK(rig.state_of("db") == ServiceState::running);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::started);
  CHECK(rig.supervisor.status("web")->waiting_for.empty());
}

TEST_CASE("when a dependency crashes, its dependents restart after it (a group restart)") {
  SupervisorRig rig(web_db_cache());
  rig.supervisor.start(rig.request(), "web");
  ProcessId old_web = *rig.pid_of("web");
  rig.exit("db");

  CHECK(rig.spawner.process(old_web)->signals == std::vector{StopSignal::terminate});
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::waiting);
  CHECK(rig.state_of("cache") == ServiceState::running);  // a sibling, untouched

  rig.advance(100ms);
  CHECK(rig.state_of("db") == ServiceState::running);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(*rig.pid_of("web") != old_web);
  auto order = spawn_order(rig);
  CHECK(std::vector(order.end() - 2, order.end()) == std::vector<std::string>{"db", "web"});
}

TEST_CASE("a dependent with restart_with_dependencies = false keeps running through it") {
  auto web = depending("web", {"db"});
  web.restart_with_dependencies = false;
  SupervisorRig rig(testing::config_with({web, depending("db", {})}));
  rig.supervisor.start(rig.request(), "web");
  ProcessId web_pid = *rig.pid_of("web");
  rig.exit("db");
  rig.advance(100ms);

  CHECK(rig.spawner.process(web_pid)->signals.empty());
  CHECK(rig.pid_of("web") == web_pid);
  CHECK(rig.state_of("db") == ServiceState::running);
}

TEST_CASE("group restarts are transitive: a dependent of a dependent restarts too") {
  SupervisorRig rig(testing::config_with(
      {depending("db", {}), depending("api", {"db"}), depending("web", {"api"})}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("db");
  rig.settle();
  rig.advance(100ms);
  CHECK(spawn_order(rig) == std::vector<std::string>{"db", "api", "web", "db", "api", "web"});
}

TEST_CASE("an explicit restart restarts the dependents too, stopping them first") {
  SupervisorRig rig(web_db_cache());
  rig.supervisor.start(rig.request(), "web");
  auto request = rig.request();
  rig.supervisor.restart(request, "db");

  CHECK(got_terminate(rig, "web"));
  CHECK_FALSE(got_terminate(rig, "db"));  // not until web is gone
  CHECK(rig.supervisor.status("db")->waiting_for == "dependents web");
  rig.settle();
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::restarted);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(spawn_order(rig) == std::vector<std::string>{"db", "cache", "web", "db", "web"});
}

TEST_CASE("stopping a dependency stops its dependents first, then itself") {
  SupervisorRig rig(web_db_cache());
  rig.supervisor.start(rig.request(), "web");
  auto request = rig.request();
  rig.supervisor.stop(request, "db");

  CHECK(got_terminate(rig, "web"));
  CHECK_FALSE(got_terminate(rig, "db"));
  CHECK(rig.state_of("db") == ServiceState::stopping);
  rig.settle();
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::stopped);
  CHECK(rig.notifier.reply_to(request)->message == "also stopped its dependents: web");
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.state_of("db") == ServiceState::stopped);
  // web gave back its reference on cache, which nothing else holds.
  CHECK(rig.state_of("cache") == ServiceState::stopped);
}

TEST_CASE("stopping a dependent releases its dependencies unless someone else holds them") {
  SupervisorRig rig(web_db_cache());
  rig.supervisor.start(rig.request(), "db");  // an explicit reference of its own
  rig.supervisor.start(rig.request(), "web");
  CHECK(rig.supervisor.status("db")->refcount == 2);

  rig.supervisor.stop(rig.request(), "web");
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.state_of("cache") == ServiceState::stopped);
  CHECK(rig.state_of("db") == ServiceState::running);
  CHECK(rig.supervisor.status("db")->refcount == 1);
}

TEST_CASE("when a dependency trips its restart limit, dependents are stopped and say why") {
  auto db = depending("db", {});
  db.max_restarts = 1;
  SupervisorRig rig(testing::config_with({depending("web", {"db"}), db}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("db");
  rig.settle();
  rig.advance(100ms);
  rig.exit("db");  // the second crash within the window
  rig.settle();

  CHECK(rig.state_of("db") == ServiceState::failed);
  CHECK(rig.state_of("web") == ServiceState::failed);
  auto web = *rig.supervisor.status("web");
  CHECK(web.last_error.starts_with("dependency db failed: exited unexpectedly"));
  CHECK(web.refcount == 0);
  CHECK(rig.spawner.live().empty());

  SUBCASE("starting the dependent again starts the dependency again") {
    rig.supervisor.start(rig.request(), "web");
    CHECK(rig.state_of("db") == ServiceState::running);
    CHECK(rig.state_of("web") == ServiceState::running);
  }
}

TEST_CASE("with a re-arm pending, dependents wait for the dependency and come back with it") {
  auto db = depending("db", {});
  db.max_restarts = 0;
  db.retry_failed_after = 10min;
  SupervisorRig rig(testing::config_with({depending("web", {"db"}), db}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("db");
  rig.settle();
  CHECK(rig.state_of("db") == ServiceState::failed);
  CHECK(rig.state_of("web") == ServiceState::waiting);
  CHECK(rig.supervisor.status("web")->waiting_for == "dependency db (failed)");

  rig.advance(10min);
  CHECK(rig.state_of("db") == ServiceState::running);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.supervisor.status("db")->refcount == 1);
}

TEST_CASE("a dependency that exits for good takes its dependents down") {
  auto db = depending("db", {});
  db.restart = RestartPolicy::on_failure;
  SupervisorRig rig(testing::config_with({depending("web", {"db"}), db}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("db", ExitStatus::exited(0));
  rig.settle();
  CHECK(rig.state_of("db") == ServiceState::stopped);
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.spawner.live().empty());
}

TEST_CASE("shutdown stops in reverse dependency order, independent services in parallel") {
  SupervisorRig rig(testing::config_with(
      {depending("a", {}), depending("b", {"a"}), depending("c", {"b"}), depending("x", {})}));
  rig.supervisor.start(rig.request(), "c");
  rig.supervisor.start(rig.request(), "x");
  auto request = rig.request();
  rig.supervisor.shutdown(request);

  CHECK(got_terminate(rig, "c"));
  CHECK(got_terminate(rig, "x"));
  CHECK_FALSE(got_terminate(rig, "b"));
  CHECK_FALSE(got_terminate(rig, "a"));

  // Reap level by level.
  auto reap = [&](std::string_view name) {
    ProcessId pid = *rig.pid_of(name);
    rig.spawner.mark_exited(pid);
    rig.supervisor.on_child_exit(pid, ExitStatus::signaled(15));
  };
  reap("c");
  CHECK(got_terminate(rig, "b"));
  CHECK_FALSE(got_terminate(rig, "a"));
  reap("b");
  CHECK(got_terminate(rig, "a"));
  reap("x");
  CHECK_FALSE(rig.notifier.reply_to(request));
  reap("a");
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::shutdown_complete);
}

TEST_CASE("a dependent's stop timeout does not hold its dependencies forever") {
  SupervisorRig rig(web_db_cache());
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.shutdown(rig.request());
  CHECK_FALSE(got_terminate(rig, "db"));
  rig.advance(5s);  // web's stop_timeout: SIGKILL
  rig.settle();
  CHECK(got_terminate(rig, "db"));
  rig.settle();
  CHECK(rig.supervisor.finished());
}

TEST_CASE("soft dependencies start alongside, never block, and outlive the dependent") {
  SupervisorRig rig(
      testing::config_with({depending("web", {}, {"metrics"}), depending("metrics", {})}));
  SUBCASE("started alongside and left running") {
    rig.supervisor.start(rig.request(), "web");
    CHECK(rig.state_of("metrics") == ServiceState::running);
    rig.supervisor.stop(rig.request(), "web");
    rig.settle();
    CHECK(rig.state_of("metrics") == ServiceState::running);
  }
  SUBCASE("a soft dependency that cannot start does not stop the dependent") {
    rig.spawner.fail_service("metrics", Error::system(2, "no metrics binary"));
    auto request = rig.request();
    rig.supervisor.start(request, "web");
    CHECK(rig.notifier.reply_to(request)->outcome == Outcome::started);
    CHECK(rig.state_of("metrics") == ServiceState::failed);
  }
  SUBCASE("a crashing soft dependency does not restart the dependent") {
    rig.supervisor.start(rig.request(), "web");
    ProcessId web = *rig.pid_of("web");
    rig.exit("metrics");
    rig.advance(100ms);
    CHECK(rig.pid_of("web") == web);
  }
}

TEST_CASE("reload: an added dependency is started, a removed one released") {
  SupervisorRig rig(testing::config_with({depending("web", {}), depending("db", {})}));
  rig.supervisor.start(rig.request(), "web");
  CHECK(rig.state_of("db") == ServiceState::stopped);

  REQUIRE(
      rig.supervisor.reload(testing::config_with({depending("web", {"db"}), depending("db", {})})));
  CHECK(rig.state_of("db") == ServiceState::running);
  CHECK(rig.supervisor.status("db")->refcount == 1);

  REQUIRE(rig.supervisor.reload(testing::config_with({depending("web", {}), depending("db", {})})));
  rig.settle();
  CHECK(rig.state_of("db") == ServiceState::stopped);
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE("reload: a service whose launch changed restarts, its dependents after it") {
  SupervisorRig rig(web_db_cache());
  rig.supervisor.start(rig.request(), "web");
  auto changed = web_db_cache();
  changed.services["db"].options = {"--new"};
  auto summary = rig.supervisor.reload(changed).value();
  CHECK(summary.restarted == std::vector<std::string>{"db"});
  CHECK(got_terminate(rig, "web"));
  rig.settle();
  CHECK(rig.spawner.latest("db")->request.argv.back() == "--new");
  CHECK(spawn_order(rig) == std::vector<std::string>{"db", "cache", "web", "db", "web"});
}

TEST_CASE("a graph of 10,000 services and 50,000 edges starts and stops completely") {
  Config config;
  constexpr int count = 10'000;
  std::uint64_t seed = 42;
  auto next = [&] { return seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; };
  for (int i = 0; i < count; ++i) {
    auto spec = testing::service(fmt::format("s{:05}", i));
    // Five edges to earlier services: a DAG by construction.
    for (int e = 0; e < 5 && i > 0; ++e) {
      auto target = fmt::format("s{:05}", (next() >> 33) % static_cast<unsigned>(i));
      if (std::ranges::find(spec.depends_on, target) == spec.depends_on.end())
        spec.depends_on.push_back(target);
    }
    config.services.emplace(spec.name, spec);
  }
  SupervisorRig rig(config);
  for (int i = 0; i < count; ++i) rig.supervisor.start(std::nullopt, fmt::format("s{:05}", i));
  CHECK(rig.spawner.live().size() == count);
  auto request = rig.request();
  rig.supervisor.shutdown(request);
  rig.settle();
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::shutdown_complete);
  CHECK(rig.spawner.live().empty());
}

TEST_CASE(
    "a service a reload dropped and brought back while stopping holds its dependencies when "
    "it runs again") {
  // Found by the simulation (seeds 1080 and 1150): brought back, it ran without holding db, so
  // db could stop under it, and a start waiting for db was never answered.
  auto config = testing::config_with({depending("web", {"db"}), depending("db", {})});
  SupervisorRig rig(config);
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(std::nullopt, "web");
  REQUIRE(rig.supervisor.reload(testing::config_with({depending("db", {})})));
  REQUIRE(rig.state_of("web") == ServiceState::stopping);
  REQUIRE(rig.supervisor.reload(config));  // back, while its old process is still exiting
  auto start = rig.request();
  rig.supervisor.start(start, "web");
  rig.advance(5s, testing::Exits::delivered);  // the old process is killed and reaped

  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::started);
  CHECK(rig.supervisor.status("db")->refcount >= 1);
  rig.supervisor.stop(std::nullopt, "db");  // a cascading stop reaches web
  CHECK(rig.state_of("web") == ServiceState::stopping);
}

TEST_CASE("a stop of every reference answers each waiting start, once, in every state") {
  // web waits for db (stopping, it ignores SIGTERM) with three starts pending; each state of
  // web is reached in turn and stop_all_references is asked there.
  auto db = depending("db", {});
  db.stop_timeout = 5s;
  auto web = depending("web", {"db"});
  SupervisorRig rig(testing::config_with({db, web}));
  rig.spawner.ignore_terminate("db");
  rig.supervisor.start(rig.request(), "db");
  rig.supervisor.restart(rig.request(), "db");
  rig.settle();
  REQUIRE(rig.state_of("db") == ServiceState::stopping);
  std::vector<RequestRef> starts;
  for (int i = 0; i < 3; ++i) {
    starts.push_back(rig.request());
    rig.supervisor.start(starts.back(), "web");
  }
  REQUIRE(rig.state_of("web") == ServiceState::waiting);
  auto stop = rig.request();
  rig.supervisor.stop_all_references(stop, "web");
  CHECK(rig.notifier.replies_count_for(stop) == 1);
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  for (auto start : starts) {
    CHECK(rig.notifier.replies_count_for(start) == 1);
    CHECK(rig.notifier.reply_to(start)->outcome == Outcome::start_failed);
  }
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.supervisor.status("web")->refcount == 0);
  rig.advance(5s);
  rig.settle();
  CHECK(rig.state_of("db") == ServiceState::running);  // the restart of db goes on
  CHECK(rig.state_of("web") == ServiceState::stopped);

  // Stopping, with starts waiting for the process to leave.
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.stop(rig.request(), "web");
  REQUIRE(rig.state_of("web") == ServiceState::stopping);
  starts.clear();
  for (int i = 0; i < 2; ++i) {
    starts.push_back(rig.request());
    rig.supervisor.start(starts.back(), "web");
  }
  auto second = rig.request();
  rig.supervisor.stop_all_references(second, "web");
  for (auto start : starts) {
    CHECK(rig.notifier.replies_count_for(start) == 1);
    CHECK(rig.notifier.reply_to(start)->outcome == Outcome::start_failed);
  }
  rig.settle();
  CHECK(rig.notifier.replies_count_for(second) == 1);
  CHECK(rig.notifier.reply_to(second)->outcome == Outcome::stopped);
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.supervisor.status("web")->refcount == 0);
}

TEST_CASE("a stop of every reference of a dependency held by starts and a dependent") {
  auto db = depending("db", {});
  auto web = depending("web", {"db"});
  SupervisorRig rig(testing::config_with({db, web}));
  for (int i = 0; i < 2; ++i) rig.supervisor.start(rig.request(), "db");
  rig.supervisor.start(rig.request(), "web");
  auto stop = rig.request();
  rig.supervisor.stop_all_references(stop, "db");
  rig.settle();
  CHECK(rig.notifier.replies_count_for(stop) == 1);
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK(rig.notifier.reply_to(stop)->message == "also stopped its dependents: web");
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.state_of("db") == ServiceState::stopped);
  CHECK(rig.supervisor.status("db")->refcount == 0);
  CHECK(rig.supervisor.status("web")->refcount == 0);
}

TEST_CASE("a restart asked while waiting claims no SIGKILL of the process that left before it") {
  auto db = depending("db", {});
  db.stop_timeout = 3s;
  auto web = depending("web", {"db"});
  web.stop_timeout = 1s;
  SupervisorRig rig(testing::config_with({db, web}));
  rig.spawner.ignore_terminate("db");
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(rig.request(), "web");
  auto restart_db = rig.request();
  rig.supervisor.restart(restart_db, "db");  // web first: it restarts after db
  rig.settle();
  rig.advance(1s);  // web's SIGKILL
  rig.settle();
  REQUIRE(rig.state_of("web") == ServiceState::waiting);
  REQUIRE(rig.state_of("db") == ServiceState::stopping);

  auto restart_web = rig.request();  // web's old process is gone: this request ends nothing
  rig.supervisor.restart(restart_web, "web");
  rig.advance(3s);  // db's SIGKILL
  rig.settle();
  REQUIRE(rig.state_of("web") == ServiceState::running);
  CHECK(rig.notifier.reply_to(restart_db)->killed);
  CHECK(rig.notifier.reply_to(restart_web)->outcome == Outcome::restarted);
  CHECK_FALSE(rig.notifier.reply_to(restart_web)->killed);
}
