#include "child_environment.hpp"

#include <string_view>

extern char** environ;

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

bool is_hosts_notify_variable(std::string_view key) {
  return key == "NOTIFY_SOCKET" || key == "WATCHDOG_USEC" || key == "WATCHDOG_PID" ||
         key == "LISTEN_FDS" || key == "LISTEN_PID" || key == "LISTEN_FDNAMES";
}

}  // namespace

std::map<std::string, std::string> inherited_environment() {
  std::map<std::string, std::string> variables;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    auto equals = text.find('=');
    if (equals == std::string_view::npos || is_hosts_notify_variable(text.substr(0, equals)))
      continue;
    variables.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return variables;
}

std::vector<std::string> flattened(const std::map<std::string, std::string>& variables) {
  std::vector<std::string> flat;
  flat.reserve(variables.size());
  for (const auto& [key, value] : variables) flat.push_back(key + "=" + value);
  return flat;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace posix
ARM_END_NAMESPACE
