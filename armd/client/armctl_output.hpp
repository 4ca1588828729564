// What armctl prints and the exit code each answer implies. Scripts rely on both, so they are
// kept here, apart from the socket handling, where the unit tests can hold them to the contract
// (README.md, "armctl").
//
// The replies come from armd already parsed (armd::protocol::decode_reply); nothing here trusts
// their shape: a missing or mistyped field prints as "?" or "-", never throws.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace armctl {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;       // could not be started; armd refused the request
inline constexpr int exit_usage = 2;        // bad command line; reload of an invalid config
inline constexpr int exit_unknown = 3;      // no service of that name
inline constexpr int exit_unreachable = 4;  // cannot connect, or armd closed the connection early

// When several names fail differently the most severe code wins: 4, then 3, 2, 1, 0.
int more_severe(int a, int b);

// One line for a human, without its '\n', and the exit code it implies. The line belongs on
// stdout when the code is exit_ok, else on stderr.
struct Report {
  std::string line;
  int exit_code = exit_ok;
};

// A reply to start, stop, restart or reset: "web: started (pid 1234)", "x: unknown service"...
// `requested` is the name armctl sent (an error reply need not carry it).
Report report_service_reply(const nlohmann::json& reply, std::string_view requested);

// A status reply's "services" array as a table aligned in columns, header first:
// NAME STATE PID UPTIME RESTARTS REFS LAST-EXIT NEXT-RESTART DEPENDS-ON WHY. UPTIME is how long
// the current process has run (running_for_ms). DEPENDS-ON lists hard
// dependencies, then soft ones marked '~'; WHY says what a waiting service waits for and why a
// failed one failed. Every line ends with '\n'.
std::string format_status_table(const nlohmann::json& services);

// A successful reload reply: "NAME: added" (removed, restarted, updated), one line per change,
// then "reloaded". Every line ends with '\n'.
std::string format_reload_summary(const nlohmann::json& reply);

// A duration in milliseconds as people write it (arm::human_duration, as armd's messages do):
// "850ms", "1.5s", "42s", "2m30s", "1h02m". "-" when the value is not a number (null: nothing
// scheduled, no process).
std::string format_duration(const nlohmann::json& milliseconds);

}  // namespace armctl
