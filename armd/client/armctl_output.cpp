#include "armctl_output.hpp"

#include "armctl_health.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include "arm/types.hpp"

namespace armctl {

namespace {

using nlohmann::json;

// json::value() throws when the key holds another type (a null pid, say); these do not.
const json* field(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string text(const json& object, const char* key, std::string_view fallback = "") {
  const json* value = field(object, key);
  return value && value->is_string() ? value->get<std::string>() : std::string(fallback);
}

std::optional<long long> integer(const json& object, const char* key) {
  const json* value = field(object, key);
  if (!value || !value->is_number()) return std::nullopt;
  return value->get<long long>();
}

bool killed(const json& reply) {
  const json* value = field(reply, "killed");
  return value && value->is_boolean() && value->get<bool>();
}

std::string integer_or_dash(const json& object, const char* key) {
  auto value = integer(object, key);
  return value ? std::to_string(*value) : "-";
}

std::string describe_last_exit(const json& service) {
  const json* last_exit = field(service, "last_exit");
  if (!last_exit || !last_exit->is_object()) return "-";
  std::string how;
  if (auto signal = integer(*last_exit, "signal")) {
    how = fmt::format("signal {}", *signal);
  } else if (auto code = integer(*last_exit, "code")) {
    how = fmt::format("code {}", *code);
  } else if (const json* lost = field(*last_exit, "lost"); lost && lost->is_boolean() && *lost) {
    how = "status lost";
  } else {
    how = "exited";
  }
  const json* ago = field(*last_exit, "ms_ago");
  if (!ago || !ago->is_number()) return how;
  return fmt::format("{}, {} ago", how, format_duration(*ago));
}

// "db,cache,~metrics": hard dependencies, then soft ones marked with '~'; "-" for none.
std::string describe_dependencies(const json& service) {
  std::vector<std::string> names;
  for (const auto& [key, mark] : {std::pair{"depends_on", ""}, std::pair{"wants", "~"}}) {
    const json* list = field(service, key);
    if (!list || !list->is_array()) continue;
    for (const json& name : *list)
      if (name.is_string()) names.push_back(mark + name.get<std::string>());
  }
  return names.empty() ? "-" : fmt::format("{}", fmt::join(names, ","));
}

// Why a service is where it is, when that is not obvious: what it waits for, why it failed.
std::string explain_state(const json& service) {
  std::string state = text(service, "state");
  std::string waiting_for = text(service, "waiting_for");
  if (state == "waiting") return "waiting for " + waiting_for;
  if (state == "stopping" && !waiting_for.empty()) return "after its " + waiting_for;
  // A stopped service has a last_error only when its exit is worth a look (it left processes
  // running: a program that forks into the background).
  std::string why;
  if (state == "failed" || state == "backoff" || state == "stopped" || state == "listening")
    why = text(service, "last_error");
  // What a notify service said of itself (STATUS=, ERRNO=), while it runs or is on its way.
  if (why.empty()) why = text(service, "status_text");
  if (auto error = integer(service, "error_number");
      error && why.find("errno") == std::string::npos)
    why += fmt::format("{}errno {} ({})", why.empty() ? "" : "; ", *error,
                       std::strerror(static_cast<int>(*error)));
  if (why.empty() && state == "starting") why = "not ready yet";
  if (why.empty() && text(service, "health") == "unhealthy")
    why = "unhealthy: " + text(service, "health_detail");
  // A change a config check refused while the old process runs on (issue 14).
  if (why.empty()) why = text(service, "rejected_change");
  // Its config_file is not watched: a change of it will not restart it.
  if (why.empty()) why = text(service, "watch_error");
  return why;
}

}  // namespace

int more_severe(int a, int b) {
  // The codes are ranked by their value; anything unexpected counts as a plain failure.
  auto rank = [](int code) { return code >= exit_ok && code <= exit_unreachable ? code : 1; };
  return rank(a) >= rank(b) ? a : b;
}

Report report_service_reply(const json& reply, std::string_view requested) {
  std::string outcome = text(reply, "outcome");
  std::string message = text(reply, "message");
  auto line = [&](std::string_view what) { return fmt::format("{}: {}", requested, what); };

  if (outcome == "started" || outcome == "restarted") {
    auto pid = integer(reply, "pid");
    std::string what = pid ? fmt::format("{} (pid {})", outcome, *pid) : outcome;
    // A restart whose old process needed SIGKILL: armd's message says so.
    if (killed(reply) && !message.empty()) what += "; " + message;
    return {line(what), exit_ok};
  }
  if (outcome == "already_running")
    return {line(fmt::format("already running (refcount {})", integer_or_dash(reply, "refcount"))),
            exit_ok};
  if (outcome == "stopped")  // armd may say which dependents went first
    return {line(message.empty() ? "stopped" : fmt::format("stopped; {}", message)), exit_ok};
  if (outcome == "still_referenced") {
    // refcount is what remains after this stop: the other holders.
    long long holders = integer(reply, "refcount").value_or(0);
    return {line(fmt::format("still running, {} other holder{}", holders, holders == 1 ? "" : "s")),
            exit_ok};
  }
  if (outcome == "not_running") {
    // armd may add why ("not running (was failed: ...)"); the line starts the same either way.
    return {line(message.starts_with("not running") ? message : "not running"), exit_ok};
  }
  if (outcome == "reset") return {line("reset (failure and restart history cleared)"), exit_ok};
  // reload_service and a checked restart (issue 14).
  if (outcome == "reloaded")
    return {line(message.empty() ? "reloaded" : fmt::format("reloaded ({})", message)), exit_ok};
  if (outcome == "check_failed" || outcome == "reload_failed")
    return {line(fmt::format("refused, the running process is untouched: {}", message)),
            exit_failed};
  if (outcome == "no_reload") return {line(fmt::format("cannot reload: {}", message)), exit_failed};
  // armd's message names the service and guesses what was meant: "unknown service 'ngnix' (did
  // you mean 'nginx'?)". An older armd said less.
  if (outcome == "unknown_service")
    return {message.starts_with("unknown service '") ? message : line("unknown service"),
            exit_unknown};
  if (outcome == "start_failed")
    return {line(message.empty() ? "could not be started"
                                 : fmt::format("could not be started: {}", message)),
            exit_failed};
  if (outcome == "shutting_down") return {line("refused, armd is shutting down"), exit_failed};
  // bad_request and anything newer than this armctl.
  return {line(fmt::format("armd answered {}{}{}", outcome.empty() ? "without an outcome" : outcome,
                           message.empty() ? "" : ": ", message)),
          exit_failed};
}

std::string format_status_table(const json& services) {
  constexpr std::size_t columns = 11;
  // HEALTH only when a service has a health check: other tables stay as they were.
  constexpr std::size_t health_column = 9;
  bool show_health = any_health(services);
  std::vector<std::array<std::string, columns>> rows;
  rows.push_back({"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "REFS", "LAST-EXIT", "NEXT-RESTART",
                  "DEPENDS-ON", "HEALTH", "WHY"});
  if (services.is_array()) {
    for (const json& service : services) {
      const json* next_restart = field(service, "next_restart_in_ms");
      const json* running_for = field(service, "running_for_ms");
      rows.push_back(
          {text(service, "name", "?"), text(service, "state", "?"), integer_or_dash(service, "pid"),
           running_for ? format_duration(*running_for) : "-", integer_or_dash(service, "restarts"),
           integer_or_dash(service, "refcount"), describe_last_exit(service),
           next_restart && next_restart->is_number() ? "in " + format_duration(*next_restart) : "-",
           describe_dependencies(service), health_cell(service), explain_state(service)});
    }
  }
  std::array<std::size_t, columns> widths{};
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < columns; ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string table;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i + 1 < columns; ++i)
      if (i != health_column || show_health) table += fmt::format("{:<{}}  ", row[i], widths[i]);
    table += row[columns - 1];                      // no padding after the last column
    while (table.ends_with(' ')) table.pop_back();  // nor after an empty one
    table += '\n';
  }
  return table;
}

std::string format_reload_summary(const json& reply) {
  std::string lines;
  for (const char* change : {"added", "removed", "restarted", "updated"}) {
    const json* names = field(reply, change);
    if (!names || !names->is_array()) continue;
    for (const json& name : *names) {
      if (name.is_string()) lines += fmt::format("{}: {}\n", name.get<std::string>(), change);
    }
  }
  lines += lines.empty() ? "reloaded; nothing changed\n" : "reloaded\n";
  return lines;
}

std::string format_duration(const json& milliseconds) {
  if (!milliseconds.is_number()) return "-";
  return arm::human_duration(std::chrono::milliseconds(milliseconds.get<long long>()));
}

}  // namespace armctl
