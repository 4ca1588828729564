// Starting and stopping by name: refcounts, truthful replies, failed spawns.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {
Config web_only() {
  return testing::config_with({testing::service("web")});
}
}  // namespace

TEST_CASE("a start spawns the service and is answered once it runs") {
  SupervisorRig rig(web_only());
  auto request = rig.request();
  rig.supervisor.start(request, "web");

  REQUIRE(rig.spawner.live().size() == 1);
  CHECK(rig.spawner.latest("web")->request.argv == std::vector<std::string>{"/usr/bin/web"});
  auto reply = rig.notifier.reply_to(request);
  REQUIRE(reply);
  CHECK(reply->outcome == Outcome::started);
  CHECK(reply->pid == rig.pid_of("web"));
  CHECK(reply->refcount == 1);
  CHECK(rig.state_of("web") == ServiceState::running);
}

TEST_CASE("starting a running service takes another reference without a second process") {
  SupervisorRig rig(web_only());
  rig.supervisor.start(rig.request(), "web");
  auto second = rig.request(2);
  rig.supervisor.start(second, "web");

  CHECK(rig.spawner.spawn_count() == 1);
  CHECK(rig.notifier.reply_to(second)->outcome == Outcome::already_running);
  CHECK(rig.supervisor.status("web")->refcount == 2);
}

TEST_CASE("a stop with other holders only drops a reference; the last stop ends the process") {
  SupervisorRig rig(web_only());
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.start(rig.request(), "web");
  ProcessId pid = *rig.pid_of("web");

  auto first_stop = rig.request();
  rig.supervisor.stop(first_stop, "web");
  CHECK(rig.notifier.reply_to(first_stop)->outcome == Outcome::still_referenced);
  CHECK(rig.notifier.reply_to(first_stop)->refcount == 1);
  CHECK(rig.spawner.process(pid)->signals.empty());

  auto last_stop = rig.request();
  rig.supervisor.stop(last_stop, "web");
  CHECK(rig.spawner.process(pid)->signals == std::vector{StopSignal::terminate});
  CHECK(rig.state_of("web") == ServiceState::stopping);
  CHECK_FALSE(rig.notifier.reply_to(last_stop));  // not until the process is reaped

  rig.settle();
  CHECK(rig.notifier.reply_to(last_stop)->outcome == Outcome::stopped);
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.supervisor.status("web")->refcount == 0);
}

TEST_CASE("several clients waiting on one stop each learn the real outcome once it is reaped") {
  SupervisorRig rig(web_only());
  rig.supervisor.start(rig.request(), "web");
  auto first = rig.request(1);
  auto second = rig.request(2);
  rig.supervisor.stop(first, "web");
  rig.supervisor.stop(second, "web");
  CHECK(rig.notifier.replies_count_for(first) == 0);
  CHECK(rig.notifier.replies_count_for(second) == 0);

  rig.settle();
  CHECK(rig.notifier.reply_to(first)->outcome == Outcome::stopped);
  CHECK(rig.notifier.reply_to(second)->outcome == Outcome::stopped);
  CHECK(rig.notifier.replies_count_for(first) == 1);
}

TEST_CASE("a start while the old process is stopping is answered when the new one runs") {
  SupervisorRig rig(web_only());
  rig.supervisor.start(rig.request(), "web");
  ProcessId old_pid = *rig.pid_of("web");
  auto stop = rig.request(1);
  rig.supervisor.stop(stop, "web");
  auto start = rig.request(2);
  rig.supervisor.start(start, "web");
  CHECK_FALSE(rig.notifier.reply_to(start));

  rig.settle();
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  auto started = rig.notifier.reply_to(start);
  REQUIRE(started);
  CHECK(started->outcome == Outcome::started);
  CHECK(started->pid != old_pid);
  CHECK(rig.state_of("web") == ServiceState::running);
  CHECK(rig.supervisor.status("web")->refcount == 1);
}

TEST_CASE("stopping a configured service that is not running says so") {
  SupervisorRig rig(web_only());
  auto request = rig.request();
  rig.supervisor.stop(request, "web");
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::not_running);
}

// Every request by name, as a callable: start, stop, restart, reset.
std::vector<void (*)(ServiceSupervisor&, RequestRef, std::string_view)> requests_by_name() {
  return {[](ServiceSupervisor& s, RequestRef r, std::string_view n) { s.start(r, n); },
          [](ServiceSupervisor& s, RequestRef r, std::string_view n) { s.stop(r, n); },
          [](ServiceSupervisor& s, RequestRef r, std::string_view n) { s.restart(r, n); },
          [](ServiceSupervisor& s, RequestRef r, std::string_view n) { s.reset(r, n); }};
}

TEST_CASE("unknown names are answered unknown_service for every request") {
  SupervisorRig rig(web_only());
  for (auto act : requests_by_name()) {
    auto request = rig.request();
    act(rig.supervisor, request, "nope");
    CHECK(rig.notifier.reply_to(request)->outcome == Outcome::unknown_service);
    CHECK(rig.notifier.reply_to(request)->service == "nope");
    CHECK(rig.notifier.reply_to(request)->message == "unknown service 'nope'");
  }
  CHECK(rig.spawner.spawn_count() == 0);
}

TEST_CASE("a misspelt name is answered with the configured name it probably meant") {
  SupervisorRig rig(testing::config_with(
      {testing::service("nginx"), testing::service("postgres"), testing::service("redis")}));
  for (auto act : requests_by_name()) {
    auto request = rig.request();
    act(rig.supervisor, request, "ngnix");
    CHECK(rig.notifier.reply_to(request)->outcome == Outcome::unknown_service);
    CHECK(rig.notifier.reply_to(request)->message ==
          "unknown service 'ngnix' (did you mean 'nginx'?)");
  }
  CHECK(rig.supervisor.unknown_service_message("postgress") ==
        "unknown service 'postgress' (did you mean 'postgres'?)");
  // Three edits away is another name, not a typo.
  CHECK(rig.supervisor.unknown_service_message("mysql") == "unknown service 'mysql'");
}

TEST_CASE("two letters swapped are one slip, nearer than a name two edits away") {
  // "wbe" is two edits from "db" too: counted as two substitutions, the swap tied with it.
  SupervisorRig rig(testing::config_with({testing::service("db"), testing::service("web")}));
  CHECK(rig.supervisor.unknown_service_message("wbe") ==
        "unknown service 'wbe' (did you mean 'web'?)");
  CHECK(rig.supervisor.unknown_service_message("dbb") ==
        "unknown service 'dbb' (did you mean 'db'?)");
}

TEST_CASE("a failed spawn is reported to the client with the reason, never as a silent pid 0") {
  SupervisorRig rig(web_only());
  rig.spawner.fail_next_spawn(
      arm::Error::system(2, "cannot execute /usr/bin/web: No such file or directory"));
  auto request = rig.request();
  rig.supervisor.start(request, "web");

  auto reply = rig.notifier.reply_to(request);
  CHECK(reply->outcome == Outcome::start_failed);
  CHECK(reply->message == "cannot execute /usr/bin/web: No such file or directory");
  CHECK_FALSE(reply->pid);
  auto status = *rig.supervisor.status("web");
  CHECK(status.state == ServiceState::failed);
  CHECK(status.refcount == 0);
  CHECK(status.last_error == reply->message);
  CHECK_FALSE(rig.supervisor.next_deadline());  // an explicit start that fails is not retried

  auto retry = rig.request();
  rig.supervisor.start(retry, "web");
  CHECK(rig.notifier.reply_to(retry)->outcome == Outcome::started);
}

TEST_CASE("restart keeps the reference count and answers with the new process") {
  SupervisorRig rig(web_only());
  rig.supervisor.start(rig.request(), "web");
  rig.supervisor.start(rig.request(), "web");
  ProcessId old_pid = *rig.pid_of("web");
  auto request = rig.request();
  rig.supervisor.restart(request, "web");
  CHECK_FALSE(rig.notifier.reply_to(request));

  rig.settle();
  auto reply = rig.notifier.reply_to(request);
  CHECK(reply->outcome == Outcome::restarted);
  CHECK(reply->pid != old_pid);
  CHECK(reply->refcount == 2);
}

TEST_CASE("restarting a stopped service starts it") {
  SupervisorRig rig(web_only());
  auto request = rig.request();
  rig.supervisor.restart(request, "web");
  CHECK(rig.notifier.reply_to(request)->outcome == Outcome::started);
  CHECK(rig.supervisor.status("web")->refcount == 1);
}

TEST_CASE("a process that ignores SIGTERM is killed after its stop_timeout") {
  auto spec = testing::service("term_ignorer");
  spec.stop_timeout = 2s;
  SupervisorRig rig(testing::config_with({spec}));
  rig.spawner.ignore_terminate("term_ignorer");
  rig.supervisor.start(rig.request(), "term_ignorer");
  ProcessId pid = *rig.pid_of("term_ignorer");
  auto stop = rig.request();
  rig.supervisor.stop(stop, "term_ignorer");
  rig.settle();
  CHECK(rig.state_of("term_ignorer") == ServiceState::stopping);

  rig.advance(1999ms);
  CHECK(rig.spawner.process(pid)->signals == std::vector{StopSignal::terminate});
  rig.advance(1ms);
  CHECK(rig.spawner.process(pid)->signals == std::vector{StopSignal::terminate, StopSignal::kill});
  rig.settle();
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK(rig.spawner.signals_after_exit() == 0);
  CHECK_FALSE(rig.supervisor.next_deadline());
}

TEST_CASE("a stop whose process needed SIGKILL says so, naming the stop_timeout") {
  auto spec = testing::service("term_ignorer");
  spec.stop_timeout = 1500ms;
  SupervisorRig rig(testing::config_with({spec}));
  rig.spawner.ignore_terminate("term_ignorer");
  rig.supervisor.start(rig.request(), "term_ignorer");
  auto stop = rig.request();
  rig.supervisor.stop(stop, "term_ignorer");
  rig.settle();
  rig.advance(1500ms);
  rig.settle();
  auto reply = rig.notifier.reply_to(stop);
  CHECK(reply->outcome == Outcome::stopped);
  CHECK(reply->killed);
  CHECK(reply->message ==
        "killed with SIGKILL: it did not exit within stop_timeout 1.5s of SIGTERM");
}

TEST_CASE("a stop whose process left on SIGTERM does not claim a SIGKILL") {
  SupervisorRig rig(web_only());
  rig.supervisor.start(rig.request(), "web");
  auto stop = rig.request();
  rig.supervisor.stop(stop, "web");
  rig.settle();
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK_FALSE(rig.notifier.reply_to(stop)->killed);
  CHECK(rig.notifier.reply_to(stop)->message.empty());
}

TEST_CASE("a restart whose old process needed SIGKILL says so; the next restart does not") {
  auto spec = testing::service("term_ignorer");
  spec.stop_timeout = 5s;
  SupervisorRig rig(testing::config_with({spec}));
  rig.spawner.ignore_terminate("term_ignorer");
  rig.supervisor.start(rig.request(), "term_ignorer");
  auto restart = rig.request();
  rig.supervisor.restart(restart, "term_ignorer");
  rig.settle();
  rig.advance(5s);
  rig.settle();
  CHECK(rig.notifier.reply_to(restart)->outcome == Outcome::restarted);
  CHECK(rig.notifier.reply_to(restart)->killed);
  CHECK(rig.notifier.reply_to(restart)->message ==
        "killed with SIGKILL: it did not exit within stop_timeout 5s of SIGTERM");

  auto again = rig.request();
  rig.supervisor.restart(again, "term_ignorer");
  rig.settle();
  rig.exit("term_ignorer", ExitStatus::signaled(15));  // this time it leaves before the deadline
  CHECK(rig.notifier.reply_to(again)->outcome == Outcome::restarted);
  CHECK_FALSE(rig.notifier.reply_to(again)->killed);
}

TEST_CASE("a SIGKILL is not claimed by a restart during the backoff after the respawn failed") {
  auto spec = testing::service("term_ignorer");
  spec.stop_timeout = 1s;
  SupervisorRig rig(testing::config_with({spec}));
  rig.spawner.ignore_terminate("term_ignorer");
  rig.supervisor.start(rig.request(), "term_ignorer");
  auto first = rig.request();
  rig.supervisor.restart(first, "term_ignorer");
  rig.settle();
  rig.spawner.fail_next_spawn(arm::Error::system(2, "cannot execute: gone"));
  rig.advance(1s);  // SIGKILL; reaped; the new process cannot be spawned
  rig.settle();
  CHECK(rig.notifier.reply_to(first)->outcome == Outcome::start_failed);
  REQUIRE(rig.state_of("term_ignorer") == ServiceState::backoff);

  auto again = rig.request();
  rig.supervisor.restart(again, "term_ignorer");  // runs it at once; it stopped nothing
  CHECK(rig.notifier.reply_to(again)->outcome == Outcome::restarted);
  CHECK_FALSE(rig.notifier.reply_to(again)->killed);
}

TEST_CASE("a stop of every reference ends a service that three starts hold") {
  SupervisorRig rig(web_only());
  for (int i = 0; i < 3; ++i) rig.supervisor.start(rig.request(), "web");
  CHECK(rig.supervisor.status("web")->refcount == 3);
  auto stop = rig.request();
  rig.supervisor.stop_all_references(stop, "web");
  CHECK(rig.state_of("web") == ServiceState::stopping);
  rig.settle();
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK(rig.state_of("web") == ServiceState::stopped);
  CHECK(rig.supervisor.status("web")->refcount == 0);

  // Started again, it is held by that one start alone.
  rig.supervisor.start(rig.request(), "web");
  CHECK(rig.supervisor.status("web")->refcount == 1);
}

TEST_CASE("a stop of every reference drops the default_services reference too") {
  auto config = web_only();
  config.arm.default_services = {"web"};
  SupervisorRig rig(config);
  rig.supervisor.start_default_services();
  rig.supervisor.start(rig.request(), "web");
  auto stop = rig.request();
  rig.supervisor.stop_all_references(stop, "web");
  rig.settle();
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::stopped);
  CHECK(rig.state_of("web") == ServiceState::stopped);
}

TEST_CASE("a stop of every reference of a stopped service is answered not_running") {
  SupervisorRig rig(web_only());
  auto stop = rig.request();
  rig.supervisor.stop_all_references(stop, "web");
  CHECK(rig.notifier.reply_to(stop)->outcome == Outcome::not_running);
}

TEST_CASE("a client that goes away is not answered, but its references stay") {
  SupervisorRig rig(web_only());
  rig.supervisor.start(rig.request(7), "web");
  auto stop = rig.request(7);
  rig.supervisor.stop(stop, "web");
  rig.supervisor.client_gone(7);
  rig.settle();
  CHECK(rig.notifier.replies_count_for(stop) == 0);
  CHECK(rig.state_of("web") == ServiceState::stopped);
}

TEST_CASE("default services start at boot, each holding one reference") {
  auto config =
      testing::config_with({testing::service("a"), testing::service("b"), testing::service("c")});
  config.arm.default_services = {"a", "b"};
  SupervisorRig rig(config);
  rig.supervisor.start_default_services();
  CHECK(rig.state_of("a") == ServiceState::running);
  CHECK(rig.state_of("b") == ServiceState::running);
  CHECK(rig.state_of("c") == ServiceState::stopped);
  CHECK(rig.supervisor.status("a")->refcount == 1);
  CHECK(rig.notifier.replies.empty());
}

TEST_CASE("an exit of a process that is not ours changes nothing") {
  SupervisorRig rig(web_only());
  rig.supervisor.start(rig.request(), "web");
  CHECK_FALSE(rig.supervisor.on_child_exit(424242, ExitStatus::exited(0)));
  CHECK(rig.state_of("web") == ServiceState::running);
}
