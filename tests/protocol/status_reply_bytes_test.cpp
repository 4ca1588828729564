// The status reply byte for byte: the encoders take fast paths (no escaping for plain strings,
// integer ids written without nlohmann, one service encoded in place), and a client that
// compares lines must see the same bytes as before them.
#include <doctest/doctest.h>

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "protocol/protocol.hpp"

using namespace armd::protocol;
using nlohmann::json;

namespace {

const arm::TimePoint now = arm::TimePoint{} + std::chrono::hours(5);

arm::ServiceStatus running_web() {
  arm::ServiceStatus status;
  status.name = "web";
  status.state = arm::ServiceState::running;
  status.pid = 1234;
  status.refcount = 1;
  status.running_since = now - std::chrono::milliseconds(5230);
  status.next_backoff = std::chrono::milliseconds(100);
  status.depends_on = {"db"};
  return status;
}

arm::ServiceStatus crashed_batch() {
  arm::ServiceStatus status;
  status.name = "batch";
  status.state = arm::ServiceState::backoff;
  status.restarts = 3;
  status.refcount = 1;
  status.last_exit = arm::ExitStatus::signaled(9);
  status.last_exit_at = now - std::chrono::milliseconds(120);
  status.next_restart_at = now + std::chrono::milliseconds(680);
  status.next_backoff = std::chrono::milliseconds(1600);
  status.last_error = "killed by signal 9";
  status.wants = {"cache \"x\"", "log\\sink"};
  return status;
}

arm::ServiceStatus notify_api() {
  arm::ServiceStatus status;
  status.name = "api";
  status.state = arm::ServiceState::starting;
  status.pid = 77;
  status.status_text = "loading \"index\" 40%\t\xc3\xa9t\xc3\xa9 \xff";
  status.error_number = 13;
  status.waiting_for = "READY=1 on $NOTIFY_SOCKET";
  return status;
}

}  // namespace

TEST_CASE(
    "a status reply's bytes are pinned: running, crashed and notify services, ids of each "
    "kind") {
  CHECK(encode_status(2, {running_web()}, now) ==
        R"({"id":2,"ok":true,"services":[{"name":"web","state":"running","pid":1234,)"
        R"("restarts":0,"refcount":1,"last_exit":null,"next_restart_in_ms":null,)"
        R"("running_for_ms":5230,"backoff_ms":100,"last_error":"","depends_on":["db"],)"
        R"("wants":[],"waiting_for":"","health":null}]})"
        "\n");
  OutputDropped dropped{{"batch", 12}};
  CHECK(encode_status("q\"1", {crashed_batch()}, now, "cgroup", nullptr, &dropped) ==
        R"({"id":"q\"1","ok":true,"containment":"cgroup","services":[{"name":"batch",)"
        R"("state":"backoff","pid":null,"restarts":3,"refcount":1,)"
        R"("last_exit":{"code":null,"signal":9,"ms_ago":120},"next_restart_in_ms":680,)"
        R"("running_for_ms":null,"backoff_ms":1600,"last_error":"killed by signal 9",)"
        R"("depends_on":[],"wants":["cache \"x\"","log\\sink"],"waiting_for":"",)"
        R"("health":null,"output_dropped":12}]})"
        "\n");
  CHECK(encode_status(json(-18446744073709551LL), {notify_api()}, now) ==
        R"({"id":-18446744073709551,"ok":true,"services":[{"name":"api","state":"starting",)"
        R"("pid":77,"restarts":0,"refcount":0,"last_exit":null,"next_restart_in_ms":null,)"
        R"("running_for_ms":null,"backoff_ms":0,"last_error":"","depends_on":[],"wants":[],)"
        R"("waiting_for":"READY=1 on $NOTIFY_SOCKET",)"
        "\"status_text\":\"loading \\\"index\\\" 40%\\t\xc3\xa9t\xc3\xa9 \xef\xbf\xbd\","
        R"("error_number":13,"health":null}]})"
        "\n");
  CHECK(encode_status(json(18446744073709551615ULL), {}, now) ==
        R"({"id":18446744073709551615,"ok":true,"services":[]})"
        "\n");
  CHECK(encode_status(nullptr, {}, now) == R"({"id":null,"ok":true,"services":[]})"
                                           "\n");
}

TEST_CASE("a status of one service written in place after queued lines is the same line") {
  std::string output = "{\"id\":1,\"event\":\"gap\",\"missed\":2}\n";
  std::string queued = output;
  arm::ServiceStatus status = crashed_batch();
  append_status_reply(output, 9, std::span(&status, 1), now, "process-group", nullptr, nullptr);
  CHECK(output == queued + encode_status(9, {status}, now, "process-group"));
}
