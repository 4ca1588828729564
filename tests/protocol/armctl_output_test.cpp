// What armctl prints for each answer of armd, and the exit code it implies (README.md, "armctl").
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "client/armctl_health.hpp"
#include "client/armctl_output.hpp"

using namespace armctl;
using nlohmann::json;

namespace {

Report report(const char* reply_json, const char* name = "web") {
  return report_service_reply(json::parse(reply_json), name);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("successful answers print one line each and exit 0") {
  struct Case {
    const char* reply;
    const char* line;
  };
  for (
      auto [reply, line] : {
          Case{R"({"outcome":"started","pid":1234,"refcount":1})", "web: started (pid 1234)"},
          Case{R"({"outcome":"restarted","pid":77})", "web: restarted (pid 77)"},
          Case{R"({"outcome":"already_running","pid":1234,"refcount":2})",
               "web: already running (refcount 2)"},
          Case{R"({"outcome":"stopped","pid":null})", "web: stopped"},
          Case{R"({"outcome":"stopped","message":"also stopped its dependents: api"})",
               "web: stopped; also stopped its dependents: api"},
          Case{R"({"outcome":"still_referenced","refcount":2})",
               "web: still running, 2 other holders"},
          Case{R"({"outcome":"still_referenced","refcount":1})",
               "web: still running, 1 other holder"},
          Case{R"({"outcome":"not_running","message":"not running"})", "web: not running"},
          Case{
              R"json({"outcome":"not_running","message":"not running (was failed: exit code 3)"})json",
              "web: not running (was failed: exit code 3)"},
          Case{R"({"outcome":"not_running"})", "web: not running"},
          Case{R"({"outcome":"reset"})", "web: reset (failure and restart history cleared)"},
      }) {
    CAPTURE(reply);
    auto result = report(reply);
    CHECK(result.line == line);
    CHECK(result.exit_code == exit_ok);
  }
}

TEST_CASE("an unknown name exits 3 and a failed start exits 1 with armd's reason") {
  auto unknown = report(R"({"ok":false,"outcome":"unknown_service","service":"x"})", "x");
  CHECK(unknown.line == "x: unknown service");
  CHECK(unknown.exit_code == exit_unknown);

  auto failed = report(
      R"({"ok":false,"outcome":"start_failed","message":"cannot execute /opt/web: No such file or directory"})");
  CHECK(failed.line ==
        "web: could not be started: cannot execute /opt/web: No such file or directory");
  CHECK(failed.exit_code == exit_failed);

  auto refused = report(R"({"ok":false,"outcome":"shutting_down"})");
  CHECK(refused.line == "web: refused, armd is shutting down");
  CHECK(refused.exit_code == exit_failed);
}

TEST_CASE("reload_service and a checked restart: reloaded exits 0, a refusal exits 1") {
  auto reloaded =
      report(R"({"ok":true,"outcome":"reloaded","message":"sent SIGHUP to pid 42"})", "nginx");
  CHECK(reloaded.line == "nginx: reloaded (sent SIGHUP to pid 42)");
  CHECK(reloaded.exit_code == exit_ok);
  auto refused = report(
      R"({"ok":false,"outcome":"check_failed","message":"config check failed: exit code 1: x"})");
  CHECK(refused.line ==
        "web: refused, the running process is untouched: config check failed: exit code 1: x");
  CHECK(refused.exit_code == exit_failed);
  auto no_reload = report(R"({"ok":false,"outcome":"no_reload","message":"no reload"})");
  CHECK(no_reload.line == "web: cannot reload: no reload");
  CHECK(no_reload.exit_code == exit_failed);
}

TEST_CASE("an answer armctl has no words for is shown as armd sent it and counts as a failure") {
  auto bad = report(
      R"({"id":0,"ok":false,"outcome":"bad_request","message":"\"service\" must not be empty"})");
  CHECK(bad.line == R"(web: armd answered bad_request: "service" must not be empty)");
  CHECK(bad.exit_code == exit_failed);
  CHECK(report(R"({})").line == "web: armd answered without an outcome");
}

TEST_CASE("replies of the wrong shape never throw") {
  for (const char* reply :
       {"null", "[]", "42", R"({"outcome":7})", R"({"outcome":"started","pid":"x"})",
        R"({"outcome":"still_referenced","refcount":null})"}) {
    CAPTURE(reply);
    CHECK_NOTHROW(report(reply));
  }
  CHECK(report(R"({"outcome":"started","pid":"x"})").line == "web: started");
  CHECK_NOTHROW(format_status_table(json::parse(R"([1, null, {"name":3,"last_exit":[]}])")));
  CHECK_NOTHROW(format_status_table(json::parse(R"({"services":"no"})")));
  CHECK_NOTHROW(format_reload_summary(json::parse(R"({"added":"c","removed":[1]})")));
}

TEST_CASE("the most severe exit code wins: unreachable, unknown, usage, failed, ok") {
  CHECK(more_severe(exit_failed, exit_unknown) == exit_unknown);
  CHECK(more_severe(exit_unknown, exit_failed) == exit_unknown);
  CHECK(more_severe(exit_ok, exit_failed) == exit_failed);
  CHECK(more_severe(exit_unreachable, exit_unknown) == exit_unreachable);
  CHECK(more_severe(exit_ok, exit_ok) == exit_ok);
}

TEST_CASE("the status table has a header and aligned columns") {
  auto services = json::parse(R"([
    {"name":"web","state":"running","pid":1234,"restarts":0,"refcount":1,"last_exit":null,
     "next_restart_in_ms":null,"running_for_ms":5230,"backoff_ms":100,"last_error":""},
    {"name":"database","state":"backoff","pid":null,"restarts":12,"refcount":1,
     "last_exit":{"code":null,"signal":9,"ms_ago":1200},"next_restart_in_ms":680,
     "running_for_ms":null,"backoff_ms":1600,"last_error":"killed"},
    {"name":"batch","state":"failed","pid":null,"restarts":0,"refcount":0,
     "last_exit":{"code":3,"signal":null,"ms_ago":42000},"next_restart_in_ms":null,
     "running_for_ms":null,"backoff_ms":100,"last_error":"exit code 3"}])");
  auto lines = lines_of(format_status_table(services));
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] ==
        "NAME      STATE    PID   UPTIME  RESTARTS  REFS  LAST-EXIT           NEXT-RESTART  "
        "DEPENDS-ON  WHY");
  CHECK(lines[1] ==
        "web       running  1234  5.2s    0         1     -                   -             -");
  CHECK(lines[2] ==
        "database  backoff  -     -       12        1     signal 9, 1.2s ago  in 680ms      "
        "-           killed");
  CHECK(lines[3] ==
        "batch     failed   -     -       0         0     code 3, 42s ago     -             "
        "-           exit code 3");
}

TEST_CASE("the status table says a lost exit status was lost, and why a file is not watched") {
  auto services = json::parse(R"([
    {"name":"web","state":"backoff","pid":null,"restarts":1,"refcount":1,
     "last_exit":{"code":null,"signal":null,"lost":true,"ms_ago":1200},"next_restart_in_ms":680,
     "running_for_ms":null,"backoff_ms":1600,"last_error":""},
    {"name":"db","state":"running","pid":7,"restarts":0,"refcount":1,"last_exit":null,
     "next_restart_in_ms":null,"running_for_ms":5230,"backoff_ms":100,"last_error":"",
     "watch_error":"cannot watch /etc/db.conf for changes: Permission denied"}])");
  std::string table = format_status_table(services);
  CHECK(table.find("status lost, 1.2s ago") != std::string::npos);
  CHECK(table.find("cannot watch /etc/db.conf for changes: Permission denied") !=
        std::string::npos);
}

TEST_CASE("the status table shows dependencies, and what a waiting service waits for") {
  auto services = json::parse(R"json([
    {"name":"web","state":"waiting","pid":null,"restarts":0,"refcount":1,"last_exit":null,
     "next_restart_in_ms":null,"last_error":"","depends_on":["db","cache"],"wants":["metrics"],
     "waiting_for":"dependency db (backoff)"},
    {"name":"api","state":"failed","pid":null,"restarts":0,"refcount":0,"last_exit":null,
     "next_restart_in_ms":null,"last_error":"dependency web failed: exited with exit code 1",
     "depends_on":["web"],"wants":[],"waiting_for":""},
    {"name":"db","state":"stopping","pid":7,"restarts":0,"refcount":1,"last_exit":null,
     "next_restart_in_ms":null,"last_error":"","depends_on":[],"wants":[],
     "waiting_for":"dependents web"}])json");
  auto lines = lines_of(format_status_table(services));
  REQUIRE(lines.size() == 4);
  CHECK(lines[1].ends_with("db,cache,~metrics  waiting for dependency db (backoff)"));
  CHECK(lines[2].ends_with("web                dependency web failed: exited with exit code 1"));
  CHECK(lines[3].ends_with("-                  after its dependents web"));
}

TEST_CASE(
    "the status table shows a notify service's STATUS= and ERRNO=, and who is not ready yet") {
  auto services = json::parse(R"json([
    {"name":"api","state":"running","pid":9,"last_error":"","status_text":"serving 3 clients"},
    {"name":"db","state":"starting","pid":8,"last_error":"","status_text":""},
    {"name":"mq","state":"running","pid":7,"last_error":"","status_text":"degraded",
     "error_number":2},
    {"name":"old","state":"failed","pid":null,"last_error":"exited with exit code 1",
     "status_text":"about to crash"}])json");
  auto lines = lines_of(format_status_table(services));
  REQUIRE(lines.size() == 5);
  CHECK(lines[1].ends_with("serving 3 clients"));
  CHECK(lines[2].ends_with("not ready yet"));
  CHECK(lines[3].ends_with("degraded; errno 2 (No such file or directory)"));
  CHECK(lines[4].ends_with("exited with exit code 1"));  // why it failed comes first
}

TEST_CASE("an empty status prints the header alone") {
  CHECK(format_status_table(json::array()) ==
        "NAME  STATE  PID  UPTIME  RESTARTS  REFS  LAST-EXIT  NEXT-RESTART  DEPENDS-ON  WHY\n");
}

TEST_CASE("durations print as people write them, as armd's messages do") {
  CHECK(format_duration(0) == "0ms");
  CHECK(format_duration(250) == "250ms");
  CHECK(format_duration(1500) == "1.5s");
  CHECK(format_duration(60'000) == "60s");
  CHECK(format_duration(599'999) == "9m59s");
  CHECK(format_duration(3'720'000) == "1h02m");
  CHECK(format_duration(nullptr) == "-");
}

TEST_CASE("an uptime column says how long the current process has run") {
  auto lines = lines_of(format_status_table(json::parse(R"([
    {"name":"web","state":"running","pid":1,"restarts":0,"refcount":1,"last_exit":null,
     "next_restart_in_ms":null,"running_for_ms":3725000}])")));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].starts_with("NAME  STATE    PID  UPTIME  RESTARTS"));
  CHECK(lines[1].starts_with("web   running  1    1h02m   0"));
}

TEST_CASE("an unknown service prints armd's message, with its guess") {
  auto guessed = report(R"json({"ok":false,"outcome":"unknown_service","service":"ngnix",
      "message":"unknown service 'ngnix' (did you mean 'nginx'?)"})json",
                        "ngnix");
  CHECK(guessed.line == "unknown service 'ngnix' (did you mean 'nginx'?)");
  CHECK(guessed.exit_code == exit_unknown);
}

TEST_CASE("a stop or restart that needed SIGKILL says so") {
  auto stopped = report(R"({"ok":true,"outcome":"stopped","service":"web","killed":true,
      "message":"killed with SIGKILL: it did not exit within stop_timeout 5s of SIGTERM"})",
                        "web");
  CHECK(stopped.line ==
        "web: stopped; killed with SIGKILL: it did not exit within stop_timeout 5s of SIGTERM");
  auto restarted = report(R"({"ok":true,"outcome":"restarted","service":"web","pid":9,
      "killed":true,"message":"killed with SIGKILL: it did not exit within stop_timeout 5s of SIGTERM"})",
                          "web");
  CHECK(restarted.line ==
        "web: restarted (pid 9); killed with SIGKILL: it did not exit within "
        "stop_timeout 5s of SIGTERM");
}

TEST_CASE("a reload prints one line per change, then that it was applied") {
  CHECK(format_reload_summary(json::parse(
            R"({"ok":true,"added":["c"],"removed":["old"],"restarted":["a","b"],"updated":[]})")) ==
        "c: added\nold: removed\na: restarted\nb: restarted\nreloaded\n");
  CHECK(format_reload_summary(
            json::parse(R"({"ok":true,"added":[],"removed":[],"restarted":[],"updated":[]})")) ==
        "reloaded; nothing changed\n");
}

TEST_CASE("the status table shows a HEALTH column only when a service has a health check") {
  auto services = json::parse(R"json([
    {"name":"web","state":"running","pid":9,"restarts":0,"refcount":1,"last_exit":null,
     "running_for_ms":1000,"last_error":"","health":"unhealthy","health_failures":3,
     "health_detail":"HTTP 503 Service Unavailable","health_checked_ms_ago":200},
    {"name":"db","state":"running","pid":8,"restarts":0,"refcount":1,"last_exit":null,
     "running_for_ms":1000,"last_error":"","health":null}])json");
  auto lines = lines_of(format_status_table(services));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("DEPENDS-ON  HEALTH     WHY") != std::string::npos);
  CHECK(lines[1].ends_with("-           unhealthy  unhealthy: HTTP 503 Service Unavailable"));
  CHECK(lines[2].ends_with("-           -"));
  CHECK(armctl::format_health_details(services) ==
        "web: health unhealthy (3 failed in a row), checked 200ms ago: HTTP 503 Service "
        "Unavailable\n");
  services[0]["health"] = nullptr;
  CHECK(lines_of(format_status_table(services))[0].find("HEALTH") == std::string::npos);
}
