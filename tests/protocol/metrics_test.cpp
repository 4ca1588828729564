// The Prometheus text armd serves: every family with its HELP and TYPE, label values escaped as
// the 0.0.4 format says, start times in wall-clock seconds, and the metrics request and reply.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "protocol/metrics.hpp"
#include "protocol/protocol.hpp"

using namespace armd::protocol;
using namespace std::chrono_literals;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.starts_with(line + "\n") || text.find("\n" + line + "\n") != std::string::npos;
}

struct Sample {
  std::vector<arm::ServiceStatus> services;
  MetricsInput input;
  Sample() {
    input.services = &services;
    input.version = "1.2.3";
    input.steady_now = arm::TimePoint{} + 1000s;
    input.wall_now = std::chrono::system_clock::time_point{} + 1'800'000'000s;
  }
  std::string text() const { return encode_metrics(input); }
};

arm::ServiceStatus service(std::string name, arm::ServiceState state) {
  arm::ServiceStatus status;
  status.name = std::move(name);
  status.state = state;
  return status;
}

}  // namespace

TEST_CASE("label values escape backslash, double quote and line feed, and nothing else") {
  CHECK(escape_label_value(R"(a\b)") == R"(a\\b)");
  CHECK(escape_label_value(R"(say "hi")") == R"(say \"hi\")");
  CHECK(escape_label_value("two\nlines") == R"(two\nlines)");
  CHECK(escape_label_value("tab\there, é") == "tab\there, é");
  CHECK(escape_help("a \"quote\" \\ and\nbreak") == "a \"quote\" \\\\ and\\nbreak");
}

TEST_CASE("a running service: up, its state among all states, restarts, start time, refcount") {
  Sample sample;
  auto web = service("web", arm::ServiceState::running);
  web.pid = 42;
  web.restarts = 3;
  web.refcount = 2;
  web.running_since = sample.input.steady_now - 90s;  // 90 s ago
  web.last_exit = arm::ExitStatus::exited(7);
  sample.services.push_back(web);
  std::string text = sample.text();
  CAPTURE(text);

  CHECK(has_line(text, "# TYPE arm_service_up gauge"));
  CHECK(has_line(text, R"(arm_service_up{service="web"} 1)"));
  CHECK(has_line(text, "# TYPE arm_service_state gauge"));
  CHECK(has_line(text, R"(arm_service_state{service="web",state="running"} 1)"));
  for (const char* other :
       {"stopped", "waiting", "starting", "stopping", "backoff", "failed", "listening"})
    CHECK(has_line(text, fmt::format(R"(arm_service_state{{service="web",state="{}"}} 0)", other)));
  CHECK(has_line(text, "# TYPE arm_service_restarts_total counter"));
  CHECK(has_line(text, R"(arm_service_restarts_total{service="web"} 3)"));
  CHECK(has_line(text, R"(arm_service_last_exit_code{service="web"} 7)"));
  CHECK(has_line(text, "# TYPE arm_service_start_time_seconds gauge"));
  CHECK(has_line(text, R"(arm_service_start_time_seconds{service="web"} 1799999910.000)"));
  CHECK(has_line(text, R"(arm_service_refcount{service="web"} 2)"));
}

TEST_CASE(
    "a service killed by a signal has a last exit signal and no code; a stopped one no "
    "start time") {
  Sample sample;
  auto db = service("db", arm::ServiceState::backoff);
  db.last_exit = arm::ExitStatus::signaled(9);
  sample.services.push_back(db);
  sample.services.push_back(service("idle", arm::ServiceState::stopped));
  std::string text = sample.text();
  CAPTURE(text);
  CHECK(has_line(text, R"(arm_service_up{service="db"} 0)"));
  CHECK(has_line(text, R"(arm_service_state{service="db",state="backoff"} 1)"));
  CHECK(has_line(text, R"(arm_service_last_exit_signal{service="db"} 9)"));
  CHECK(text.find(R"(arm_service_last_exit_code{service="db"})") == std::string::npos);
  CHECK(text.find(R"(arm_service_last_exit_code{service="idle"})") == std::string::npos);
  CHECK(text.find("arm_service_start_time_seconds{") == std::string::npos);
  CHECK(has_line(text, R"(arm_service_state{service="idle",state="stopped"} 1)"));
}

TEST_CASE("armd's own families: services, clients, requests, events, build info") {
  Sample sample;
  sample.services.push_back(service("a", arm::ServiceState::stopped));
  sample.services.push_back(service("b", arm::ServiceState::stopped));
  sample.input.counters = {.clients = 4, .requests = 17, .events = 9};
  sample.input.version = "1.0\"x\\";
  std::string text = sample.text();
  CAPTURE(text);
  CHECK(has_line(text, "# TYPE arm_services gauge"));
  CHECK(has_line(text, "arm_services 2"));
  CHECK(has_line(text, "arm_clients 4"));
  CHECK(has_line(text, "# TYPE arm_requests_total counter"));
  CHECK(has_line(text, "arm_requests_total 17"));
  CHECK(has_line(text, "# TYPE arm_events_total counter"));
  CHECK(has_line(text, "arm_events_total 9"));
  CHECK(has_line(text, R"(arm_build_info{version="1.0\"x\\"} 1)"));
}

TEST_CASE("a service name with a quote, a backslash or a line break stays one label value") {
  Sample sample;
  sample.services.push_back(service("we\"ird\\na\nme", arm::ServiceState::running));
  std::string text = sample.text();
  CHECK(has_line(text, R"(arm_service_up{service="we\"ird\\na\nme"} 1)"));
}

TEST_CASE("each family is written once, HELP then TYPE, its samples together") {
  Sample sample;
  sample.services.push_back(service("a", arm::ServiceState::running));
  sample.services.push_back(service("b", arm::ServiceState::failed));
  std::string text = sample.text();
  std::vector<std::string> families;
  std::string current;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    REQUIRE(end != std::string::npos);  // every line ends in \n, the last one too
    std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.starts_with("# HELP ")) {
      current = line.substr(7, line.find(' ', 7) - 7);
      CHECK(std::ranges::find(families, current) == families.end());
      families.push_back(current);
    } else if (line.starts_with("# TYPE ")) {
      CHECK(line.substr(7, current.size()) == current);
    } else {
      CAPTURE(line);
      CHECK(line.starts_with(current));
    }
  }
  CHECK(families == std::vector<std::string>{
                        "arm_service_up", "arm_service_state", "arm_service_restarts_total",
                        "arm_service_last_exit_code", "arm_service_last_exit_signal",
                        "arm_service_start_time_seconds", "arm_service_refcount", "arm_services",
                        "arm_clients", "arm_requests_total", "arm_events_total", "arm_build_info"});
}

TEST_CASE("the metrics request takes no parameters; its reply carries the text as a string") {
  auto request = decode_request(R"({"id":3,"method":"metrics"})");
  REQUIRE(request);
  CHECK(request->method == Method::metrics);
  auto reply = nlohmann::json::parse(encode_metrics_reply(3, "a 1\nb{x=\"y\"} 2\n"));
  CHECK(reply["id"] == 3);
  CHECK(reply["ok"] == true);
  CHECK(reply["outcome"] == "metrics");
  CHECK(reply["content_type"] == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(reply["text"] == "a 1\nb{x=\"y\"} 2\n");
}

TEST_CASE("arm_service_healthy: 1 or 0 for a service whose health is known, absent otherwise") {
  Sample sample;
  sample.services.push_back(service("plain", arm::ServiceState::running));
  std::string without = sample.text();
  CHECK(without.find("arm_service_healthy") == std::string::npos);
  auto good = service("good", arm::ServiceState::running);
  good.health = arm::HealthState::healthy;
  auto bad = service("bad", arm::ServiceState::running);
  bad.health = arm::HealthState::unhealthy;
  auto fresh = service("fresh", arm::ServiceState::running);
  fresh.health = arm::HealthState::unknown;
  sample.services.insert(sample.services.end(), {good, bad, fresh});
  std::string text = sample.text();
  CHECK(has_line(text, "# TYPE arm_service_healthy gauge"));
  CHECK(has_line(text, R"(arm_service_healthy{service="good"} 1)"));
  CHECK(has_line(text, R"(arm_service_healthy{service="bad"} 0)"));
  CHECK(text.find(R"(arm_service_healthy{service="fresh"})") == std::string::npos);
  CHECK(text.find(R"(arm_service_healthy{service="plain"})") == std::string::npos);
}
