// The JSON-lines codec: what armd accepts, and what it says back (docs/protocol.md).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "protocol/protocol.hpp"

using namespace armd::protocol;
using nlohmann::json;

namespace {

// An encoder's output must be exactly one line of JSON.
json parsed(const std::string& line) {
  REQUIRE(!line.empty());
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto value = json::parse(line, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(value.is_discarded());
  return value;
}

RequestError refused(std::string_view line) {
  auto request = decode_request(line);
  REQUIRE_FALSE(request);
  return request.error();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

arm::Reply reply_with(arm::Outcome outcome) {
  arm::Reply reply;
  reply.outcome = outcome;
  reply.service = "web";
  return reply;
}

}  // namespace

TEST_CASE("every method decodes with its parameters") {
  auto start = decode_request(R"({"id":7,"method":"start","service":"web"})");
  REQUIRE(start);
  CHECK(start->method == Method::start);
  CHECK(start->service == "web");

  for (auto [text, method] :
       {std::pair{"stop", Method::stop}, {"restart", Method::restart}, {"reset", Method::reset}}) {
    CAPTURE(text);
    auto request = decode_request(json{{"method", text}, {"service", "db"}}.dump());
    REQUIRE(request);
    CHECK(request->method == method);
    CHECK(request->service == "db");
  }

  auto some = decode_request(R"({"method":"status","services":["a","b"]})");
  REQUIRE(some);
  CHECK(some->method == Method::status);
  CHECK(some->services == std::vector<std::string>{"a", "b"});
  auto all = decode_request(R"({"method":"status","services":[]})");
  REQUIRE(all);
  CHECK(all->services.empty());

  for (auto [text, method] : {std::pair{"hello", Method::hello},
                              {"status", Method::status},
                              {"reload", Method::reload},
                              {"shutdown", Method::shutdown}}) {
    CAPTURE(text);
    auto request = decode_request(json{{"method", text}}.dump());
    REQUIRE(request);
    CHECK(request->method == method);
    CHECK(request->service.empty());
    CHECK(request->services.empty());
  }
}

TEST_CASE("ids are kept as sent: a number, a string, or null when absent") {
  CHECK(decode_request(R"({"id":7,"method":"hello"})")->id == 7);
  CHECK(decode_request(R"({"id":-3,"method":"hello"})")->id == -3);
  CHECK(decode_request(R"({"id":2.5,"method":"hello"})")->id == 2.5);
  CHECK(decode_request(R"({"id":"abc","method":"hello"})")->id == "abc");
  CHECK(decode_request(R"({"id":null,"method":"hello"})")->id.is_null());
  CHECK(decode_request(R"({"method":"hello"})")->id.is_null());

  CHECK(parsed(encode_hello_reply(7))["id"] == 7);
  CHECK(parsed(encode_hello_reply("abc"))["id"] == "abc");
  CHECK(parsed(encode_hello_reply(nullptr))["id"].is_null());
  CHECK(parsed(encode_reply("x-1", reply_with(arm::Outcome::stopped)))["id"] == "x-1");
  CHECK(parsed(encode_status(9, {}, arm::TimePoint{}))["id"] == 9);
  CHECK(parsed(encode_reload(3, {}))["id"] == 3);
  CHECK(parsed(encode_unknown_services(4, {"x"}, {"unknown service 'x'"}))["id"] == 4);
  CHECK(parsed(encode_error(5, "bad_request", "no"))["id"] == 5);
}

TEST_CASE("protocol 1 is accepted and any other version is refused as unsupported") {
  CHECK(decode_request(R"({"id":1,"method":"hello","protocol":1})"));
  for (const char* line :
       {R"({"id":1,"method":"hello","protocol":2})", R"({"id":1,"method":"hello","protocol":"1"})",
        R"({"id":1,"method":"hello","protocol":null})"}) {
    CAPTURE(line);
    auto error = refused(line);
    CHECK(error.outcome == "unsupported_protocol");
    CHECK(error.id == 1);
    CHECK(contains(error.message, "protocol 1"));
  }
}

TEST_CASE("malformed requests are refused with a message that says what was wrong") {
  struct Case {
    const char* line;
    const char* message;
  };
  for (auto [line, message] : {
           Case{"{not json", "invalid JSON at byte 3: syntax error"},
           Case{"", "invalid JSON at byte 1"},
           Case{R"({"method":"hello"} trailing)", "invalid JSON at byte"},
           Case{R"({"id":1e400,"method":"hello"})", "invalid JSON: number overflow"},
           Case{"{\"method\":\"start\",\"service\":\"\xff\"}", "ill-formed UTF-8"},
           Case{"[1,2]", "a request must be a JSON object, not array"},
           Case{R"("status")", "a request must be a JSON object, not string"},
           Case{R"({"id":1})", "missing \"method\""},
           Case{R"({"id":1,"method":5})", "\"method\" must be a string, not number"},
           Case{R"({"id":1,"method":"explode"})", "unknown method 'explode'"},
           Case{R"({"id":1,"method":"start"})", "\"start\" needs \"service\""},
           Case{R"({"id":1,"method":"stop","service":42})",
                "\"service\" must be a string, not number"},
           Case{R"({"id":1,"method":"restart","service":""})", "\"service\" must not be empty"},
           Case{R"({"id":1,"method":"status","services":"a"})",
                "\"services\" must be an array of strings, not string"},
           Case{R"({"id":1,"method":"status","services":["a",1]})", "but holds number"},
           Case{R"({"id":[1],"method":"status"})", "\"id\" must be a number or a string"},
           Case{R"({"id":true,"method":"status"})", "\"id\" must be a number or a string"},
       }) {
    CAPTURE(line);
    auto error = refused(line);
    CHECK(error.outcome == "bad_request");
    CHECK_MESSAGE(contains(error.message, message), error.message);
    // Whatever the client sent, the error reply is one well-formed line.
    CHECK(parsed(encode_error(error.id, error.outcome, error.message))["ok"] == false);
  }
}

TEST_CASE("the id of a request that is wrong in shape is still echoed") {
  CHECK(refused(R"({"id":9,"method":"nope"})").id == 9);
  CHECK(refused(R"({"id":"q","method":"start"})").id == "q");
  CHECK(refused(R"({"method":"start"})").id.is_null());
  // An id that cannot be read is not echoed, nor is anything from a line that is not JSON.
  CHECK(refused(R"({"id":{"a":1},"method":"hello"})").id.is_null());
  CHECK(refused(R"({"id":9,)").id.is_null());
}

TEST_CASE("client bytes quoted in an error are escaped, so a log line cannot be forged") {
  auto utf8 = refused("{\"method\":\"start\",\"service\":\"\xff\"}");
  CHECK_MESSAGE(contains(utf8.message, R"(last read: '"\xff')"), utf8.message);
  auto control = refused(R"({"method":"a\nb\u0001"})");
  CHECK_MESSAGE(contains(control.message, R"(unknown method 'a\x0ab\x01')"), control.message);
  for (const auto& message : {utf8.message, control.message}) {
    CHECK(std::ranges::all_of(message, [](char c) { return c >= 0x20 && c < 0x7f; }));
  }
}

TEST_CASE("a long unknown method name is quoted only in part") {
  std::string name(10000, 'x');
  auto error = refused(json{{"method", name}}.dump());
  CHECK(contains(error.message, "unknown method 'xxxx"));
  CHECK(error.message.size() < 300);
}

TEST_CASE("deep nesting is refused before it reaches the recursive parser") {
  auto error = refused(std::string(100000, '['));
  CHECK(error.outcome == "bad_request");
  CHECK(contains(error.message, "nested deeper than 32 levels"));

  // The request object itself is one level; an extra field may nest up to the limit.
  auto nested = [](int levels) {
    return R"({"method":"hello","extra":)" + std::string(levels - 1, '[') +
           std::string(levels - 1, ']') + "}";
  };
  CHECK(decode_request(nested(max_nesting)));
  CHECK(contains(refused(nested(max_nesting + 1)).message, "nested deeper"));
}

TEST_CASE("an id longer than the limit is refused, naming it, and not echoed") {
  auto request_with_id = [](std::size_t bytes) {
    return R"({"id":")" + std::string(bytes, 'i') + R"(","method":"hello"})";
  };
  CHECK(decode_request(request_with_id(max_id_bytes)));
  auto error = refused(request_with_id(max_id_bytes + 1));
  CHECK(error.outcome == "bad_request");
  CHECK(error.id.is_null());
  CHECK(error.message == "\"id\" is longer than 256 bytes");
}

TEST_CASE("brackets inside strings do not count as nesting") {
  std::string name = std::string(100, '[') + "\\\"" + std::string(100, '{');
  auto request = decode_request(R"({"method":"start","service":")" + name + "\"}");
  REQUIRE(request);
  CHECK(request->service == std::string(100, '[') + "\"" + std::string(100, '{'));
}

TEST_CASE("a start reply carries the documented fields") {
  arm::Reply reply = reply_with(arm::Outcome::started);
  reply.pid = 1234;
  reply.refcount = 1;
  auto object = parsed(encode_reply(1, reply));
  CHECK(object == json::parse(
                      R"({"id":1,"ok":true,"outcome":"started","service":"web","pid":1234,
                          "refcount":1,"message":""})"));
}

TEST_CASE("ok is false exactly for unknown_service, start_failed and shutting_down") {
  using arm::Outcome;
  for (auto outcome :
       {Outcome::started, Outcome::already_running, Outcome::restarted, Outcome::stopped,
        Outcome::still_referenced, Outcome::not_running, Outcome::reset}) {
    auto object = parsed(encode_reply(1, reply_with(outcome)));
    CAPTURE(object.dump());
    CHECK(object["ok"] == true);
    CHECK(object["outcome"] == arm::to_string(outcome));
    CHECK(object["service"] == "web");
    CHECK(object["pid"].is_null());
  }
  for (auto outcome : {Outcome::unknown_service, Outcome::start_failed, Outcome::shutting_down}) {
    auto object = parsed(encode_reply(1, reply_with(outcome)));
    CAPTURE(object.dump());
    CHECK(object["ok"] == false);
    CHECK(object["outcome"] == arm::to_string(outcome));
  }
  CHECK(parsed(encode_reply(1, reply_with(Outcome::shutdown_complete)))["ok"] == true);
}

TEST_CASE("invalid UTF-8 in a service's message is replaced, not thrown on") {
  arm::Reply reply = reply_with(arm::Outcome::start_failed);
  reply.message = "cannot execute /x\xff\xfe: No such file or directory";
  std::string line;
  CHECK_NOTHROW(line = encode_reply(1, reply));
  auto object = parsed(line);
  CHECK(object["message"] ==
        "cannot execute /x\xEF\xBF\xBD\xEF\xBF\xBD: No such file or directory");

  arm::ServiceStatus status;
  status.name = "bad\xc3";
  status.last_error = "\x80";
  CHECK_NOTHROW(line = encode_status(1, {status}, arm::TimePoint{}));
  CHECK(parsed(line)["services"][0]["name"] == "bad\xEF\xBF\xBD");
  CHECK_NOTHROW(line = encode_unknown_services(1, {"\xff"}, {"unknown service '\xff'"}));
  parsed(line);
  CHECK_NOTHROW(line = encode_error(nullptr, "bad_request", "last read: '\xff'"));
  parsed(line);
}

TEST_CASE("status reports a running service with times relative to now") {
  auto now = arm::TimePoint{} + std::chrono::hours(5);
  arm::ServiceStatus status;
  status.name = "web";
  status.state = arm::ServiceState::running;
  status.pid = 1234;
  status.refcount = 1;
  status.running_since = now - std::chrono::milliseconds(5230);
  status.next_backoff = std::chrono::milliseconds(100);
  auto object = parsed(encode_status(2, {status}, now));
  CHECK(object == json::parse(R"({"id":2,"ok":true,"services":[{"name":"web","state":"running",
        "pid":1234,"restarts":0,"refcount":1,"last_exit":null,"next_restart_in_ms":null,
        "running_for_ms":5230,"backoff_ms":100,"last_error":"","depends_on":[],"wants":[],
        "waiting_for":"","health":null}]})"));
}

TEST_CASE("status carries what a notify service said of itself: STATUS= and ERRNO=") {
  arm::ServiceStatus status;
  status.name = "api";
  status.state = arm::ServiceState::starting;
  status.status_text = "loading \"index\" 40%";
  status.error_number = 13;
  auto service = parsed(encode_status(4, {status}, arm::TimePoint{}))["services"][0];
  CHECK(service["state"] == "starting");
  CHECK(service["status_text"] == "loading \"index\" 40%");
  CHECK(service["error_number"] == 13);
  // A service that said nothing carries neither.
  auto quiet = parsed(encode_status(5, {arm::ServiceStatus{}}, arm::TimePoint{}))["services"][0];
  CHECK_FALSE(quiet.contains("status_text"));
  CHECK_FALSE(quiet.contains("error_number"));
}

TEST_CASE("status carries a change a config check rejected, only while there is one") {
  arm::ServiceStatus status;
  status.name = "nginx";
  status.state = arm::ServiceState::running;
  status.rejected_change = "config check failed: exit code 1: nginx: [emerg] \"bogus\"";
  auto service = parsed(encode_status(4, {status}, arm::TimePoint{}))["services"][0];
  CHECK(service["rejected_change"] == "config check failed: exit code 1: nginx: [emerg] \"bogus\"");
  auto quiet = parsed(encode_status(5, {arm::ServiceStatus{}}, arm::TimePoint{}))["services"][0];
  CHECK_FALSE(quiet.contains("rejected_change"));
}

TEST_CASE("a lost exit status is neither a code nor a signal, and says it was lost") {
  arm::ServiceStatus status;
  status.name = "web";
  status.state = arm::ServiceState::backoff;
  status.last_exit = arm::ExitStatus::lost();
  auto last_exit = parsed(encode_status(4, {status}, arm::TimePoint{}))["services"][0]["last_exit"];
  CHECK(last_exit["code"].is_null());
  CHECK(last_exit["signal"].is_null());
  CHECK(last_exit["lost"] == true);
  // Any other exit keeps the shape it had: no `lost` field.
  status.last_exit = arm::ExitStatus::exited(255);
  auto coded = parsed(encode_status(5, {status}, arm::TimePoint{}))["services"][0]["last_exit"];
  CHECK(coded["code"] == 255);
  CHECK_FALSE(coded.contains("lost"));
}

TEST_CASE("status carries why a service's config file is not watched, only while it is not") {
  arm::ServiceStatus status;
  status.name = "web";
  status.watch_error = "cannot watch /etc/web.conf for changes: Permission denied";
  auto service = parsed(encode_status(4, {status}, arm::TimePoint{}))["services"][0];
  CHECK(service["watch_error"] == "cannot watch /etc/web.conf for changes: Permission denied");
  auto quiet = parsed(encode_status(5, {arm::ServiceStatus{}}, arm::TimePoint{}))["services"][0];
  CHECK_FALSE(quiet.contains("watch_error"));
}

TEST_CASE("status reports dependencies and what a waiting service waits for") {
  auto now = arm::TimePoint{} + std::chrono::hours(5);
  arm::ServiceStatus status;
  status.name = "web";
  status.state = arm::ServiceState::waiting;
  status.refcount = 1;
  status.depends_on = {"db", "cache \"x\""};
  status.wants = {"metrics"};
  status.waiting_for = "dependency db (backoff)";
  auto service = parsed(encode_status(3, {status}, now))["services"][0];
  CHECK(service["state"] == "waiting");
  CHECK(service["depends_on"] == json::parse(R"(["db", "cache \"x\""])"));
  CHECK(service["wants"] == json::parse(R"(["metrics"])"));
  CHECK(service["waiting_for"] == "dependency db (backoff)");
}

TEST_CASE("status reports a crashed service's last exit and when it restarts") {
  auto now = arm::TimePoint{} + std::chrono::hours(5);
  arm::ServiceStatus crashed;
  crashed.name = "web";
  crashed.state = arm::ServiceState::backoff;
  crashed.restarts = 3;
  crashed.refcount = 1;
  crashed.last_exit = arm::ExitStatus::signaled(9);
  crashed.last_exit_at = now - std::chrono::milliseconds(120);
  crashed.next_restart_at = now + std::chrono::milliseconds(680);
  crashed.last_error = "killed by signal 9";
  arm::ServiceStatus exited;
  exited.name = "batch";
  exited.state = arm::ServiceState::failed;
  exited.last_exit = arm::ExitStatus::exited(3);
  exited.last_exit_at = now - std::chrono::milliseconds(1200);
  exited.next_restart_at = now - std::chrono::milliseconds(5);  // overdue: never negative

  auto services = parsed(encode_status(2, {crashed, exited}, now))["services"];
  REQUIRE(services.size() == 2);
  CHECK(services[0]["state"] == "backoff");
  CHECK(services[0]["pid"].is_null());
  CHECK(services[0]["restarts"] == 3);
  CHECK(services[0]["last_exit"] == json::parse(R"({"code":null,"signal":9,"ms_ago":120})"));
  CHECK(services[0]["next_restart_in_ms"] == 680);
  CHECK(services[0]["running_for_ms"].is_null());
  CHECK(services[0]["last_error"] == "killed by signal 9");
  CHECK(services[1]["state"] == "failed");
  CHECK(services[1]["last_exit"] == json::parse(R"({"code":3,"signal":null,"ms_ago":1200})"));
  CHECK(services[1]["next_restart_in_ms"] == 0);
}

TEST_CASE("a status of no services is an empty array") {
  CHECK(parsed(encode_status(1, {}, arm::TimePoint{}))["services"] == json::array());
}

TEST_CASE("unknown services are listed, and the message says what the core said of each") {
  auto object = parsed(encode_unknown_services(
      1, {"ngnix", "y"},
      {"unknown service 'ngnix' (did you mean 'nginx'?)", "unknown service 'y'"}));
  CHECK(object == json::parse(R"({"id":1,"ok":false,"outcome":"unknown_service",
        "message":"unknown service 'ngnix' (did you mean 'nginx'?); unknown service 'y'",
        "unknown":["ngnix","y"]})"));
}

TEST_CASE("a reply whose process needed SIGKILL carries killed: true; others do not carry it") {
  auto reply = reply_with(arm::Outcome::stopped);
  CHECK_FALSE(parsed(encode_reply(1, reply)).contains("killed"));
  reply.killed = true;
  CHECK(parsed(encode_reply(1, reply))["killed"] == true);
}

TEST_CASE("stop and restart take force, a boolean; other requests refuse it") {
  CHECK(decode_request(R"({"method":"stop","service":"web","force":true})")->force);
  CHECK_FALSE(decode_request(R"({"method":"stop","service":"web","force":false})")->force);
  CHECK_FALSE(decode_request(R"({"method":"stop","service":"web"})")->force);
  CHECK(decode_request(R"({"id":3,"method":"stop","service":"web","force":1})").error().message ==
        "\"force\" must be true or false, not number");
  CHECK(decode_request(R"({"method":"start","service":"web","force":true})").error().message ==
        "\"force\" applies to \"stop\" and \"restart\" only, not to \"start\"");
  // restart --force skips the service's config_check (issue 14).
  CHECK(decode_request(R"({"method":"restart","service":"web","force":true})")->force);
  CHECK_FALSE(decode_request(R"({"method":"restart","service":"web"})")->force);
}

TEST_CASE("reload_service names one service") {
  auto request = decode_request(R"({"id":4,"method":"reload_service","service":"nginx"})");
  REQUIRE(request);
  CHECK(request->method == Method::reload_service);
  CHECK(request->service == "nginx");
  CHECK(decode_request(R"({"method":"reload_service"})").error().message ==
        "\"reload_service\" needs \"service\": the name of a service");
  CHECK(
      decode_request(R"({"method":"reload_service","service":"a","force":true})").error().message ==
      "\"force\" applies to \"stop\" and \"restart\" only, not to "
      "\"reload_service\"");
}

TEST_CASE("force on a method without a service is refused too, not ignored") {
  for (std::string method : {"hello", "status", "reload", "shutdown"}) {
    CAPTURE(method);
    auto request = decode_request(fmt::format(R"({{"method":"{}","force":true}})", method));
    REQUIRE_FALSE(request);
    CHECK(request.error().message ==
          fmt::format("\"force\" applies to \"stop\" and \"restart\" only, not to \"{}\"", method));
  }
}

TEST_CASE("a reload summary lists every kind of change, empty ones too") {
  arm::ReloadSummary summary;
  summary.added = {"c"};
  summary.restarted = {"a", "b"};
  auto object = parsed(encode_reload(3, summary));
  CHECK(object["ok"] == true);
  CHECK(object["added"] == json::array({"c"}));
  CHECK(object["removed"] == json::array());
  CHECK(object["restarted"] == json::array({"a", "b"}));
  CHECK(object["updated"] == json::array());
}

TEST_CASE("errors, the hello banner and the hello reply encode as documented") {
  CHECK(parsed(encode_error(nullptr, "line_too_long", "request lines are limited")) ==
        json::parse(R"({"id":null,"ok":false,"outcome":"line_too_long",
                        "message":"request lines are limited"})"));
  CHECK(parsed(encode_error(3, "invalid_config", "/etc/armd.toml:4:1: bad")) ==
        json::parse(R"({"id":3,"ok":false,"outcome":"invalid_config",
                        "message":"/etc/armd.toml:4:1: bad"})"));
  // The version is the project's (meson.build); test_daemon.py checks it against meson's.
  CHECK(parsed(encode_hello_banner()) ==
        json{{"hello", "armd"}, {"protocol", 1}, {"version", armd::version}});
  CHECK(
      parsed(encode_hello_reply(8)) ==
      json{
          {"id", 8}, {"ok", true}, {"hello", "armd"}, {"protocol", 1}, {"version", armd::version}});
}

TEST_CASE("a client request round-trips through the server's decoder") {
  auto line = encode_request(5, "stop", {{"service", "web"}});
  CHECK(line.back() == '\n');
  auto request = decode_request(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(request);
  CHECK(request->method == Method::stop);
  CHECK(request->service == "web");
  CHECK(request->id == 5);
}

TEST_CASE("the client's decoder accepts objects only and says what it got instead") {
  CHECK(decode_reply(R"({"ok":true})"));
  auto garbage = decode_reply("not json");
  REQUIRE_FALSE(garbage);
  CHECK(contains(garbage.error(), "invalid JSON at byte"));
  auto array = decode_reply("[1]");
  REQUIRE_FALSE(array);
  CHECK(contains(array.error(), "non-object"));
  CHECK_FALSE(decode_reply(std::string(1000, '{')));
}
