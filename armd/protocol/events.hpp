// The event stream on the wire (docs/protocol.md, "subscribe"): what a subscriber is sent after
// the snapshot. Every event line is written by encode_event, so a kind or field added later
// (readiness, health) is added here and nowhere else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "arm/supervisor.hpp"
#include "protocol/log_lines.hpp"

namespace armd::protocol {

enum class EventKind {
  state,    // the service went from `previous` to `state` (with the supervisor's detail)
  exit,     // its process exited: `status.last_exit` is the record, `pid` the process
  added,    // a reload added it: `status` is its whole status, as status shows it
  removed,  // a reload removed it: no more events of it follow
  health,   // its health changed (issue 13): `health`, `health_failures`, and the probe's detail
};
std::string_view to_string(EventKind kind);

// One change of one service, before it is numbered for a subscriber.
struct StreamEvent {
  EventKind kind = EventKind::state;
  std::string service;
  arm::ServiceState previous = arm::ServiceState::stopped;  // state
  arm::ServiceState state = arm::ServiceState::stopped;     // state
  std::string detail;                                       // state
  // state: the service's process while it has one (starting, running, stopping), else none;
  // exit: the process that exited, when known.
  std::optional<arm::ProcessId> pid;
  // state: the delay until the automatic restart the change scheduled (ServiceEvent's), if any.
  std::optional<arm::Milliseconds> restart_delay;
  const arm::ServiceStatus* status = nullptr;           // exit, added
  arm::HealthState health = arm::HealthState::unknown;  // health
  unsigned health_failures = 0;                         // health: failed probes in a row
};

// An event line longer than this is sent without the exit's output_tail (status has it): one
// event must never fill a subscriber's whole queue.
inline constexpr std::size_t max_event_bytes = 64 * 1024;

// {"id","event":KIND,"seq","service",...} and '\n'; the fields of each kind in docs/protocol.md.
// `tails`: the exit's output lines, as status's last_exit.output_tail.
std::string encode_event(const nlohmann::json& id, std::uint64_t seq, const StreamEvent& event,
                         arm::TimePoint now, const OutputTails* tails);
// The answer to subscribe, before any event: {"id","ok":true,"outcome":"subscribed",
// "services":[...]}, each service as status shows it (its current state: the snapshot).
std::string encode_subscribed(const nlohmann::json& id,
                              const std::vector<arm::ServiceStatus>& services, arm::TimePoint now,
                              const OutputTails* tails, const OutputDropped* dropped);
// {"id","ok":true,"outcome":"unsubscribed"}: no event of this subscription follows.
std::string encode_unsubscribed(const nlohmann::json& id);
// {"id","event":"gap","missed"}: `missed` events were dropped before this subscriber read them;
// the seq of the next event is that many past the last one it got.
std::string encode_event_gap(const nlohmann::json& id, std::uint64_t missed);

}  // namespace armd::protocol
