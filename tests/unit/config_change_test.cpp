// A change to a service's own configuration file restarts it: an automatic restart, paced by
// the backoff and limited by the restart intensity exactly as a crash's.
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
  rig.advance(10s);  // a healthy run (backoff_reset_after): it restarts as soon as it is reaped

  rig.supervisor.on_file_changed("/etc/web.conf");
  CHECK(rig.state_of("web") == ServiceState::stopping);
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(*rig.pid_of("web") != web_pid);
  CHECK(*rig.pid_of("db") == db_pid);
  auto status = *rig.supervisor.status("web");
  CHECK(status.refcount == 1);
  CHECK(status.restarts == 1);  // an automatic restart, counted as a crash's is
}

TEST_CASE("a change soon after a start waits out the backoff, which doubles as for crashes") {
  auto spec = testing::service("web");
  spec.config_file = "/etc/web.conf";
  spec.backoff_initial = 100ms;
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  // A service that rewrites its own file as it starts: each start causes a change.
  for (auto delay : {100ms, 200ms, 400ms, 800ms}) {
    rig.supervisor.on_file_changed("/etc/web.conf");
    rig.settle();
    auto status = *rig.supervisor.status("web");
    CHECK(status.state == ServiceState::backoff);
    CHECK(status.last_error == "configuration file /etc/web.conf changed");
    CHECK(*status.next_restart_at == rig.clock.now() + delay);
    rig.advance(delay);
    CHECK(rig.state_of("web") == ServiceState::running);
  }
  CHECK(rig.supervisor.status("web")->restarts == 4);
}

TEST_CASE("changes beyond max_restarts within the window leave the service failed, saying why") {
  auto spec = testing::service("web");
  spec.config_file = "/etc/web.conf";
  spec.backoff_initial = 100ms;
  spec.max_restarts = 3;
  spec.restart_window = 1min;
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 3; ++i) {
    rig.supervisor.on_file_changed("/etc/web.conf");
    rig.advance(1s, testing::Exits::delivered);
    REQUIRE(rig.state_of("web") == ServiceState::running);
  }
  rig.supervisor.on_file_changed("/etc/web.conf");
  CHECK(rig.state_of("web") == ServiceState::stopping);  // stopped first: it was running
  rig.settle();
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::failed);
  CHECK(status.last_error ==
        "configuration file /etc/web.conf changed; restarted 3 times within 60s, not "
        "restarting");
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("config changes and crashes share one restart intensity") {
  auto spec = testing::service("web");
  spec.config_file = "/etc/web.conf";
  spec.backoff_initial = 100ms;
  spec.backoff_max = 100ms;
  spec.max_restarts = 2;
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "web");
  rig.exit("web");
  rig.advance(100ms);
  rig.supervisor.on_file_changed("/etc/web.conf");
  rig.advance(1s, testing::Exits::delivered);
  REQUIRE(rig.state_of("web") == ServiceState::running);
  rig.exit("web");  // the third restart within the window
  CHECK(rig.state_of("web") == ServiceState::failed);
}

TEST_CASE("a configuration change during backoff does not cut it short") {
  SupervisorRig rig(web_with_config_file());
  rig.supervisor.start(rig.request(), "web");
  rig.exit("web");
  TimePoint due = *rig.supervisor.next_deadline();
  rig.supervisor.on_file_changed("/etc/web.conf");
  CHECK(rig.state_of("web") == ServiceState::backoff);
  CHECK(*rig.supervisor.next_deadline() == due);
  // An operator who fixed the file and wants it now says so.
  rig.supervisor.restart(rig.request(), "web");
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE("a stop while a config-change restart is pending stops it for good") {
  SupervisorRig rig(web_with_config_file());
  auto start = rig.request();
  rig.supervisor.start(start, "web");
  rig.supervisor.on_file_changed("/etc/web.conf");  // soon after the start: paced
  auto stop = rig.request();
  rig.supervisor.stop(stop, "web");
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
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

TEST_CASE("with config_section, only a change of that section restarts the service") {
  auto web = testing::service("web");
  web.config_file = "/etc/shared.conf";
  web.config_section = "web";
  auto db = testing::service("db");
  db.config_file = "/etc/shared.conf";
  db.config_section = "db";
  SupervisorRig rig(testing::config_with({web, db}));
  CHECK(rig.watcher.watching("/etc/shared.conf", "web"));
  CHECK(rig.watcher.watching("/etc/shared.conf", "db"));
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.start(rig.request(), "db");
  rig.advance(10s);
  ProcessId web_pid = *rig.pid_of("web");
  rig.supervisor.on_file_changed(WatchedFile{"/etc/shared.conf", "db"});
  rig.settle();
  CHECK(*rig.pid_of("web") == web_pid);
  CHECK(rig.supervisor.status("db")->restarts == 1);
  CHECK(rig.supervisor.status("web")->restarts == 0);
  rig.supervisor.on_file_changed("/etc/shared.conf");  // the whole file: nobody watches that
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE("a reload that changes config_section moves the watch without a restart") {
  auto web = testing::service("web");
  web.config_file = "/etc/shared.conf";
  SupervisorRig rig(testing::config_with({web}));
  rig.supervisor.start(rig.request(), "web");
  web.config_section = "web";
  auto summary = rig.supervisor.reload(testing::config_with({web}));
  REQUIRE(summary);
  CHECK(summary->updated == std::vector<std::string>{"web"});
  CHECK(rig.watcher.watching("/etc/shared.conf", "web"));
  CHECK_FALSE(rig.watcher.watching("/etc/shared.conf"));
}

TEST_CASE("with a config_digest, the host reloads: a changed digest restarts only its service") {
  // What the GNUnet reader gives services sharing one peer.conf: the supervisor watches no
  // file for them, the host reloads on a change, and the digests tell whom it concerns.
  auto web = testing::service("web");
  web.config_file = "/etc/peer.conf";
  web.config_digest = "web-1";
  auto db = testing::service("db");
  db.config_file = "/etc/peer.conf";
  db.config_digest = "db-1";
  SupervisorRig rig(testing::config_with({web, db}));
  CHECK_FALSE(rig.watcher.watching("/etc/peer.conf"));
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.start(rig.request(), "db");
  rig.advance(10s);
  ProcessId web_pid = *rig.pid_of("web");
  ProcessId db_pid = *rig.pid_of("db");

  db.config_digest = "db-2";  // [db] edited
  auto summary = rig.supervisor.reload(testing::config_with({web, db}));
  REQUIRE(summary);
  CHECK(summary->restarted == std::vector<std::string>{"db"});
  rig.settle();
  CHECK(*rig.pid_of("web") == web_pid);
  CHECK(*rig.pid_of("db") != db_pid);
  CHECK(rig.state_of("db") == ServiceState::running);

  // The same digests again (a comment edited): nothing restarts.
  db_pid = *rig.pid_of("db");
  summary = rig.supervisor.reload(testing::config_with({web, db}));
  REQUIRE(summary);
  CHECK(summary->restarted.empty());
  rig.settle();
  CHECK(*rig.pid_of("web") == web_pid);
  CHECK(*rig.pid_of("db") == db_pid);
}

TEST_CASE("a reload that drops a service's config_digest hands the file back to the watch") {
  auto web = testing::service("web");
  web.config_file = "/etc/peer.conf";
  web.config_digest = "web-1";
  SupervisorRig rig(testing::config_with({web}));
  CHECK_FALSE(rig.watcher.watching("/etc/peer.conf"));
  web.config_digest = std::nullopt;
  REQUIRE(rig.supervisor.reload(testing::config_with({web})));
  CHECK(rig.watcher.watching("/etc/peer.conf"));
}

TEST_CASE("a restart request during the backoff after a SIGKILLed config restart claims no kill") {
  auto web = testing::service("web");
  web.config_file = "/etc/web.conf";
  web.stop_timeout = 1s;
  SupervisorRig rig(testing::config_with({web}));
  rig.spawner.ignore_terminate("web");
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.on_file_changed("/etc/web.conf");  // it started just now: backoff once reaped
  rig.settle();
  rig.advance(1s);  // SIGKILL
  rig.settle();
  REQUIRE(rig.state_of("web") == ServiceState::backoff);

  auto restart = rig.request();
  rig.supervisor.restart(restart, "web");  // runs it at once; this request stopped nothing
  CHECK(rig.notifier.reply_to(restart)->outcome == Outcome::restarted);
  CHECK_FALSE(rig.notifier.reply_to(restart)->killed);
}

TEST_CASE("with the default limit, the sixth change within a minute fails even a healthy service") {
  // docs/config.md, "Defaults and why": config-change restarts count towards the default 5 in
  // 60 s, so an operator editing the file again and again meets it.
  SupervisorRig rig(web_with_config_file());
  rig.supervisor.start(rig.request(), "web");
  for (int i = 0; i < 5; ++i) {
    rig.advance(10s, testing::Exits::delivered);  // each run healthy: restarted at once
    rig.supervisor.on_file_changed("/etc/web.conf");
    rig.settle();
    REQUIRE(rig.state_of("web") == ServiceState::running);
  }
  rig.advance(9s, testing::Exits::delivered);  // the first restart is still within the minute
  rig.supervisor.on_file_changed("/etc/web.conf");
  rig.settle();
  CHECK(rig.state_of("web") == ServiceState::failed);
}
