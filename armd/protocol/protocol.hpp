// The wire protocol: JSON objects, one per line, over a Unix stream socket (docs/protocol.md).
// Every line armd and armctl parse or write is parsed or written here, so a fuzzer reaches all
// of it through decode_request / decode_reply. No exception leaves these functions: parse errors
// are caught where they arise and returned as values, and text is escaped (invalid UTF-8 replaced),
// never thrown on.
#pragma once

#include <cstddef>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "arm/supervisor.hpp"
#include "protocol/log_lines.hpp"
#include "protocol/version.hpp"

namespace armd::protocol {

inline constexpr int protocol_version = 1;
inline constexpr std::size_t max_request_line = 65536;  // bytes, including the '\n'
inline constexpr std::string_view server_version = armd::version;
// nlohmann's parser recurses once per level; deeper lines are refused before parsing so a hostile
// line cannot exhaust the stack. Requests nest two levels at most.
inline constexpr int max_nesting = 32;
// armd keeps a deferred request's id until it is answered; ids are labels, not payloads.
inline constexpr std::size_t max_id_bytes = 256;
// Requests of one connection that may wait for their answer at once (start, stop...); beyond it a
// request is answered at once with "too_many_requests".
inline constexpr std::size_t max_pending_requests = 256;

enum class Method {
  hello,
  start,
  stop,
  restart,
  reset,
  status,
  reload,
  shutdown,
  logs,
  subscribe,       // the event stream (protocol/events.hpp)
  unsubscribe,     // ends this connection's subscription
  metrics,         // the Prometheus text (protocol/metrics.hpp)
  reload_service,  // issue 14: the service takes its configuration again without a restart
  reexec,          // issue 15: armd execs itself anew, every service running on untouched
};

// `logs` without "lines": the latest ten, as tail(1).
inline constexpr std::size_t default_log_lines = 10;

struct Request {
  nlohmann::json id;  // as the client sent it (a number or a string); null when absent
  Method method = Method::hello;
  std::string service;  // start, stop, restart, reset, reload_service
  // stop: drop every reference, not just one; restart: skip the service's config_check
  bool force = false;
  // status, subscribe: empty means all; logs: at least one
  std::vector<std::string> services;
  std::size_t lines = default_log_lines;  // logs: how many of the latest lines
  bool follow = false;                    // logs: then send new lines as they come
  // logs: lines stamped before this time are left out of the reply (not of what is followed,
  // which is all new). nullopt: no limit.
  std::optional<arm::WallTime> since;
};

struct RequestError {
  nlohmann::json id;    // the request's id if it could be read, else null
  std::string outcome;  // "bad_request" | "unsupported_protocol"
  std::string message;  // what was wrong, for a human
};

// `line` is one request without its '\n'. The common shapes take a fast path
// (fast_request.hpp); everything else, and every error, is decode_request_in_full's.
std::expected<Request, RequestError> decode_request(std::string_view line);
// The same into `into`, whose storage is reused from line to line (armd's pipelined requests
// allocate nothing to be decoded): on success every field of `into` is the request's.
std::expected<void, RequestError> decode_request_into(std::string_view line, Request& into);
// The full parser alone (nlohmann's): what decode_request answers for any line the fast path
// does not take. The tests compare the two.
std::expected<Request, RequestError> decode_request_in_full(std::string_view line);

// Encoders return one line, including its '\n'.
std::string encode_hello_banner();
std::string encode_hello_reply(const nlohmann::json& id);
std::string encode_reply(const nlohmann::json& id, const arm::Reply& reply);
// `containment` ("cgroup", "process-group") says how armd keeps hold of its services'
// processes; omitted when empty. `tails`: the last lines a service wrote before its last exit,
// written as last_exit.output_tail (an empty array for a service without any). `dropped`: lines
// its log file did not take (log_overflow = "drop"), as output_dropped, only when not zero.
std::string encode_status(const nlohmann::json& id, const std::vector<arm::ServiceStatus>& services,
                          arm::TimePoint now, std::string_view containment = {},
                          const OutputTails* tails = nullptr,
                          const OutputDropped* dropped = nullptr);
// The same line appended to `out` (armd writes a status of one service straight into the
// connection's output).
void append_status_reply(std::string& out, const nlohmann::json& id,
                         std::span<const arm::ServiceStatus> services, arm::TimePoint now,
                         std::string_view containment, const OutputTails* tails,
                         const OutputDropped* dropped);
// One service as status shows it (an element of encode_status's "services"), appended to `out`.
void append_status(std::string& out, const arm::ServiceStatus& status, arm::TimePoint now,
                   const OutputTails* tails, const OutputDropped* dropped);
// Its last_exit object ({"code","signal","ms_ago"[,"output_tail"]}); `status.last_exit` must
// be set. output_tail only when `tails` is given.
void append_last_exit(std::string& out, const arm::ServiceStatus& status, arm::TimePoint now,
                      const OutputTails* tails);
// `messages`: what the supervisor says of each unknown name (unknown_service_message), joined
// into the reply's message; the names themselves are listed in "unknown".
std::string encode_unknown_services(const nlohmann::json& id,
                                    const std::vector<std::string>& unknown,
                                    const std::vector<std::string>& messages);
std::string encode_reload(const nlohmann::json& id, const arm::ReloadSummary& summary);
// The reply of the new armd after a re-exec: the program it is, the services and processes it
// took over, how long armd did not answer (from the end of the check until this reply), and how
// long the whole request took (the check included, during which armd answered).
std::string encode_reexec(const nlohmann::json& id, std::string_view binary, std::size_t services,
                          std::size_t processes, double unavailable_ms, double took_ms);
std::string encode_error(const nlohmann::json& id, std::string_view outcome,
                         std::string_view message);
// The reply to "metrics": the Prometheus text (protocol/metrics.hpp) as the string "text", and
// its "content_type".
std::string encode_metrics_reply(const nlohmann::json& id, std::string_view text);

// Client side: one line from the server as a JSON object.
std::expected<nlohmann::json, std::string> decode_reply(std::string_view line);

// A request line (with '\n') for armctl.
std::string encode_request(const nlohmann::json& id, std::string_view method,
                           const nlohmann::json& params = nlohmann::json::object());

}  // namespace armd::protocol
