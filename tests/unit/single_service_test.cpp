// add_service and remove_service (issue 16 item 5): one service in or out without the host
// building a whole Config; the same checks and outcomes as a reload that adds or removes it.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
// "db" running, "web" depending on it and running too, "batch" stopped.
struct ThreeServices : SupervisorRig {
  ThreeServices() : SupervisorRig(config()) { supervisor.start(request(), "web"); }
  static Config config() {
    auto web = testing::service("web");
    web.depends_on = {"db"};
    return testing::config_with({testing::service("db"), web, testing::service("batch")});
  }
};

bool mentions(const std::vector<Error>& errors, std::string_view words) {
  for (const Error& error : errors)
    if (error.to_string().find(words) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("an added service appears stopped and starts on request, as after a reload") {
  ThreeServices rig;
  auto summary = rig.supervisor.add_service(testing::service("api"));
  REQUIRE(summary);
  CHECK(summary->added == std::vector<std::string>{"api"});
  CHECK(summary->removed.empty());
  CHECK(summary->restarted.empty());
  CHECK(rig.state_of("api") == ServiceState::stopped);
  CHECK(rig.supervisor.service_count() == 4);
  rig.supervisor.start(rig.request(), "api");
  CHECK(rig.state_of("api") == ServiceState::running);
  CHECK(rig.state_of("web") == ServiceState::running);  // the others are untouched
}

TEST_CASE("an added service with start = boot starts at once, and may depend on running ones") {
  ThreeServices rig;
  auto api = testing::service("api");
  api.start = StartMode::boot;
  api.depends_on = {"db"};
  REQUIRE(rig.supervisor.add_service(api));
  CHECK(rig.state_of("api") == ServiceState::running);
  CHECK(rig.supervisor.status("db")->refcount == 2);  // held by web and by api
}

TEST_CASE("adding a name already configured is refused, and nothing changes") {
  ThreeServices rig;
  ProcessId db = *rig.pid_of("db");
  auto again = testing::service("db");
  again.options = {"--other"};
  auto refused = rig.supervisor.add_service(again);
  REQUIRE_FALSE(refused);
  CHECK(mentions(refused.error(), "services.db: a service named 'db' is configured already"));
  CHECK(rig.pid_of("db") == db);
  CHECK(rig.supervisor.config().services.at("db").options.empty());
}

TEST_CASE("adding a service that depends on an unknown one is refused as a reload would be") {
  ThreeServices rig;
  auto api = testing::service("api");
  api.depends_on = {"cache"};
  auto refused = rig.supervisor.add_service(api);
  REQUIRE_FALSE(refused);
  CHECK(mentions(refused.error(), "cache"));
  CHECK_FALSE(rig.supervisor.status("api"));
  CHECK(rig.supervisor.service_count() == 3);
}

TEST_CASE("adding a service whose spec reload refuses returns reload's errors") {
  ThreeServices rig;
  auto api = testing::service("api");
  api.binary.clear();
  auto refused = rig.supervisor.add_service(api);
  REQUIRE_FALSE(refused);
  CHECK(mentions(refused.error(), "services.api"));
  CHECK_FALSE(rig.supervisor.status("api"));
}

TEST_CASE("a removed stopped service is gone at once") {
  ThreeServices rig;
  auto summary = rig.supervisor.remove_service("batch");
  REQUIRE(summary);
  CHECK(summary->removed == std::vector<std::string>{"batch"});
  CHECK_FALSE(rig.supervisor.status("batch"));
  CHECK(rig.supervisor.service_count() == 2);
  auto start = rig.request();
  rig.supervisor.start(start, "batch");
  CHECK(rig.notifier.reply_to(start)->outcome == Outcome::unknown_service);
}

TEST_CASE("a removed running service is stopped and forgotten once reaped") {
  ThreeServices rig;
  REQUIRE(rig.supervisor.remove_service("web"));
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK(rig.supervisor.service_count() == 2);
  rig.settle();
  CHECK_FALSE(rig.supervisor.status("web"));
  CHECK_FALSE(rig.pid_of("web"));
  // db was held by web alone (web's start took no reference on it): nothing wants it now.
  CHECK(rig.state_of("db") == ServiceState::stopped);
  CHECK(rig.spawner.live().empty());
}

TEST_CASE("a start waiting for a removed service is answered start_failed at once") {
  auto slow = testing::service("slow");
  slow.readiness.kind = Readiness::Kind::notify;
  SupervisorRig rig(testing::config_with({slow}));
  auto start = rig.request();
  rig.supervisor.start(start, "slow");
  REQUIRE(rig.state_of("slow") == ServiceState::starting);
  REQUIRE(rig.supervisor.remove_service("slow"));
  auto reply = rig.notifier.reply_to(start);
  REQUIRE(reply);
  CHECK(reply->outcome == Outcome::start_failed);
  CHECK(reply->message == "removed from the configuration");
  CHECK(rig.state_of("slow") == ServiceState::stopping);  // its process is still on its way out
  rig.settle();
  CHECK_FALSE(rig.supervisor.status("slow"));
}

TEST_CASE("removing a service others depend on is refused, naming them, and nothing changes") {
  ThreeServices rig;
  auto refused = rig.supervisor.remove_service("db");
  REQUIRE_FALSE(refused);
  CHECK(mentions(refused.error(), "cannot remove 'db': web depends on it (remove it first)"));
  CHECK(rig.state_of("db") == ServiceState::running);
  CHECK(rig.supervisor.service_count() == 3);
}

TEST_CASE("removing a service arm.default_services names is refused") {
  auto config = ThreeServices::config();
  config.arm.default_services = {"batch"};
  SupervisorRig rig(config);
  auto refused = rig.supervisor.remove_service("batch");
  REQUIRE_FALSE(refused);
  CHECK(mentions(refused.error(), "arm.default_services names it"));
  CHECK(rig.supervisor.config() == config);
}

TEST_CASE("removing an unknown service says so, with a guess at the name meant") {
  ThreeServices rig;
  auto refused = rig.supervisor.remove_service("bacth");
  REQUIRE_FALSE(refused);
  CHECK(
      mentions(refused.error(), "services.bacth: unknown service 'bacth' (did you mean 'batch'?)"));
}

TEST_CASE("a service removed and added back while it stops starts again with the new spec") {
  ThreeServices rig;
  REQUIRE(rig.supervisor.remove_service("batch"));
  rig.supervisor.start(rig.request(), "db");
  REQUIRE(rig.supervisor.remove_service("web"));
  auto web = testing::service("web");
  web.options = {"--new"};
  auto summary = rig.supervisor.add_service(web);
  REQUIRE(summary);
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::stopped);  // added back: stopped, as a new one
  rig.supervisor.start(rig.request(), "web");
  CHECK(rig.spawner.latest("web")->request.argv ==
        std::vector<std::string>{"/usr/bin/web", "--new"});
}

TEST_CASE("during shutdown adding and removing are refused") {
  ThreeServices rig;
  rig.supervisor.shutdown(rig.request());
  CHECK_FALSE(rig.supervisor.add_service(testing::service("api")));
  CHECK_FALSE(rig.supervisor.remove_service("batch"));
  CHECK(rig.supervisor.status("batch"));
}
