// Live re-exec (issue 15), the core's part: ServiceSupervisor::handover() and resume(). For a
// service in every row of the state table, the old supervisor's handover resumes a new one with
// fresh fakes at the same time; both must then show the same status, and react to the same next
// event with the same adapter calls and the same states. Resume itself spawns and signals
// nothing, and handing the new one over again gives the same text.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;

namespace {

std::string_view signal_name(StopSignal signal) {
  switch (signal) {
    case StopSignal::terminate:
      return "SIGTERM";
    case StopSignal::kill:
      return "SIGKILL";
    case StopSignal::abort:
      return "SIGABRT";
  }
  return "?";
}

// Logs every call in order, so that two supervisors' reactions compare as text. Processes end
// only when a test says so.
class LoggingSpawner final : public Spawner {
 public:
  std::expected<ProcessId, SpawnError> spawn(const SpawnRequest& request) override {
    if (failing.contains(request.service)) {
      log.push_back(fmt::format("spawn {} failed", request.service));
      return std::unexpected(Error::system(2, request.service + ": no such file"));
    }
    ProcessId pid = next_pid++;
    log.push_back(fmt::format("spawn {} as {}", request.service, pid));
    return pid;
  }
  void signal_group(ProcessId leader, StopSignal signal) override {
    log.push_back(fmt::format("{} to group {}", signal_name(signal), leader));
  }
  void signal_process(ProcessId pid, ReloadSignal signal) override {
    log.push_back(fmt::format("{} to {}", to_string(signal), pid));
  }

  ProcessId next_pid = 1000;
  std::set<std::string> failing;
  std::vector<std::string> log;
};

std::string optional_text(const auto& value, auto show) {
  return value ? show(*value) : std::string("-");
}

std::string time_text(TimePoint at) {
  return std::to_string(std::chrono::nanoseconds(at.time_since_epoch()).count());
}

// Every field of a status, so two compare whole (and a difference shows which).
std::string describe_status(const ServiceStatus& s) {
  auto exit_text = [](const ExitStatus& e) { return describe(e); };
  return fmt::format(
      "{} {} pid={} restarts={} refcount={} last_exit={} at={} running_since={} depends_on={} "
      "wants={} waiting_for='{}' next_restart_at={} next_backoff={} last_error='{}' "
      "status_text='{}' errno={} health={} failures={} health_detail='{}' checked_at={} "
      "rejected='{}'",
      s.name, to_string(s.state), optional_text(s.pid, [](int p) { return std::to_string(p); }),
      s.restarts, s.refcount, optional_text(s.last_exit, exit_text),
      optional_text(s.last_exit_at, time_text), optional_text(s.running_since, time_text),
      fmt::join(s.depends_on, ","), fmt::join(s.wants, ","), s.waiting_for,
      optional_text(s.next_restart_at, time_text), s.next_backoff.count(), s.last_error,
      s.status_text, optional_text(s.error_number, [](int e) { return std::to_string(e); }),
      to_string(s.health), s.health_failures, s.health_detail,
      optional_text(s.health_checked_at, time_text), s.rejected_change);
}

std::vector<std::string> describe_all(const ServiceSupervisor& supervisor) {
  std::vector<std::string> all;
  for (const auto& status : supervisor.status()) all.push_back(describe_status(status));
  return all;
}

// One supervisor with its fakes.
struct Side {
  explicit Side(const Config& config) {
    supervisor = std::make_unique<ServiceSupervisor>(config, clock, spawner, notifier, &watcher,
                                                     &random, &prober, &listeners);
  }
  // Resumed from `old`'s handover, at the same time, handing out the pids `old` would next.
  Side(const Side& old, const Config& config) {
    clock.set(old.clock.now());
    spawner.next_pid = old.spawner.next_pid;
    auto resumed = ServiceSupervisor::resume(old.supervisor->handover(), config, clock, spawner,
                                             notifier, &watcher, &random, &prober, &listeners);
    REQUIRE_MESSAGE(resumed.has_value(),
                    (resumed ? std::string() : resumed.error().front().to_string()));
    supervisor = std::move(*resumed);
  }

  ProcessId pid(std::string_view name) const { return *supervisor->status(name)->pid; }
  ServiceState state(std::string_view name) const { return supervisor->status(name)->state; }
  void exit(std::string_view name, ExitStatus status = ExitStatus::exited(1)) {
    supervisor->on_child_exit(pid(name), status);
  }
  // As SupervisorRig::advance: every deadline on the way is handled at its time.
  void advance(Duration by) {
    TimePoint until = clock.now() + by;
    for (auto due = supervisor->next_deadline(); due && *due <= until;
         due = supervisor->next_deadline()) {
      if (*due > clock.now()) clock.set(*due);
      supervisor->on_timer();
    }
    clock.set(until);
  }
  // The health probe (or, with another purpose, the config check) in flight ends.
  void probe_ends(std::string_view name, bool healthy,
                  ProbePurpose purpose = ProbePurpose::health) {
    auto probe = prober.in_flight(name, purpose);
    REQUIRE(probe.has_value());
    prober.answered(probe->id);
    supervisor->on_probe_result(probe->id, ProbeResult{.healthy = healthy, .detail = "said so"});
  }
  void connect(std::string_view name) {
    REQUIRE(listeners.watched.erase(std::string(name)) == 1);
    supervisor->on_socket_activity(name);
  }

  testing::FakeClock clock;
  LoggingSpawner spawner;
  testing::RecordingNotifier notifier;
  testing::FakeFileWatcher watcher;
  testing::FakeRandom random;
  testing::FakeProber prober;
  testing::FakeListeners listeners;
  std::unique_ptr<ServiceSupervisor> supervisor;  // last: gone before the fakes it borrows
};

std::vector<std::string> events_since(const Side& side, std::size_t from) {
  std::vector<std::string> out;
  for (std::size_t i = from; i < side.notifier.events.size(); ++i) {
    const auto& e = side.notifier.events[i];
    out.push_back(fmt::format("{}: {} -> {} ({}){}", e.service, to_string(e.previous),
                              to_string(e.state), e.detail,
                              e.health ? fmt::format(" health {}", to_string(*e.health)) : ""));
  }
  return out;
}

std::vector<std::string> tail(const std::vector<std::string>& all, std::size_t from) {
  return {all.begin() + static_cast<std::ptrdiff_t>(from), all.end()};
}

// Resumes a new supervisor from `old` and checks what every resume must give: the same status
// of every service, the same next deadline, nothing spawned or signalled, and the same text when
// handed over again.
std::unique_ptr<Side> resume_and_compare(Side& old, const Config& config) {
  std::string text = old.supervisor->handover();
  auto resumed = std::make_unique<Side>(old, config);
  CHECK(describe_all(*resumed->supervisor) == describe_all(*old.supervisor));
  CHECK(resumed->supervisor->next_deadline() == old.supervisor->next_deadline());
  CHECK(resumed->spawner.log.empty());
  CHECK(resumed->notifier.replies.empty());
  CHECK(resumed->supervisor->handover() == text);
  return resumed;
}

// The same event to both: the same spawns and signals, the same events, the same states.
void same_reaction(Side& old, Side& resumed, const std::function<void(Side&)>& event) {
  std::size_t old_log = old.spawner.log.size();
  std::size_t new_log = resumed.spawner.log.size();
  std::size_t old_events = old.notifier.events.size();
  std::size_t new_events = resumed.notifier.events.size();
  std::size_t old_probes = old.prober.started;
  std::size_t new_probes = resumed.prober.started;
  event(old);
  event(resumed);
  CHECK(tail(resumed.spawner.log, new_log) == tail(old.spawner.log, old_log));
  CHECK(events_since(resumed, new_events) == events_since(old, old_events));
  CHECK(resumed.prober.started - new_probes == old.prober.started - old_probes);
  CHECK(describe_all(*resumed.supervisor) == describe_all(*old.supervisor));
  CHECK(resumed.supervisor->next_deadline() == old.supervisor->next_deadline());
}

// `web` depends on `db`, as in the state table's tests.
ServiceSpec db_spec() {
  ServiceSpec db = testing::service("db");
  db.backoff_initial = 1s;
  return db;
}

ServiceSpec web_spec() {
  ServiceSpec web = testing::service("web");
  web.depends_on = {"db"};
  web.backoff_initial = 1s;
  web.stop_timeout = 5s;
  web.config_file = "/etc/web.conf";
  return web;
}

Config two(const ServiceSpec& web) {
  return testing::config_with({db_spec(), web});
}

}  // namespace

TEST_CASE("stopped: resumed as it was; a start then spawns the same processes") {
  Config config = two(web_spec());
  Side old(config);
  auto resumed = resume_and_compare(old, config);
  CHECK(resumed->watcher.watching("/etc/web.conf"));  // standing state: the watch is renewed
  same_reaction(old, *resumed, [](Side& s) { s.supervisor->start(std::nullopt, "web"); });
  CHECK(resumed->spawner.log == std::vector<std::string>{"spawn db as 1000", "spawn web as 1001"});
}

TEST_CASE("waiting for a dependency in backoff: the backoff's end starts both alike") {
  Config config = two(web_spec());
  Side old(config);
  old.supervisor->start(std::nullopt, "db");
  old.exit("db");
  old.supervisor->start(std::nullopt, "web");
  REQUIRE(old.state("web") == ServiceState::waiting);
  auto resumed = resume_and_compare(old, config);
  same_reaction(old, *resumed, [](Side& s) { s.advance(1s); });
  CHECK(resumed->state("web") == ServiceState::running);
}

TEST_CASE("starting (notify readiness): READY=1 or the start timeout, alike") {
  ServiceSpec web = web_spec();
  web.readiness.kind = Readiness::Kind::notify;
  web.start_timeout = 20s;
  Config config = two(web);
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  old.advance(3s);
  old.supervisor->on_notify(old.pid("web"), {.status = std::string("warming up")});
  old.supervisor->start(RequestRef{5, 1}, "web");  // waits for READY=1, holding a reference
  REQUIRE(old.state("web") == ServiceState::starting);
  auto resumed = resume_and_compare(old, config);
  CHECK(resumed->supervisor->status("web")->refcount == 2);
  SUBCASE("READY=1: the waiting start is answered by the old one only; its reference stays") {
    same_reaction(old, *resumed,
                  [](Side& s) { s.supervisor->on_notify(s.pid("web"), {.ready = true}); });
    CHECK(resumed->state("web") == ServiceState::running);
    CHECK(old.notifier.reply_to(RequestRef{5, 1})->outcome == Outcome::already_running);
    CHECK(resumed->notifier.replies.empty());
    same_reaction(old, *resumed, [](Side& s) { s.supervisor->stop(std::nullopt, "web"); });
    CHECK(resumed->supervisor->status("web")->refcount == 1);  // still_referenced, in both
    CHECK(resumed->state("web") == ServiceState::running);
  }
  SUBCASE("not ready within start_timeout: stopped at the same instant") {
    same_reaction(old, *resumed, [](Side& s) { s.advance(17s); });
    CHECK(resumed->state("web") == ServiceState::stopping);
    CHECK(resumed->spawner.log == std::vector<std::string>{"SIGTERM to group 1001"});
  }
}

TEST_CASE("running with a health check and a watchdog: the next probe and the watchdog alike") {
  ServiceSpec web = web_spec();
  web.readiness.kind = Readiness::Kind::notify;
  web.watchdog = 10s;
  HealthCheck check;
  check.kind = HealthCheck::Kind::tcp;
  check.address = {"127.0.0.1", 8080, false};
  check.interval = 5s;
  check.timeout = 1s;
  check.failures = 1;
  web.health = check;
  Config config = two(web);
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  old.supervisor->on_notify(old.pid("web"), {.ready = true});
  old.advance(5s);
  old.probe_ends("web", true);
  REQUIRE(old.supervisor->status("web")->health == HealthState::healthy);
  SUBCASE("no probe in flight: the next probe, then the watchdog's SIGABRT") {
    auto resumed = resume_and_compare(old, config);
    same_reaction(old, *resumed, [](Side& s) { s.advance(4s); });
    same_reaction(old, *resumed,
                  [](Side& s) { s.supervisor->on_notify(s.pid("web"), {.watchdog = true}); });
    same_reaction(old, *resumed, [](Side& s) { s.advance(1s); });  // a probe starts
    same_reaction(old, *resumed, [](Side& s) { s.probe_ends("web", false); });
    CHECK(resumed->state("web") == ServiceState::stopping);  // unhealthy: restarted
    CHECK(resumed->spawner.log == std::vector<std::string>{"SIGTERM to group 1001"});
  }
  SUBCASE("the watchdog expires in both") {
    auto resumed = resume_and_compare(old, config);
    same_reaction(old, *resumed, [](Side& s) {
      s.advance(6s);
      if (s.prober.in_flight("web")) s.probe_ends("web", true);
    });
    CHECK(resumed->spawner.log == std::vector<std::string>{"SIGABRT to group 1001"});
  }
  SUBCASE("a probe in flight is not carried: the new supervisor probes at once") {
    old.advance(3s);
    old.supervisor->on_notify(old.pid("web"), {.watchdog = true});
    old.advance(2s);
    REQUIRE(old.prober.in_flight("web").has_value());
    std::string text = old.supervisor->handover();
    Side resumed(old, config);
    CHECK(describe_all(*resumed.supervisor) == describe_all(*old.supervisor));
    CHECK(resumed.prober.started == 0);
    CHECK(resumed.supervisor->next_deadline() <= resumed.clock.now());  // due at once
    resumed.supervisor->on_timer();
    CHECK(resumed.prober.in_flight("web").has_value());
    resumed.probe_ends("web", true);
    CHECK(resumed.supervisor->status("web")->health == HealthState::healthy);
    CHECK(resumed.spawner.log.empty());
  }
}

TEST_CASE("stopping, SIGTERM sent: resume sends nothing; SIGKILL at the same deadline") {
  Config config = two(web_spec());
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  old.supervisor->stop(RequestRef{9, 1}, "web");
  old.advance(2s);
  REQUIRE(old.state("web") == ServiceState::stopping);
  SUBCASE("settle_stopped: SIGKILL, then stopped, and db released") {
    auto resumed = resume_and_compare(old, config);
    same_reaction(old, *resumed, [](Side& s) { s.advance(3s); });
    CHECK(resumed->spawner.log == std::vector<std::string>{"SIGKILL to group 1001"});
    same_reaction(old, *resumed, [](Side& s) { s.exit("web", ExitStatus::signaled(9)); });
    CHECK(resumed->state("web") == ServiceState::stopped);
    CHECK(resumed->state("db") == ServiceState::stopping);
    // The stop's client is gone with the old armd: only the old one answers it.
    CHECK(old.notifier.reply_to(RequestRef{9, 1}).has_value());
    CHECK(resumed->notifier.replies.empty());
  }
  SUBCASE("start_again (a client started it meanwhile): it starts again once reaped") {
    old.supervisor->start(RequestRef{5, 1}, "web");
    auto resumed = resume_and_compare(old, config);
    same_reaction(old, *resumed, [](Side& s) { s.exit("web", ExitStatus::signaled(15)); });
    CHECK(resumed->spawner.log == std::vector<std::string>{"spawn web as 1002"});
    CHECK(resumed->state("web") == ServiceState::running);
    // The start's effect goes on without its client: the reference it took holds web.
    CHECK(resumed->supervisor->status("web")->refcount == 1);
    CHECK(old.notifier.reply_to(RequestRef{5, 1})->outcome == Outcome::started);
    CHECK(resumed->notifier.replies.empty());
  }
}

TEST_CASE("backoff: the restart is due at the same instant") {
  Config config = two(web_spec());
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  old.exit("web");
  old.advance(300ms);
  REQUIRE(old.state("web") == ServiceState::backoff);
  auto resumed = resume_and_compare(old, config);
  same_reaction(old, *resumed, [](Side& s) { s.advance(699ms); });
  CHECK(resumed->spawner.log.empty());
  same_reaction(old, *resumed, [](Side& s) { s.advance(1ms); });
  CHECK(resumed->spawner.log == std::vector<std::string>{"spawn web as 1002"});
  // The restart history came along: the next crash backs off 2 s in both.
  CHECK(resumed->supervisor->status("web")->next_backoff == 2s);
  same_reaction(old, *resumed, [](Side& s) { s.exit("web"); });
  CHECK(resumed->supervisor->status("web")->restarts == 1);
}

TEST_CASE("failed: a start spawns it again in both") {
  Config config = two(web_spec());
  Side old(config);
  old.spawner.failing.insert("web");
  old.supervisor->start(std::nullopt, "web");
  old.spawner.failing.clear();
  old.exit("db", ExitStatus::signaled(15));  // released, and stopped
  REQUIRE(old.state("web") == ServiceState::failed);
  auto resumed = resume_and_compare(old, config);
  same_reaction(old, *resumed, [](Side& s) { s.supervisor->start(std::nullopt, "web"); });
  CHECK(resumed->state("web") == ServiceState::running);
}

TEST_CASE("failed with a re-arm pending: re-armed at the same instant, with its references") {
  ServiceSpec web = web_spec();
  web.max_restarts = 0;
  web.retry_failed_after = 30s;
  Config config = two(web);
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  old.exit("web");
  old.exit("db", ExitStatus::signaled(15));  // released while web waits for its re-arm
  REQUIRE(old.state("web") == ServiceState::failed);
  REQUIRE(old.supervisor->status("web")->next_restart_at.has_value());
  auto resumed = resume_and_compare(old, config);
  same_reaction(old, *resumed, [](Side& s) { s.advance(30s); });
  CHECK(resumed->state("web") == ServiceState::running);
  CHECK(resumed->supervisor->status("web")->refcount == 1);
}

TEST_CASE("listening (socket activation): sockets held and watched again; a client starts it") {
  ServiceSpec web = web_spec();
  web.depends_on.clear();
  web.listen = {*parse_listen_socket("tcp:127.0.0.1:8080")};
  web.start = StartMode::on_demand;
  Config config = two(web);
  Side old(config);
  REQUIRE(old.state("web") == ServiceState::listening);
  auto resumed = resume_and_compare(old, config);
  CHECK(resumed->listeners.held.contains("web"));
  CHECK(resumed->listeners.watching("web"));
  CHECK(resumed->listeners.watch_calls == 1);
  same_reaction(old, *resumed, [](Side& s) { s.connect("web"); });
  CHECK(resumed->state("web") == ServiceState::running);
  CHECK(!resumed->listeners.watching("web"));
}

TEST_CASE("a restart waiting for its config check: the check runs again, and the restart follows") {
  ServiceSpec web = web_spec();
  web.reload = ConfigReload{.signal = ReloadSignal::hangup, .command = {}, .check = {"check"}};
  Config config = two(web);
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  old.supervisor->restart(RequestRef{3, 1}, "web");
  REQUIRE(old.prober.in_flight("web", ProbePurpose::config_check).has_value());
  std::string text = old.supervisor->handover();
  Side resumed(old, config);
  CHECK(describe_all(*resumed.supervisor) == describe_all(*old.supervisor));
  CHECK(resumed.spawner.log.empty());
  // Run again by resume, with an id the old supervisor never used.
  auto check = resumed.prober.in_flight("web", ProbePurpose::config_check);
  REQUIRE(check.has_value());
  CHECK(check->id > old.prober.in_flight("web", ProbePurpose::config_check)->id);
  // Handed over again, the same but for the id the check run again took.
  std::string again = text;
  again.replace(again.find("last_probe_id = 1"), 17, "last_probe_id = 2");
  CHECK(resumed.supervisor->handover() == again);
  same_reaction(old, resumed,
                [](Side& s) { s.probe_ends("web", true, ProbePurpose::config_check); });
  CHECK(resumed.spawner.log == std::vector<std::string>{"SIGTERM to group 1001"});
  // The restart's client went with the old armd: the new one answers nobody, and restarts all
  // the same once the old process is reaped.
  same_reaction(old, resumed, [](Side& s) { s.exit("web", ExitStatus::signaled(15)); });
  CHECK(resumed.spawner.log.back() == "spawn web as 1002");
  CHECK(old.notifier.reply_to(RequestRef{3, 1})->outcome == Outcome::restarted);
  CHECK(resumed.notifier.replies.empty());
}

TEST_CASE("a handover resumes with services the configuration adds, as freshly configured") {
  Config config = two(web_spec());
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  Config more = config;
  more.services.emplace("cache", testing::service("cache"));
  Side resumed(old, more);
  CHECK(resumed.state("web") == ServiceState::running);
  CHECK(resumed.pid("web") == old.pid("web"));
  CHECK(resumed.state("cache") == ServiceState::stopped);
  resumed.supervisor->start(std::nullopt, "cache");
  CHECK(resumed.spawner.log == std::vector<std::string>{"spawn cache as 1002"});
  // Its pid is the resumed supervisor's: an exit of web's is still web's.
  resumed.exit("web");
  CHECK(resumed.state("web") == ServiceState::backoff);
}

TEST_CASE("handovers that cannot be resumed say what is wrong and where") {
  Config config = two(web_spec());
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  std::string text = old.supervisor->handover();
  Side fresh(config);
  auto resume = [&](std::string_view handover, const Config& with) {
    return ServiceSupervisor::resume(handover, with, fresh.clock, fresh.spawner, fresh.notifier,
                                     &fresh.watcher, &fresh.random, &fresh.prober,
                                     &fresh.listeners);
  };
  SUBCASE("garbage") {
    auto result = resume("this is not = = toml\n", config);
    REQUIRE(!result.has_value());
    CHECK(result.error().front().file == "handover");
    CHECK(result.error().front().line == 1);
    CHECK(result.error().front().message.starts_with("not a handover: "));
  }
  SUBCASE("no version") {
    auto result = resume("services = []\n", config);
    REQUIRE(!result.has_value());
    CHECK(result.error().front().key == "version");
  }
  SUBCASE("a newer format") {
    std::string newer = text;
    newer.replace(newer.find("version = 1"), 11, "version = 2");
    auto result = resume(newer, config);
    REQUIRE(!result.has_value());
    CHECK(result.error().front().to_string().find(
              "handover format version 2 is newer than this libarm reads (1)") !=
          std::string::npos);
  }
  SUBCASE("a service the configuration lacks") {
    Config without_web = testing::config_with({db_spec()});
    auto result = resume(text, without_web);
    REQUIRE(!result.has_value());
    REQUIRE(result.error().size() == 1);
    CHECK(result.error().front().key == "services.web.name");
    CHECK(result.error().front().message.find("service 'web' is in the handover but not "
                                              "configured") != std::string::npos);
    CHECK(result.error().front().line > 0);
  }
  SUBCASE("a value it cannot read, by key and line") {
    std::string bad = text;
    bad.replace(bad.find("state = \"running\"", bad.find("name = \"web\"")), 17,
                "state = \"sleeping\"");
    auto result = resume(bad, config);
    REQUIRE(!result.has_value());
    CHECK(result.error().front().key == "services.web.state");
    CHECK(result.error().front().line > 1);
    CHECK(result.error().front().message.starts_with("expected one of stopped, waiting"));
  }
  SUBCASE("an unknown key, and a running service without its pid") {
    std::string bad = text;
    std::size_t web = bad.find("name = \"web\"");
    bad.replace(bad.find("pid = 1001", web), 10, "pids = 1001");
    auto result = resume(bad, config);
    REQUIRE(!result.has_value());
    REQUIRE(result.error().size() == 2);
    CHECK(result.error()[0].key == "services.web.pids");
    CHECK(result.error()[0].message == "unknown key in a handover");
    CHECK(result.error()[1].key == "services.web.pid");
    CHECK(result.error()[1].message == "a running service must have a pid");
  }
  SUBCASE("a hundred thousand faults: the first hundred listed, then that there are more") {
    std::string many = "version = 1\nkilled_in_shutdown = [";
    for (int i = 0; i < 100000; ++i) many += i == 0 ? "1" : ", 1";
    many += "]\n";
    for (int i = 0; i < 1000; ++i) many += "[[services]]\nname = 7\n";
    auto result = resume(many, config);
    REQUIRE(!result.has_value());
    REQUIRE(result.error().size() == 101);
    CHECK(result.error().front().key == "killed_in_shutdown");
    CHECK(result.error().back().message == "... and more errors, not listed");
  }
  SUBCASE("a text of nothing but line breaks is refused without a huge allocation") {
    auto result = resume(std::string(std::size_t{64} << 20, '\n'), config);
    REQUIRE(!result.has_value());
    CHECK(result.error().front().key == "version");
  }
  // Nothing was asked of the adapters by a handover refused.
  CHECK(fresh.spawner.log.empty());
}

TEST_CASE("during shutdown: the new supervisor goes on shutting down and finishes alike") {
  Config config = two(web_spec());
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  old.supervisor->shutdown(RequestRef{7, 1});
  REQUIRE(old.state("web") == ServiceState::stopping);
  auto resumed = resume_and_compare(old, config);
  CHECK(resumed->supervisor->shutting_down());
  same_reaction(old, *resumed, [](Side& s) { s.supervisor->start(RequestRef{8, 1}, "web"); });
  CHECK(resumed->notifier.reply_to(RequestRef{8, 1})->outcome == Outcome::shutting_down);
  same_reaction(old, *resumed, [](Side& s) { s.exit("web", ExitStatus::signaled(15)); });
  CHECK(resumed->spawner.log.back() == "SIGTERM to group 1000");  // db, once web is reaped
  same_reaction(old, *resumed, [](Side& s) { s.exit("db", ExitStatus::signaled(15)); });
  CHECK(old.supervisor->finished());
  CHECK(resumed->supervisor->finished());
}

TEST_CASE("a main process gone with others of it left: the decision after the last, alike") {
  Config config = two(web_spec());
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  old.supervisor->on_main_exit(old.pid("web"), ExitStatus::exited(3));
  REQUIRE(old.state("web") == ServiceState::stopping);
  auto resumed = resume_and_compare(old, config);
  // What counts is the main process's exit, carried: exit code 3, a crash, backs off.
  same_reaction(old, *resumed, [](Side& s) { s.exit("web", ExitStatus::signaled(15)); });
  CHECK(resumed->state("web") == ServiceState::backoff);
  CHECK(resumed->supervisor->status("web")->last_exit == ExitStatus::exited(3));
}

TEST_CASE("running with idle_stop: the idle period goes on, watched again, and ends alike") {
  ServiceSpec web = web_spec();
  web.depends_on.clear();
  web.listen = {*parse_listen_socket("tcp:127.0.0.1:8080")};
  web.start = StartMode::on_demand;
  web.idle_stop = 60s;
  Config config = two(web);
  Side old(config);
  old.connect("web");
  old.advance(20s);
  REQUIRE(old.state("web") == ServiceState::running);
  REQUIRE(old.listeners.watching("web"));
  auto resumed = resume_and_compare(old, config);
  CHECK(resumed->listeners.watching("web"));
  SUBCASE("no client: stopped at the period's end, listening again") {
    same_reaction(old, *resumed, [](Side& s) { s.advance(40s); });
    CHECK(resumed->spawner.log == std::vector<std::string>{"SIGTERM to group 1000"});
    same_reaction(old, *resumed, [](Side& s) { s.exit("web", ExitStatus::signaled(15)); });
    CHECK(resumed->state("web") == ServiceState::listening);
  }
  SUBCASE("a client in the period: it runs on") {
    same_reaction(old, *resumed, [](Side& s) {
      s.connect("web");
      s.advance(40s);
    });
    CHECK(resumed->state("web") == ServiceState::running);
    CHECK(resumed->spawner.log.empty());
  }
}

TEST_CASE("what a service said about itself comes through the text whole, any bytes") {
  ServiceSpec web = web_spec();
  web.readiness.kind = Readiness::Kind::notify;
  Config config = two(web);
  Side old(config);
  old.supervisor->start(std::nullopt, "web");
  SUBCASE("quotes, backslashes, control characters and UTF-8: unchanged") {
    std::string said = "say \"hi\" \\ now\n\ttab \x01 caf\xc3\xa9 \xf0\x9f\x98\x80 'single'";
    old.supervisor->on_notify(old.pid("web"), {.status = said});
    auto resumed = resume_and_compare(old, config);
    CHECK(resumed->supervisor->status("web")->status_text == said);
  }
  SUBCASE("a byte that is not UTF-8 becomes U+FFFD (TOML has no byte escapes)") {
    old.supervisor->on_notify(old.pid("web"), {.status = std::string("bad \xff byte")});
    Side resumed(old, config);
    CHECK(resumed.supervisor->status("web")->status_text == "bad \xef\xbf\xbd byte");
  }
}
