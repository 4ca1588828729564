// armd's metrics in the Prometheus text exposition format, version 0.0.4 (what `armctl metrics`
// prints and `[arm] metrics_listen` serves on GET /metrics). Pure: the statuses, armd's counters
// and both clocks' "now" are passed in, so the text is a function of its inputs. Every series is
// listed in docs/metrics.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arm/supervisor.hpp"

namespace armd::protocol {

// The Content-Type of the text, for HTTP.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

// What armd counts itself, beside what the supervisor's status says.
struct DaemonCounters {
  std::size_t clients = 0;     // control connections open now
  std::uint64_t requests = 0;  // request lines received since start (bad ones included)
  std::uint64_t events = 0;    // service state changes armd was told of since start
};

struct MetricsInput {
  const std::vector<arm::ServiceStatus>* services = nullptr;  // all of them, by name
  DaemonCounters counters;
  std::string_view version;  // armd's, for arm_build_info
  // Both clocks read at one moment: running_since is a steady time, Prometheus wants unix
  // seconds, so a start time is written as wall_now - (steady_now - running_since).
  arm::TimePoint steady_now;
  std::chrono::system_clock::time_point wall_now;
};

std::string encode_metrics(const MetricsInput& input);

// A label value as the format quotes it: backslash, double quote and line feed escaped as
// \\, \" and \n; everything else as it is.
std::string escape_label_value(std::string_view value);
// HELP text escapes backslash and line feed only.
std::string escape_help(std::string_view text);

}  // namespace armd::protocol
