// Reload without restart, and the check before acting (issue 14): a running service with a
// config_check is changed only once the check passes (exit 0); its reload signal or command
// replaces the restart a config change would cause; a failing or late check leaves the running
// process untouched and says why in its status.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::FakeProcess;
using testing::SupervisorRig;

namespace {

constexpr const char* nginx_conf = "/etc/nginx/nginx.conf";

// nginx as issue 14 describes it: `nginx -t -c {config}` first, then SIGHUP.
ServiceSpec nginx(bool with_check = true, bool with_signal = true) {
  ServiceSpec spec = testing::service("nginx");
  spec.config_file = std::string(nginx_conf);
  ConfigReload reload;
  if (with_signal) reload.signal = ReloadSignal::hangup;
  if (with_check) reload.check = {"nginx", "-t", "-c", "{config}"};
  reload.check_timeout = 5s;
  spec.reload = reload;
  return spec;
}

struct Running {
  explicit Running(ServiceSpec spec) : rig(testing::config_with({std::move(spec)})) {
    rig.supervisor.start(rig.request(), "nginx");
    pid = *rig.pid_of("nginx");
  }
  const FakeProcess& process() const { return *rig.spawner.process(pid); }
  std::string rejected() const { return rig.supervisor.status("nginx")->rejected_change; }
  SupervisorRig rig;
  ProcessId pid = 0;
};

}  // namespace

TEST_CASE("a config change with a passing check sends the reload signal, not a restart") {
  Running nginx{::nginx()};
  nginx.rig.supervisor.on_file_changed(nginx_conf);
  auto check = nginx.rig.prober.in_flight("nginx", ProbePurpose::config_check);
  REQUIRE(check);
  CHECK(check->command == std::vector<std::string>{"nginx", "-t", "-c", nginx_conf});
  CHECK(check->main_pid == nginx.pid);
  CHECK(nginx.process().reload_signals.empty());  // nothing before the check says so

  CHECK(nginx.rig.command_ends("nginx", ProbePurpose::config_check, true, "exit code 0"));
  CHECK(nginx.process().reload_signals == std::vector<ReloadSignal>{ReloadSignal::hangup});
  CHECK(nginx.process().signals.empty());
  CHECK(nginx.rig.pid_of("nginx") == nginx.pid);
  CHECK(nginx.rig.state_of("nginx") == ServiceState::running);
  CHECK(nginx.rig.supervisor.status("nginx")->restarts == 0);
  CHECK(nginx.rig.notifier.events.back().detail ==
        fmt::format("configuration file {} changed: sent SIGHUP to pid {}", nginx_conf, nginx.pid));
}

TEST_CASE("a failing check leaves the running process untouched and status shows why") {
  Running nginx{::nginx()};
  nginx.rig.supervisor.on_file_changed(nginx_conf);
  nginx.rig.command_ends("nginx", ProbePurpose::config_check, false,
                         "exit code 1: nginx: [emerg] unknown directive \"bogus\"",
                         "nginx: [emerg] unknown directive \"bogus\"\nnginx: test failed\n");
  CHECK(nginx.process().reload_signals.empty());
  CHECK(nginx.process().signals.empty());
  CHECK(nginx.process().alive);
  CHECK(nginx.rig.state_of("nginx") == ServiceState::running);
  CHECK(nginx.rejected() ==
        "config check failed: exit code 1: nginx: [emerg] unknown directive \"bogus\"");
  // The event carries the check's output for the host's log.
  CHECK(nginx.rig.notifier.events.back().output ==
        "nginx: [emerg] unknown directive \"bogus\"\nnginx: test failed\n");

  SUBCASE("a later change that passes clears it and is applied") {
    nginx.rig.supervisor.on_file_changed(nginx_conf);
    nginx.rig.command_ends("nginx", ProbePurpose::config_check, true);
    CHECK(nginx.rejected().empty());
    CHECK(nginx.process().reload_signals.size() == 1);
  }
  SUBCASE("a restart (here forced) clears it: the new process reads the file as it is") {
    auto restart = nginx.rig.request();
    nginx.rig.supervisor.force_restart(restart, "nginx");
    nginx.rig.settle();
    CHECK(nginx.rig.notifier.reply_to(restart)->outcome == Outcome::restarted);
    CHECK(nginx.rejected().empty());
  }
}

TEST_CASE("a check that does not answer within check_timeout is cancelled and counts as failed") {
  Running nginx{::nginx()};
  nginx.rig.supervisor.on_file_changed(nginx_conf);
  auto check = nginx.rig.prober.in_flight("nginx", ProbePurpose::config_check);
  REQUIRE(check);
  nginx.rig.advance(4s);
  CHECK(nginx.rig.prober.in_flight("nginx", ProbePurpose::config_check));
  nginx.rig.advance(1s);
  CHECK_FALSE(nginx.rig.prober.in_flight("nginx", ProbePurpose::config_check));
  CHECK(nginx.rig.prober.cancelled == std::vector<ProbeId>{check->id});
  CHECK(nginx.rejected() == "config check failed: timed out after 5s");
  CHECK(nginx.process().reload_signals.empty());
  CHECK(nginx.rig.pid_of("nginx") == nginx.pid);
  // Its late result is not wanted any more.
  CHECK_FALSE(nginx.rig.supervisor.on_probe_result(check->id, {true, "exit code 0"}));
}

TEST_CASE("changes and requests while a check runs start no second one; a change is rechecked") {
  Running nginx{::nginx()};
  nginx.rig.supervisor.on_file_changed(nginx_conf);
  auto reload = nginx.rig.request();
  nginx.rig.supervisor.reload_service(reload, "nginx");
  nginx.rig.supervisor.on_file_changed(nginx_conf);
  CHECK(nginx.rig.prober.started == 1);
  CHECK(nginx.rig.prober.running.size() == 1);

  // The first check read the file before the second edit: its result does not count, the
  // file is checked once more.
  nginx.rig.command_ends("nginx", ProbePurpose::config_check, true);
  CHECK(nginx.rig.prober.started == 2);
  CHECK(nginx.process().reload_signals.empty());
  CHECK_FALSE(nginx.rig.notifier.reply_to(reload));

  nginx.rig.command_ends("nginx", ProbePurpose::config_check, true);
  CHECK(nginx.process().reload_signals.size() == 1);  // one signal for all of them
  CHECK(nginx.rig.notifier.reply_to(reload)->outcome == Outcome::reloaded);
}

TEST_CASE("restart runs the check first; a failing check refuses it, --force skips it") {
  Running nginx{::nginx()};
  auto refused = nginx.rig.request();
  nginx.rig.supervisor.restart(refused, "nginx");
  CHECK(nginx.rig.prober.in_flight("nginx", ProbePurpose::config_check));
  CHECK(nginx.process().signals.empty());
  nginx.rig.command_ends("nginx", ProbePurpose::config_check, false, "exit code 1: bad");
  auto reply = nginx.rig.notifier.reply_to(refused);
  REQUIRE(reply);
  CHECK(reply->outcome == Outcome::check_failed);
  CHECK(reply->message == "not restarted: config check failed: exit code 1: bad");
  CHECK(nginx.rig.pid_of("nginx") == nginx.pid);

  SUBCASE("a passing check lets it restart") {
    auto restart = nginx.rig.request();
    nginx.rig.supervisor.restart(restart, "nginx");
    nginx.rig.command_ends("nginx", ProbePurpose::config_check, true);
    nginx.rig.settle();
    CHECK(nginx.rig.notifier.reply_to(restart)->outcome == Outcome::restarted);
    CHECK(nginx.rig.pid_of("nginx") != nginx.pid);
  }
  SUBCASE("force restarts at once, without a check") {
    auto forced = nginx.rig.request();
    std::size_t checks = nginx.rig.prober.started;
    nginx.rig.supervisor.force_restart(forced, "nginx");
    nginx.rig.settle();
    CHECK(nginx.rig.prober.started == checks);
    CHECK(nginx.rig.notifier.reply_to(forced)->outcome == Outcome::restarted);
    CHECK(nginx.rig.pid_of("nginx") != nginx.pid);
  }
}

TEST_CASE("reload_service: checked, then signalled; answered when done") {
  Running nginx{::nginx()};
  auto reload = nginx.rig.request();
  nginx.rig.supervisor.reload_service(reload, "nginx");
  CHECK_FALSE(nginx.rig.notifier.reply_to(reload));
  nginx.rig.command_ends("nginx", ProbePurpose::config_check, true);
  auto reply = nginx.rig.notifier.reply_to(reload);
  REQUIRE(reply);
  CHECK(reply->outcome == Outcome::reloaded);
  CHECK(reply->message == fmt::format("sent SIGHUP to pid {}", nginx.pid));
  CHECK(nginx.process().reload_signals.size() == 1);
}

TEST_CASE("reload_service of a service that is not running, or has no reload, is refused") {
  SUBCASE("not running") {
    SupervisorRig rig(testing::config_with({nginx()}));
    auto reload = rig.request();
    rig.supervisor.reload_service(reload, "nginx");
    CHECK(rig.notifier.reply_to(reload)->outcome == Outcome::not_running);
    CHECK(rig.prober.started == 0);
  }
  SUBCASE("no reload_signal nor reload: refused as systemd refuses reload without ExecReload") {
    Running plain{::nginx(true, false)};
    auto reload = plain.rig.request();
    plain.rig.supervisor.reload_service(reload, "nginx");
    auto reply = plain.rig.notifier.reply_to(reload);
    CHECK(reply->outcome == Outcome::no_reload);
    CHECK(is_failure(reply->outcome));
    CHECK(plain.rig.pid_of("nginx") == plain.pid);
  }
}

TEST_CASE("a reload command runs instead of a signal, with its outcome in the reply") {
  ServiceSpec spec = nginx(false, false);
  spec.reload->command = {"/usr/sbin/nginx", "-s", "reload", "-g", "pid {pid}; # {name}"};
  Running nginx{spec};
  auto reload = nginx.rig.request();
  nginx.rig.supervisor.reload_service(reload, "nginx");
  auto command = nginx.rig.prober.in_flight("nginx", ProbePurpose::reload);
  REQUIRE(command);
  CHECK(command->command.back() == fmt::format("pid {}; # nginx", nginx.pid));
  nginx.rig.command_ends("nginx", ProbePurpose::reload, false, "exit code 2: no pid file");
  auto reply = nginx.rig.notifier.reply_to(reload);
  CHECK(reply->outcome == Outcome::reload_failed);
  CHECK(reply->message == "reload failed: exit code 2: no pid file");
  CHECK(nginx.rig.pid_of("nginx") == nginx.pid);

  auto again = nginx.rig.request();
  nginx.rig.supervisor.reload_service(again, "nginx");
  nginx.rig.command_ends("nginx", ProbePurpose::reload, true, "exit code 0");
  CHECK(nginx.rig.notifier.reply_to(again)->outcome == Outcome::reloaded);
  CHECK(nginx.rejected().empty());
}

TEST_CASE("without a check, a config change sends the signal at once") {
  Running nginx{::nginx(false, true)};
  nginx.rig.supervisor.on_file_changed(nginx_conf);
  CHECK(nginx.rig.prober.started == 0);
  CHECK(nginx.process().reload_signals.size() == 1);
  CHECK(nginx.rig.pid_of("nginx") == nginx.pid);
}

TEST_CASE("a check alone guards the restart a config change causes") {
  Running nginx{::nginx(true, false)};
  nginx.rig.advance(11s);  // up past backoff_reset_after: restarted at once, not backed off
  nginx.rig.supervisor.on_file_changed(nginx_conf);
  CHECK(nginx.rig.pid_of("nginx") == nginx.pid);
  nginx.rig.command_ends("nginx", ProbePurpose::config_check, true);
  nginx.rig.settle();
  CHECK(nginx.rig.pid_of("nginx") != nginx.pid);
  CHECK(nginx.rig.supervisor.status("nginx")->restarts == 1);
}

TEST_CASE("a process that goes away while its check runs: the check is cancelled, waiters told") {
  Running nginx{::nginx()};
  auto reload = nginx.rig.request();
  auto restart = nginx.rig.request();
  nginx.rig.supervisor.reload_service(reload, "nginx");
  nginx.rig.supervisor.restart(restart, "nginx");
  auto check = nginx.rig.prober.in_flight("nginx", ProbePurpose::config_check);
  nginx.rig.exit("nginx", ExitStatus::exited(1));
  CHECK(nginx.rig.prober.cancelled == std::vector<ProbeId>{check->id});
  CHECK(nginx.rig.notifier.reply_to(reload)->outcome == Outcome::not_running);
  CHECK(nginx.rig.notifier.reply_to(restart)->outcome == Outcome::start_failed);
  CHECK(nginx.rig.notifier.replies_count_for(reload) == 1);
  CHECK_FALSE(nginx.rig.supervisor.on_probe_result(check->id, {true, "exit code 0"}));
}

TEST_CASE("a service still starting is restarted by a config change, as before") {
  ServiceSpec spec = nginx();
  spec.readiness.kind = Readiness::Kind::notify;
  SupervisorRig rig(testing::config_with({spec}));
  rig.supervisor.start(rig.request(), "nginx");
  ProcessId first = *rig.pid_of("nginx");
  rig.supervisor.on_file_changed(nginx_conf);
  rig.settle();
  CHECK(rig.prober.started == 0);
  CHECK(rig.pid_of("nginx") != first);
}

TEST_CASE("without a Prober nothing can run the check: the change is refused, not applied") {
  testing::FakeClock clock;
  testing::FakeSpawner spawner;
  testing::RecordingNotifier notifier;
  ServiceSupervisor supervisor(testing::config_with({nginx()}), clock, spawner, notifier);
  supervisor.start(std::nullopt, "nginx");
  ProcessId pid = *supervisor.status("nginx")->pid;
  supervisor.on_file_changed(nginx_conf);
  supervisor.on_file_changed(nginx_conf);
  CHECK(supervisor.status("nginx")->rejected_change == "config check failed: no Prober to run it");
  CHECK(spawner.process(pid)->reload_signals.empty());
  CHECK(supervisor.status("nginx")->pid == pid);
}
