#include "armctl_monitor.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "armctl_output.hpp"
#include "protocol/protocol.hpp"

namespace armctl {

namespace {

using nlohmann::json;

std::string text_of(const json& object, const char* key) {
  auto value = object.find(key);
  return value != object.end() && value->is_string() ? value->get<std::string>() : "?";
}

std::optional<long long> number_of(const json& object, const char* key) {
  auto value = object.find(key);
  if (value == object.end() || !value->is_number_integer()) return std::nullopt;
  return value->get<long long>();
}

// "code 1", "signal 9"; with ", pid N" when the pid is known.
std::string how_it_exited(const json& event) {
  std::string how = "exit";
  if (auto last_exit = event.find("last_exit");
      last_exit != event.end() && last_exit->is_object()) {
    if (auto signal = number_of(*last_exit, "signal"))
      how = fmt::format("signal {}", *signal);
    else if (auto code = number_of(*last_exit, "code"))
      how = fmt::format("code {}", *code);
    else if (auto lost = last_exit->find("lost");
             lost != last_exit->end() && lost->is_boolean() && lost->get<bool>())
      how = "status lost";
  }
  if (auto pid = number_of(event, "pid")) how += fmt::format(", pid {}", *pid);
  return how;
}

void write_out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void interrupted(int) {
  ::_exit(exit_ok);
}

}  // namespace

std::string receipt_time() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto milliseconds =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  ::localtime_r(&seconds, &local);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", local.tm_hour, local.tm_min, local.tm_sec,
                     milliseconds);
}

std::string format_monitor_snapshot(const json& services, std::string_view time) {
  std::string out;
  if (!services.is_array()) return out;
  for (const json& service : services) {
    if (!service.is_object()) continue;
    out += fmt::format("{} {} {}", time, text_of(service, "name"), text_of(service, "state"));
    if (auto pid = number_of(service, "pid"))
      out += fmt::format(" (pid {})", *pid);
    else if (auto error = service.find("last_error");
             error != service.end() && error->is_string() && !error->get<std::string>().empty())
      out += fmt::format(" ({})", error->get<std::string>());
    out += '\n';
  }
  return out;
}

std::string format_monitor_event(const json& event, std::string_view time) {
  if (!event.is_object()) return {};
  auto kind = event.find("event");
  if (kind == event.end() || !kind->is_string()) return {};
  const std::string& what = kind->get_ref<const std::string&>();
  std::string name = text_of(event, "service");
  if (what == "state") {
    std::string out = fmt::format("{} {} {} -> {}", time, name, text_of(event, "previous"),
                                  text_of(event, "state"));
    // The supervisor's detail says what happened ("pid 42", "exited with code 1; restarting in
    // 100ms"); without one, the pid says which process it is.
    std::string why;
    if (auto detail = event.find("detail"); detail != event.end() && detail->is_string())
      why = detail->get<std::string>();
    if (auto pid = number_of(event, "pid"); pid && why.empty()) why = fmt::format("pid {}", *pid);
    if (!why.empty()) out += fmt::format(" ({})", why);
    return out + '\n';
  }
  if (what == "exit") return fmt::format("{} {} exited ({})\n", time, name, how_it_exited(event));
  if (what == "added") {
    std::string state = "?";
    if (auto status = event.find("status"); status != event.end() && status->is_object())
      state = text_of(*status, "state");
    return fmt::format("{} {} added ({})\n", time, name, state);
  }
  if (what == "removed") return fmt::format("{} {} removed\n", time, name);
  if (what == "health") {
    std::string detail = text_of(event, "detail");
    return fmt::format("{} {} {}{}\n", time, name, text_of(event, "health"),
                       detail.empty() ? "" : fmt::format(" ({})", detail));
  }
  if (what == "gap") {
    long long missed = number_of(event, "missed").value_or(0);
    return fmt::format(
        "{} -- {} event{} missed (dropped from armd's buffer before they could be sent) --\n", time,
        missed, missed == 1 ? "" : "s");
  }
  // A kind this armctl does not know yet (a newer armd): said, not hidden.
  return fmt::format("{} {} {}\n", time, name, what);
}

int print_events(const std::function<std::optional<std::string>()>& next_line, bool json_output) {
  while (auto line = next_line()) {
    if (json_output) {
      write_out(*line + '\n');
      continue;
    }
    auto event = armd::protocol::decode_reply(*line);
    if (!event) continue;
    write_out(format_monitor_event(*event, receipt_time()));
  }
  return exit_ok;
}

void end_quietly_on_interrupt() {
  struct sigaction action {};
  action.sa_handler = interrupted;
  ::sigaction(SIGINT, &action, nullptr);
}

}  // namespace armctl
