// Services' output on the wire: the logs request, line objects (bytes that are not UTF-8
// included), gap markers, and what armctl prints of them.
#include <doctest/doctest.h>

#include <string>

#include "client/armctl_logs.hpp"
#include "protocol/protocol.hpp"

using namespace armd::protocol;
using nlohmann::json;
using namespace std::string_literals;

namespace {
arm::OutputLine line_of(std::string text, bool continues = false) {
  arm::OutputLine line;
  line.sequence = 7;
  line.time = arm::WallTime{} + std::chrono::milliseconds(1'764'620'400'123);  // 2025-12-01
  line.stream = arm::OutputStream::standard_error;
  line.text = std::move(text);
  line.continues = continues;
  return line;
}

json one_line(const std::string& encoded) {
  auto value = json::parse(encoded, nullptr, false);
  REQUIRE_FALSE(value.is_discarded());
  REQUIRE(value["lines"].size() == 1);
  return value["lines"][0];
}
}  // namespace

TEST_CASE("a logs request names services, and may ask for a count and to follow") {
  auto request =
      decode_request(R"({"id":1,"method":"logs","services":["a","b"],"lines":50,"follow":true})");
  REQUIRE(request);
  CHECK(request->method == Method::logs);
  CHECK(request->services == std::vector<std::string>{"a", "b"});
  CHECK(request->lines == 50);
  CHECK(request->follow);
  auto defaults = decode_request(R"({"method":"logs","services":["a"]})");
  REQUIRE(defaults);
  CHECK(defaults->lines == 10);
  CHECK_FALSE(defaults->follow);
}

TEST_CASE("a logs request may ask only for lines since an RFC 3339 time") {
  auto request = decode_request(
      R"({"method":"logs","services":["a"],"since":"2026-12-01T13:00:00.250+01:00"})");
  REQUIRE(request);
  CHECK(request->since == arm::parse_rfc3339("2026-12-01T12:00:00.250Z"));
  CHECK_FALSE(decode_request(R"({"method":"logs","services":["a"]})")->since);
  for (const char* bad : {R"({"method":"logs","services":["a"],"since":"10m"})",
                          R"({"method":"logs","services":["a"],"since":1733000000})",
                          R"({"method":"logs","services":["a"],"since":null})"}) {
    auto refused = decode_request(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().outcome == "bad_request");
    CHECK(refused.error().message.find("\"since\" must be an RFC 3339 time") != std::string::npos);
  }
}

TEST_CASE("logs --since takes an RFC 3339 time or a duration back from now, with its unit") {
  using namespace std::chrono_literals;
  auto now = *arm::parse_rfc3339("2026-12-01T12:00:00Z");
  CHECK(armctl::since_time("10m", now) == now - 10min);
  CHECK(armctl::since_time("90s", now) == now - 90s);
  CHECK(armctl::since_time("2h", now) == now - 2h);
  CHECK(armctl::since_time("2026-12-01T11:00:00+01:00", now) == now - 2h);
  for (std::string_view bad : {"", "10", "yesterday", "-5m", "2026-12-01"}) {
    auto refused = armctl::since_time(bad, now);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("expected an RFC 3339 time") != std::string::npos);
  }
}

TEST_CASE("a logs request without names, or with a bad count, is refused saying why") {
  CHECK(decode_request(R"({"method":"logs"})").error().message.find("needs \"services\"") !=
        std::string::npos);
  CHECK(decode_request(R"({"method":"logs","services":[]})").error().outcome == "bad_request");
  CHECK(decode_request(R"({"method":"logs","services":["a"],"lines":-1})")
            .error()
            .message.find("\"lines\"") != std::string::npos);
  CHECK(decode_request(R"({"method":"logs","services":["a"],"follow":"yes"})")
            .error()
            .message.find("\"follow\"") != std::string::npos);
}

TEST_CASE("a line is sent with its service, number, stamp, stream and text") {
  std::string service = "web";
  auto line = line_of("hello");
  json sent = one_line(encode_log_lines(1, {{&service, &line}}, false));
  CHECK(sent == json{{"service", "web"},
                     {"seq", 7},
                     {"time", "2025-12-01T20:20:00.123Z"},
                     {"stream", "stderr"},
                     {"text", "hello"},
                     {"continues", false}});
}

TEST_CASE("a line that is not UTF-8 stays valid JSON and carries its exact bytes in base64") {
  std::string service = "web";
  std::string bytes("a\xff\xfe\0z", 5);
  auto line = line_of(bytes, true);
  json sent = one_line(encode_log_lines(1, {{&service, &line}}, true));
  CHECK(sent["text"] == "a\xEF\xBF\xBD\xEF\xBF\xBD\0z"s);
  CHECK(sent["continues"] == true);
  CHECK(base64_decode(sent["base64"].get<std::string>()) == bytes);
  CHECK(line_bytes(sent) == bytes);
  CHECK(armctl::format_log_line(sent, false) ==
        "2025-12-01T20:20:00.123Z stderr " + bytes + "\\\n");
  CHECK(armctl::format_log_line(sent, true).starts_with("web 2025-12-01T"));
}

TEST_CASE("UTF-8 is checked strictly: overlong forms, surrogates and cut sequences are not it") {
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(valid_utf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));      // a surrogate
  CHECK_FALSE(valid_utf8("\xE2\x82"));          // cut short
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
}

TEST_CASE("base64 round-trips every length, and refuses what is not base64") {
  std::string bytes;
  for (int i = 0; i < 10; ++i) {
    CHECK(base64_decode(base64_encode(bytes)) == bytes);
    bytes += static_cast<char>(i * 37);
  }
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK_FALSE(base64_decode("Zm9"));
  CHECK_FALSE(base64_decode("Zm!v"));
  CHECK_FALSE(base64_decode("Z=9v"));
}

TEST_CASE("a gap marker says whose lines and how many were missed") {
  json gap = json::parse(encode_gap(3, "web", 42));
  CHECK(gap == json{{"id", 3}, {"event", "gap"}, {"service", "web"}, {"missed", 42}});
  CHECK(armctl::format_gap(gap) ==
        "-- web: 42 lines missed (dropped from armd's buffer before they could be sent) --\n");
}

TEST_CASE("status carries output_dropped for a service whose log file dropped lines") {
  arm::ServiceStatus web, db;
  web.name = "web";
  db.name = "db";
  OutputDropped dropped{{"web", 1532}, {"db", 0}};
  auto services =
      json::parse(encode_status(1, {web, db}, arm::TimePoint{}, {}, nullptr, &dropped))["services"];
  CHECK(services[0]["output_dropped"] == 1532);
  CHECK_FALSE(services[1].contains("output_dropped"));
  CHECK(armctl::format_output_dropped(services) ==
        "web: 1532 lines dropped from its log file (log_overflow = \"drop\")\n");
  CHECK(armctl::format_output_dropped(json::parse(R"([{"name":"a"}])")) == "");
}

TEST_CASE("status prints a service's last output under its exit, and nothing without any") {
  json services = json::parse(R"([
    {"name":"web","last_exit":{"code":1,"signal":null,"ms_ago":5,"output_tail":[
      {"seq":1,"time":"T1","stream":"stdout","text":"starting","continues":false},
      {"seq":2,"time":"T2","stream":"stderr","text":"boom","continues":false}]}},
    {"name":"db","last_exit":{"code":null,"signal":9,"ms_ago":5,"output_tail":[]}},
    {"name":"new","last_exit":null}])");
  CHECK(armctl::format_output_tails(services) ==
        "\nweb: last output before its exit (code 1):\n"
        "  T1 stdout starting\n"
        "  T2 stderr boom\n");
}
