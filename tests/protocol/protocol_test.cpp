// The JSON-lines codec: what armd accepts, and what it says back.
#include <doctest/doctest.h>

#include "protocol.hpp"

using namespace armd::protocol;
using nlohmann::json;

namespace {
json parsed(const std::string& line) {
  REQUIRE(!line.empty());
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // exactly one line
  return json::parse(line);
}
}  // namespace

TEST_CASE("every method decodes, and ids are kept as sent") {
  auto start = decode_request(R"({"id":7,"method":"start","service":"web"})");
  REQUIRE(start);
  CHECK(start->method == Method::start);
  CHECK(start->service == "web");
  CHECK(start->id == 7);

  auto stop = decode_request(R"({"id":"abc","method":"stop","service":"db","protocol":1})");
  REQUIRE(stop);
  CHECK(stop->method == Method::stop);
  CHECK(stop->id == "abc");

  auto status = decode_request(R"({"method":"status","services":["a","b"]})");
  REQUIRE(status);
  CHECK(status->id.is_null());
  CHECK(status->services == std::vector<std::string>{"a", "b"});

  for (auto [text, method] : {std::pair{"hello", Method::hello},
                              {"reload", Method::reload},
                              {"shutdown", Method::shutdown},
                              {"status", Method::status}}) {
    auto request = decode_request(json{{"method", text}}.dump());
    REQUIRE(request);
    CHECK(request->method == method);
  }
  auto restart = decode_request(R"({"method":"restart","service":"x"})");
  REQUIRE(restart);
  CHECK(restart->method == Method::restart);
}

TEST_CASE("malformed requests are refused with a message that says what was wrong") {
  struct Case {
    const char* line;
    const char* outcome;
    const char* message;
  };
  for (auto [line, outcome, message] : {
           Case{"{not json", "bad_request", "invalid JSON"},
           Case{"[1,2]", "bad_request", "a request must be a JSON object"},
           Case{R"({"id":1})", "bad_request", "missing \"method\" (a string)"},
           Case{R"({"id":1,"method":"explode"})", "bad_request", "unknown method 'explode'"},
           Case{R"({"id":1,"method":"start"})", "bad_request", "\"start\" needs \"service\""},
           Case{R"({"id":1,"method":"start","service":42})", "bad_request", "needs \"service\""},
           Case{R"({"id":1,"method":"status","services":"a"})", "bad_request", "array of strings"},
           Case{R"({"id":[1],"method":"status"})", "bad_request", "\"id\" must be"},
           Case{R"({"id":1,"method":"status","protocol":2})", "unsupported_protocol", "protocol 1"},
       }) {
    CAPTURE(line);
    auto request = decode_request(line);
    REQUIRE_FALSE(request);
    CHECK(request.error().outcome == outcome);
    CHECK(request.error().message.find(message) != std::string::npos);
  }
}

TEST_CASE("the id of a request that is wrong in shape is still echoed") {
  auto request = decode_request(R"({"id":9,"method":"nope"})");
  REQUIRE_FALSE(request);
  CHECK(request.error().id == 9);
}

TEST_CASE("deep nesting is refused before it reaches the recursive parser") {
  std::string deep(100000, '[');
  auto request = decode_request(deep);
  REQUIRE_FALSE(request);
  CHECK(request.error().message.find("nested deeper") != std::string::npos);
}

TEST_CASE("a start reply carries the documented fields") {
  arm::Reply reply;
  reply.outcome = arm::Outcome::started;
  reply.service = "web";
  reply.pid = 4242;
  reply.refcount = 1;
  auto object = parsed(encode_reply(7, reply));
  CHECK(object["id"] == 7);
  CHECK(object["ok"] == true);
  CHECK(object["outcome"] == "started");
  CHECK(object["service"] == "web");
  CHECK(object["pid"] == 4242);
  CHECK(object["refcount"] == 1);

  reply.outcome = arm::Outcome::start_failed;
  reply.pid.reset();
  reply.message = "cannot execute /x: \xff\xfe invalid UTF-8";
  object = parsed(encode_reply("s", reply));
  CHECK(object["ok"] == false);
  CHECK(object["pid"].is_null());
  CHECK(object["message"].get<std::string>().find("cannot execute /x") == 0);
}

TEST_CASE("status reports times relative to now") {
  auto now = arm::TimePoint{} + std::chrono::hours(5);
  arm::ServiceStatus status;
  status.name = "web";
  status.state = arm::ServiceState::backoff;
  status.restarts = 3;
  status.refcount = 1;
  status.last_exit = arm::ExitStatus::signaled(11);
  status.last_exit_at = now - std::chrono::milliseconds(120);
  status.next_restart_at = now + std::chrono::milliseconds(680);
  auto object = parsed(encode_status(2, {status}, now));
  const json& web = object["services"][0];
  CHECK(web["state"] == "backoff");
  CHECK(web["pid"].is_null());
  CHECK(web["last_exit"]["signal"] == 11);
  CHECK(web["last_exit"]["code"].is_null());
  CHECK(web["last_exit"]["ms_ago"] == 120);
  CHECK(web["next_restart_in_ms"] == 680);
  CHECK(web["restarts"] == 3);
}

TEST_CASE("unknown services, reload summaries and errors encode as documented") {
  auto unknown = parsed(encode_unknown_services(1, {"x", "y"}));
  CHECK(unknown["outcome"] == "unknown_service");
  CHECK(unknown["message"] == "unknown service: x, y");
  arm::ReloadSummary summary;
  summary.added = {"c"};
  auto reload = parsed(encode_reload(3, summary));
  CHECK(reload["added"] == json::array({"c"}));
  CHECK(reload["removed"] == json::array());
  auto error = parsed(encode_error(nullptr, "line_too_long", "limit"));
  CHECK(error["id"].is_null());
  CHECK(error["ok"] == false);
  auto hello = parsed(encode_hello_banner());
  CHECK(hello["hello"] == "armd");
  CHECK(hello["protocol"] == protocol_version);
}

TEST_CASE("a client request round-trips through the server's decoder") {
  auto line = encode_request(5, "stop", {{"service", "web"}});
  auto request = decode_request(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(request);
  CHECK(request->method == Method::stop);
  CHECK(request->id == 5);
  CHECK_FALSE(decode_reply("not json"));
  CHECK(decode_reply(R"({"ok":true})"));
}
