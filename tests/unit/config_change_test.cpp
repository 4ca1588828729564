// A change to a service's own configuration file restarts it with a fresh backoff.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
// "web" reads /etc/web.conf; "db" has no configuration file.
Config web_with_config_file() {
  auto web = testing::service("web");
  web.config_file = "/etc/web.conf";
  return testing::config_with({web, testing::service("db")});
}
}  // namespace

TEST_CASE("the supervisor asks to watch each service's configuration file") {
  SupervisorRig rig(web_with_config_file());
  CHECK(rig.watcher.watching("/etc/web.conf"));
  CHECK(rig.spawner.spawn_count() == 0);
}

TEST_CASE("a changed configuration file restarts the running service that uses it") {
  SupervisorRig rig(web_with_config_file());
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.start(rig.request(), "db");
  ProcessId web_pid = *rig.pid_of("web");
  ProcessId db_pid = *rig.pid_of("db");

  rig.supervisor.on_file_changed("/etc/web.conf");
  CHECK(rig.state_of("web") == ServiceState::stopping);
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(*rig.pid_of("web") != web_pid);
  CHECK(*rig.pid_of("db") == db_pid);
  CHECK(rig.supervisor.status("web")->refcount == 1);
}

TEST_CASE("a configuration change resets the backoff") {
  SupervisorRig rig(web_with_config_file());
  rig.supervisor.start(rig.request(), "web");
  rig.exit("web");
  rig.advance(100ms);
  rig.exit("web");
  rig.advance(200ms);
  CHECK(rig.supervisor.status("web")->next_backoff == 400ms);
  rig.supervisor.on_file_changed("/etc/web.conf");
  rig.settle();
  CHECK(rig.supervisor.status("web")->next_backoff == 100ms);
}

TEST_CASE("a configuration change during backoff tries again at once") {
  SupervisorRig rig(web_with_config_file());
  rig.supervisor.start(rig.request(), "web");
  rig.exit("web");
  rig.supervisor.on_file_changed("/etc/web.conf");
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("a change to the file of a stopped service starts nothing") {
  SupervisorRig rig(web_with_config_file());
  rig.supervisor.on_file_changed("/etc/web.conf");
  rig.supervisor.on_file_changed("/etc/unrelated.conf");
  CHECK(rig.spawner.spawn_count() == 0);
}

TEST_CASE("the configuration file is passed with -c and must exist when spawned") {
  SupervisorRig rig(web_with_config_file());
  rig.supervisor.start(rig.request(), "web");
  const auto& request = rig.spawner.latest("web")->request;
  CHECK(request.argv == std::vector<std::string>{"/usr/bin/web", "-c", "/etc/web.conf"});
  CHECK(request.required_files == std::vector<std::string>{"/etc/web.conf"});
}
