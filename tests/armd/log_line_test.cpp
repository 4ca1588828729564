// How a line of armd's own log looks, as text and as JSON (README "armd", docs/architecture.md).
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <regex>

#include "daemon/log_line.hpp"

using armd::format_log_line;
using armd::Level;
using armd::LogFormat;
using armd::LogTime;

namespace {

// 2026-12-01 20:31:48.123 UTC.
LogTime a_moment() {
  using namespace std::chrono;
  return LogTime(sys_days(year(2026) / December / 1).time_since_epoch() + hours(20) + minutes(31) +
                 seconds(48) + milliseconds(123));
}

}  // namespace

TEST_CASE("a text line has the time, the level, the service and the message") {
  std::string line = format_log_line(LogFormat::text, a_moment(), Level::warning, "web",
                                     "exited with code 1; restarting in 200ms");
  CHECK(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.123 warning web: )"
                                          R"(exited with code 1; restarting in 200ms\n)")));
}

TEST_CASE("a text line about armd itself names no service") {
  std::string line = format_log_line(LogFormat::text, a_moment(), Level::info, "", "listening");
  CHECK(std::regex_match(line, std::regex(R"(\S+ \S+ info listening\n)")));
}

TEST_CASE("a JSON line is one object with the UTC time, level, service and message") {
  std::string line = format_log_line(LogFormat::json, a_moment(), Level::error, "web", "failed");
  CHECK(line == R"({"time":"2026-12-01T20:31:48.123Z","level":"error","service":"web",)"
                R"("message":"failed"})"
                "\n");
}

TEST_CASE("a JSON line about armd itself has no service field") {
  std::string line = format_log_line(LogFormat::json, a_moment(), Level::info, "", "listening");
  auto object = nlohmann::json::parse(line);
  CHECK_FALSE(object.contains("service"));
  CHECK(object["message"] == "listening");
}

TEST_CASE("a JSON line stays valid JSON whatever bytes the service name and message hold") {
  std::string line = format_log_line(LogFormat::json, a_moment(), Level::warning, "bad\xff\xfe",
                                     "quote \" newline \n tab \t bytes \xc3\x28 end");
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // one line, whatever the message held
  auto object = nlohmann::json::parse(line);
  CHECK(object["service"] == "bad\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(object["message"].get<std::string>().starts_with("quote \" newline \n tab \t bytes "));
}

TEST_CASE("the log format is named text or json") {
  CHECK(armd::parse_log_format("text") == LogFormat::text);
  CHECK(armd::parse_log_format("json") == LogFormat::json);
  CHECK_FALSE(armd::parse_log_format("JSON").has_value());
}

TEST_CASE("a text line stays one line whatever the message holds (no forged lines)") {
  // A configuration error names the key as written, and TOML allows "a\nb" as a key: the reason
  // a reload is refused must not become two lines, the second passing for one of armd's own.
  std::string line =
      format_log_line(LogFormat::text, a_moment(), Level::error, "web",
                      "reload refused: x: unknown key\n2026-12-01 20:31:48.123 info forged\r");
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line.find('\r') == std::string::npos);
  CHECK(line.find("unknown key\\x0a2026") != std::string::npos);
}
