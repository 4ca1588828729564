// The event stream on the wire: the subscribe request, each kind of event as encode_event
// writes it, the gap marker, and the lines `armctl monitor` prints of them.
#include <doctest/doctest.h>

#include <string>

#include "client/armctl_monitor.hpp"
#include "protocol/events.hpp"
#include "protocol/protocol.hpp"

using namespace armd::protocol;
using nlohmann::json;

namespace {
json parsed(const std::string& line) {
  REQUIRE(line.ends_with('\n'));
  auto value = json::parse(line, nullptr, false);
  REQUIRE_FALSE(value.is_discarded());
  return value;
}

arm::ServiceStatus crashed(const std::string& name) {
  arm::ServiceStatus status;
  status.name = name;
  status.state = arm::ServiceState::backoff;
  status.last_exit = arm::ExitStatus{arm::ExitStatus::Kind::exited, 3};
  status.last_exit_at = arm::TimePoint{} + std::chrono::seconds(10);
  return status;
}
}  // namespace

TEST_CASE("subscribe takes optional service names; none means every service") {
  auto every = decode_request(R"({"id":1,"method":"subscribe"})");
  REQUIRE(every);
  CHECK(every->method == Method::subscribe);
  CHECK(every->services.empty());
  auto some = decode_request(R"({"id":1,"method":"subscribe","services":["a","b"]})");
  REQUIRE(some);
  CHECK(some->services == std::vector<std::string>{"a", "b"});
  auto end = decode_request(R"({"id":2,"method":"unsubscribe"})");
  REQUIRE(end);
  CHECK(end->method == Method::unsubscribe);
}

TEST_CASE("subscribe with services that are not names is refused, saying so") {
  for (const char* line : {R"({"id":1,"method":"subscribe","services":"a"})",
                           R"({"id":1,"method":"subscribe","services":[""]})",
                           R"({"id":1,"method":"subscribe","services":[3]})"}) {
    auto request = decode_request(line);
    REQUIRE_FALSE(request);
    CHECK(request.error().outcome == "bad_request");
    CHECK(request.error().message.find("\"services\"") != std::string::npos);
    CHECK(request.error().id == 1);
  }
}

TEST_CASE("a state event has the transition, the pid and the detail, numbered") {
  StreamEvent event;
  event.kind = EventKind::state;
  event.service = "web";
  event.previous = arm::ServiceState::running;
  event.state = arm::ServiceState::backoff;
  event.detail = "exited with code 3";
  std::string line = encode_event(7, 12, event, arm::TimePoint{}, nullptr);
  CHECK(line == R"({"id":7,"event":"state","seq":12,"service":"web","previous":"running",)"
                R"("state":"backoff","pid":null,"detail":"exited with code 3",)"
                R"("restart_delay_ms":null})"
                "\n");
}

TEST_CASE("a state event that schedules a restart carries its delay") {
  StreamEvent event;
  event.kind = EventKind::state;
  event.service = "web";
  event.previous = arm::ServiceState::running;
  event.state = arm::ServiceState::backoff;
  event.restart_delay = arm::Milliseconds(1500);
  std::string line = encode_event(7, 12, event, arm::TimePoint{}, nullptr);
  CHECK(line.ends_with(R"("detail":"","restart_delay_ms":1500})"
                       "\n"));
}

TEST_CASE("an exit event carries the pid that exited and the exit record as status has it") {
  auto status = crashed("web");
  StreamEvent event;
  event.kind = EventKind::exit;
  event.service = "web";
  event.pid = 4242;
  event.status = &status;
  OutputTails tails;
  arm::OutputLine said;
  said.sequence = 1;
  said.text = "fatal";
  tails["web"].push_back(said);
  auto now = arm::TimePoint{} + std::chrono::seconds(11);
  json exit = parsed(encode_event("x", 3, event, now, &tails));
  CHECK(exit["event"] == "exit");
  CHECK(exit["seq"] == 3);
  CHECK(exit["pid"] == 4242);
  CHECK(exit["last_exit"]["code"] == 3);
  CHECK(exit["last_exit"]["signal"] == nullptr);
  CHECK(exit["last_exit"]["ms_ago"] == 1000);
  CHECK(exit["last_exit"]["output_tail"][0]["text"] == "fatal");
  // The same object as in a status reply.
  json status_reply = parsed(encode_status(nullptr, {status}, now, {}, &tails));
  CHECK(exit["last_exit"] == status_reply["services"][0]["last_exit"]);
}

TEST_CASE("an exit event too long for one event goes without its output tail") {
  auto status = crashed("web");
  StreamEvent event;
  event.kind = EventKind::exit;
  event.service = "web";
  event.status = &status;
  OutputTails tails;
  for (int i = 0; i < 10; ++i) {
    arm::OutputLine said;
    said.text = std::string(16 * 1024, 'x');
    tails["web"].push_back(said);
  }
  std::string line = encode_event(1, 1, event, arm::TimePoint{}, &tails);
  CHECK(line.size() <= max_event_bytes);
  json exit = parsed(line);
  CHECK(exit["last_exit"]["code"] == 3);
  CHECK_FALSE(exit["last_exit"].contains("output_tail"));
}

TEST_CASE("added carries the whole status; removed only the name; gap the count") {
  arm::ServiceStatus fresh;
  fresh.name = "new";
  StreamEvent added;
  added.kind = EventKind::added;
  added.service = "new";
  added.status = &fresh;
  json event = parsed(encode_event(1, 4, added, arm::TimePoint{}, nullptr));
  CHECK(event["status"]["name"] == "new");
  CHECK(event["status"]["state"] == "stopped");
  StreamEvent removed;
  removed.kind = EventKind::removed;
  removed.service = "old";
  CHECK(encode_event(1, 5, removed, arm::TimePoint{}, nullptr) ==
        R"({"id":1,"event":"removed","seq":5,"service":"old"})"
        "\n");
  CHECK(encode_event_gap(1, 12) == R"({"id":1,"event":"gap","missed":12})"
                                   "\n");
}

TEST_CASE("armctl monitor prints one line per event, stamped with the time it came") {
  using armctl::format_monitor_event;
  CHECK(format_monitor_event(json::parse(R"({"event":"state","service":"web","previous":"stopped",
                                            "state":"starting","pid":42,"detail":""})"),
                             "12:00:00.000") == "12:00:00.000 web stopped -> starting (pid 42)\n");
  CHECK(format_monitor_event(json::parse(R"({"event":"state","service":"web","previous":"running",
                                            "state":"backoff","pid":null,"detail":"exited"})"),
                             "T") == "T web running -> backoff (exited)\n");
  CHECK(format_monitor_event(json::parse(R"({"event":"exit","service":"web","pid":42,
                                            "last_exit":{"code":null,"signal":9}})"),
                             "T") == "T web exited (signal 9, pid 42)\n");
  CHECK(format_monitor_event(json::parse(R"({"event":"gap","missed":1})"), "T") ==
        "T -- 1 event missed (dropped from armd's buffer before they could be sent) --\n");
  CHECK(format_monitor_event(json::parse(R"({"event":"removed","service":"old"})"), "T") ==
        "T old removed\n");
  // A kind a newer armd adds is shown, not hidden; a line that is not an event is not.
  CHECK(format_monitor_event(json::parse(R"({"event":"frobnicated","service":"web"})"), "T") ==
        "T web frobnicated\n");
  CHECK(format_monitor_event(json::parse(R"({"id":1,"ok":true})"), "T").empty());
  CHECK(format_monitor_event(json::parse("[1]"), "T").empty());
}

TEST_CASE("a health event carries the new health, the failures in a row and the probe's detail") {
  StreamEvent event;
  event.kind = EventKind::health;
  event.service = "web";
  event.health = arm::HealthState::unhealthy;
  event.health_failures = 3;
  event.detail = "HTTP 503 Service Unavailable";
  CHECK(encode_event(1, 7, event, arm::TimePoint{}, nullptr) ==
        R"({"id":1,"event":"health","seq":7,"service":"web","health":"unhealthy",)"
        R"("health_failures":3,"detail":"HTTP 503 Service Unavailable"})"
        "\n");
}

TEST_CASE("armctl monitor prints a health event as the new health and its detail") {
  using armctl::format_monitor_event;
  CHECK(format_monitor_event(json::parse(R"({"event":"health","service":"web","health":"unhealthy",
                                            "health_failures":3,"detail":"exit code 1: down"})"),
                             "T") == "T web unhealthy (exit code 1: down)\n");
  CHECK(format_monitor_event(json::parse(R"({"event":"health","service":"web","health":"healthy",
                                            "health_failures":0,"detail":""})"),
                             "T") == "T web healthy\n");
}

TEST_CASE("status says health: null without a check, and the health fields with one") {
  arm::ServiceStatus plain;
  plain.name = "plain";
  arm::ServiceStatus probed;
  probed.name = "probed";
  probed.health = arm::HealthState::unhealthy;
  probed.health_failures = 2;
  probed.health_detail = "Connection refused";
  auto now = arm::TimePoint{} + std::chrono::seconds(10);
  probed.health_checked_at = now - std::chrono::milliseconds(1500);
  json reply = parsed(encode_status(nullptr, {plain, probed}, now, {}, nullptr));
  CHECK(reply["services"][0]["health"] == nullptr);
  CHECK_FALSE(reply["services"][0].contains("health_detail"));
  CHECK(reply["services"][1]["health"] == "unhealthy");
  CHECK(reply["services"][1]["health_failures"] == 2);
  CHECK(reply["services"][1]["health_detail"] == "Connection refused");
  CHECK(reply["services"][1]["health_checked_ms_ago"] == 1500);
}
