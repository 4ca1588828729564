// check_config: everything wrong with a Config built in code, reported at once. The loader's
// own checks already hold for configurations read from TOML; these are the ones a struct built
// by hand can break.
#include <fmt/format.h>

#include <map>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE

namespace {

void check_service(const std::string& key, const ServiceSpec& spec, std::vector<Error>& errors) {
  auto add = [&](std::string field, std::string message) {
    errors.push_back(
        Error::at("", 0, 0, fmt::format("services.{}.{}", key, field), std::move(message)));
  };
  if (key.empty()) add("name", "a service's name must not be empty");
  if (spec.name != key)
    add("name",
        fmt::format("the name '{}' differs from its key '{}' in Config::services", spec.name, key));
  if (spec.binary.empty()) add("binary", "must not be empty");
  auto not_negative = [&](const char* field, Milliseconds value) {
    if (value.count() < 0) add(field, "must not be negative");
  };
  not_negative("backoff_initial", spec.backoff_initial);
  not_negative("backoff_max", spec.backoff_max);
  not_negative("backoff_reset_after", spec.backoff_reset_after);
  not_negative("stop_timeout", spec.stop_timeout);
  not_negative("restart_window", spec.restart_window);
  if (spec.retry_failed_after) not_negative("retry_failed_after", *spec.retry_failed_after);
  not_negative("start_timeout", spec.start_timeout);
  if (spec.readiness.kind == Readiness::Kind::fd && spec.readiness.fd < 3)
    add("readiness", "the descriptor must be 3 or more (0-2 are stdin, stdout and stderr)");
  if (spec.readiness.kind == Readiness::Kind::after && spec.readiness.after.count() <= 0)
    add("readiness", "the `after` delay must be more than 0");
  if (spec.watchdog) {
    if (spec.watchdog->count() <= 0) add("watchdog", "must be more than 0");
    // Only a notify service has a channel to send WATCHDOG=1 on.
    if (spec.readiness.kind != Readiness::Kind::notify)
      add("watchdog", "needs readiness notify: only a notify service can send keep-alives");
  }
  if (spec.health) {
    const HealthCheck& check = *spec.health;
    if (check.interval.count() <= 0) add("health.interval", "must be more than 0");
    if (check.timeout.count() <= 0) add("health.timeout", "must be more than 0");
    if (check.failures == 0) add("health.failures", "must be 1 or more");
    not_negative("health.start_period", check.start_period);
    if (check.kind == HealthCheck::Kind::exec && check.command.empty())
      add("health.exec", "an exec probe needs a command");
    if (check.kind != HealthCheck::Kind::exec && check.address.port == 0)
      add("health", "a tcp or http probe needs an address with a port");
  }
  if (spec.reload) {
    if (spec.reload->signal && !spec.reload->command.empty())
      add("reload", "reload_signal and reload are exclusive");
    if (spec.reload->check_timeout.count() <= 0) add("check_timeout", "must be more than 0");
  }
  if (!(spec.backoff_jitter >= 0.0 && spec.backoff_jitter <= 1.0))
    add("backoff_jitter", "must be between 0 and 1");
  auto output = [&](const char* field, const OutputTarget& target) {
    if (target.kind == OutputTarget::Kind::file && target.path.empty())
      add(field, "a file target needs a path");
  };
  output("stdout", spec.standard_output);
  output("stderr", spec.standard_error);
  if (spec.standard_output.kind == OutputTarget::Kind::same_as_stdout)
    add("stdout", "cannot be merged into itself (\"stdout\" is for stderr)");
  if (spec.start == StartMode::on_demand && spec.listen.empty())
    add("start", "on_demand needs listen sockets");
  if (spec.idle_stop && (spec.start != StartMode::on_demand || spec.idle_stop->count() <= 0))
    add("idle_stop", "needs start on_demand, and must be more than 0");
  if (spec.readiness.kind == Readiness::Kind::fd && !spec.listen.empty() &&
      spec.readiness.fd < 3 + static_cast<int>(spec.listen.size()))
    add("readiness", "the descriptor is one of the listen sockets'");
  if (spec.listen_backlog == 0) add("listen_backlog", "must be 1 or more");
  if (spec.execution) {
    const ExecutionSettings& execution = *spec.execution;
    if (execution.nice && (*execution.nice < -20 || *execution.nice > 19))
      add("nice", "must be between -20 and 19");
    if (execution.oom_score_adj &&
        (*execution.oom_score_adj < -1000 || *execution.oom_score_adj > 1000))
      add("oom_score_adj", "must be between -1000 and 1000");
    if (execution.umask && *execution.umask > 0777) add("umask", "must be 0 to 0777");
    for (const auto& limit : execution.limits) {
      if (limit.soft > limit.hard)
        add(fmt::format("limits.{}", to_string(limit.resource)),
            "the soft limit is above the hard limit");
    }
    if (execution.capabilities >> 41)
      add("capabilities", "only capabilities 0 to 40 (CAP_CHOWN to CAP_CHECKPOINT_RESTORE)");
    // The child could only guess a group for a uid: the loader gives one, so must an embedder.
    if (execution.user && !execution.group)
      add("group", "`user` needs `group` (the loader sets the user's primary group)");
  }
  if (spec.config_section) {
    if (!spec.config_file) add("config_section", "needs config_file");
    if (auto problem = config_section_problem(*spec.config_section))
      add("config_section", std::move(*problem));
  }
}

}  // namespace

std::optional<std::string> config_section_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  for (char c : name) {
    if (c == '[' || c == ']') return fmt::format("'{}' must not contain brackets", name);
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return "must not contain control characters or line breaks";
  }
  if (name.front() == ' ' || name.back() == ' ')
    return fmt::format("'{}' must not start or end with a space", name);
  return std::nullopt;
}

std::expected<void, std::vector<Error>> check_config(const Config& config) {
  std::vector<Error> errors;
  for (const auto& [key, spec] : config.services) check_service(key, spec, errors);
  for (std::size_t i = 0; i < config.arm.default_services.size(); ++i) {
    const auto& name = config.arm.default_services[i];
    auto it = config.services.find(name);
    if (it == config.services.end())
      errors.push_back(Error::at("", 0, 0, fmt::format("arm.default_services[{}]", i),
                                 fmt::format("'{}' is not a configured service", name)));
    else if (it->second.start == StartMode::on_demand)
      errors.push_back(Error::at("", 0, 0, fmt::format("arm.default_services[{}]", i),
                                 fmt::format("'{}' starts on demand", name)));
  }
  std::map<std::string, std::string> owners;  // a socket's text -> the first service listing it
  for (const auto& [key, spec] : config.services) {
    for (const auto& socket : spec.listen) {
      auto [it, fresh] = owners.emplace(to_string(socket), key);
      if (!fresh)
        errors.push_back(Error::at(
            "", 0, 0, fmt::format("services.{}.listen", key),
            fmt::format("'{}' is also listed by service '{}'", to_string(socket), it->second)));
    }
  }
  if (auto graph = check_dependencies(config); !graph) errors.push_back(std::move(graph.error()));
  if (errors.empty()) return {};
  return std::unexpected(std::move(errors));
}

ARM_END_NAMESPACE
