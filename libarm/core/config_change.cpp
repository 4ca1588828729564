// Reload without restart, and the check before acting (issue 14). A running service whose
// config file changes, or that a client asks to reload or restart, may have (ServiceSpec::reload)
// a config_check, run first: it passes (exit 0) and the change goes through (the reload signal
// to the main process, the reload command, or the restart as before); it fails or times out and
// the running process is left alone, the change recorded as rejected for status. The commands
// run through the Prober (its exec probes run as the service would: its environment and working
// directory, never blocking the host), their results come back through on_probe_result, and
// their timeouts are the running service's deadline, as a health probe's.
//
// One step at a time per service: a change or a request that comes while a check or reload
// command runs waits for it; a file change that comes meanwhile is checked once more after it
// (the step in flight may have read the file before the edit).
#include <fmt/format.h>

#include <algorithm>

#include "launch.hpp"
#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

namespace {

using Step = Service::ConfigChange::Step;

// `{config}`, `{name}` and `{pid}` replaced in each word.
std::vector<std::string> substituted(const std::vector<std::string>& command,
                                     const detail::Identity& identity, ProcessId pid) {
  std::vector<std::string> words(command.size());
  std::string_view config = identity.config_file ? std::string_view(*identity.config_file) : "";
  std::string pid_text = std::to_string(pid);
  for (std::size_t i = 0; i < command.size(); ++i)
    detail::substitute_placeholders(words[i], command[i], config, identity.name, pid_text);
  return words;
}

}  // namespace

bool ServiceSupervisor::Impl::checks_before_acting(const Service& service) const {
  const auto& reload = service.settings().reload;
  return reload && !reload->check.empty();
}

Service::ConfigChange& ServiceSupervisor::Impl::config_change_of(Service& service) {
  if (!service.config_change) service.config_change = std::make_unique<Service::ConfigChange>();
  return *service.config_change;
}

// The running case of a file change: checked, then reloaded; or restarted as before.
void ServiceSupervisor::Impl::config_file_changed(Service& service, std::string why) {
  const auto& reload = service.settings().reload;
  if (!reload || (!reload->reloads() && reload->check.empty())) {
    restart_for_config_change(service, std::move(why));
    return;
  }
  auto& change = config_change_of(service);
  change.file_changed = true;
  change.why = std::move(why);
  if (change.step != Step::idle) {  // coalesced: looked at again once the step in flight ends
    change.changed_meanwhile = true;
    return;
  }
  if (checks_before_acting(service)) {
    run_config_step(service, Step::checking);
  } else {
    apply_config_change(service);
  }
  release_config_change_if_idle(service);
}

// A restart of the running service that waits for its config_check.
void ServiceSupervisor::Impl::restart_once_checked(Service& service,
                                                   std::optional<RequestRef> from) {
  auto& change = config_change_of(service);
  change.restarts.push_back(from);
  if (change.step == Step::idle) {
    change.why = "restart requested";
    run_config_step(service, Step::checking);
  }
  release_config_change_if_idle(service);
}

// The step in flight, if any, is no longer wanted, nor is the change it was for.
void ServiceSupervisor::Impl::cancel_config_step(Service::ConfigChange& change) {
  if (change.in_flight) {
    config_steps_in_flight.erase(*change.in_flight);
    if (prober) prober->cancel(*change.in_flight);
    change.in_flight.reset();
  }
  change.step = Step::idle;
  change.file_changed = false;
  change.changed_meanwhile = false;
}

// The service restarts now: whatever waited for a check or reload goes with the restart (the
// new process reads the file as it is); the step in flight is no longer wanted.
void ServiceSupervisor::Impl::join_restart(Service& service) {
  if (!service.config_change) return;
  auto& change = *service.config_change;
  cancel_config_step(change);
  for (auto& to : std::exchange(change.restarts, {}))
    add_start_waiter(service, to, Outcome::restarted, false);
  for (auto& to : std::exchange(change.reloads, {}))
    answer(to, service, Outcome::reloaded, "restarted instead (a restart was requested)");
}

void ServiceSupervisor::Impl::run_config_step(Service& service, Step step) {
  auto& change = *service.config_change;
  const ConfigReload& reload = *service.settings().reload;
  const auto& identity = service.spec.identity();
  change.changed_meanwhile = false;  // this step reads the file as it is now
  if (!prober) {                     // nothing can run the command: as if it could not run
    change.step = step;
    config_step_finished(service, false, "no Prober to run it", {});
    return;
  }
  ProbeId id = ++last_probe_id;
  HealthCheck command;
  command.kind = HealthCheck::Kind::exec;
  command.timeout = reload.check_timeout;
  command.command = substituted(step == Step::checking ? reload.check : reload.command, identity,
                                *service.process.pid);
  change.step = step;
  change.in_flight = id;
  change.due = clock.now() + reload.check_timeout;
  config_steps_in_flight.emplace(id, &service);
  prober->start(ProbeRequest{
      .id = id,
      .service = service.name(),
      .check = command,
      .main_pid = *service.process.pid,
      .environment = service.settings().environment,
      .working_directory = identity.working_directory
                               ? std::string_view(*identity.working_directory)
                               : std::string_view(),
      .purpose = step == Step::checking ? ProbePurpose::config_check : ProbePurpose::reload,
      .execution = service.settings().execution ? &*service.settings().execution : nullptr,
  });
  schedule_while_running(service);
}

// The change may go through (checked, or nothing to check): restart, signal or command.
void ServiceSupervisor::Impl::apply_config_change(Service& service) {
  auto& change = *service.config_change;
  const auto& reload = service.settings().reload;  // a reload of armd may have changed it
  if (!change.restarts.empty()) {
    std::string why = change.file_changed ? change.why : "restart requested";
    join_restart(service);
    group_restart(service, fmt::format("{} (config check passed)", why));
    return;
  }
  if (!reload || !reload->reloads()) {
    for (auto& to : std::exchange(change.reloads, {}))
      answer(to, service, Outcome::no_reload, "no reload_signal or reload configured");
    if (std::exchange(change.file_changed, false))
      restart_for_config_change(service, change.why + " (config check passed)");
    return;
  }
  if (reload->signal) {
    send_reload_signal(service, *reload->signal);
    return;
  }
  run_config_step(service, Step::reloading);
}

void ServiceSupervisor::Impl::send_reload_signal(Service& service, ReloadSignal signal) {
  auto& change = *service.config_change;
  std::string why = change.file_changed ? change.why : "reload requested";
  change.file_changed = false;
  spawner.signal_process(*service.process.pid, signal);
  std::string sent = fmt::format("sent {} to pid {}", to_string(signal), *service.process.pid);
  emit_event(service, fmt::format("{}: {}", why, sent));
  for (auto& to : std::exchange(change.reloads, {})) answer(to, service, Outcome::reloaded, sent);
}

bool ServiceSupervisor::Impl::config_step_ended(ProbeId id, const ProbeResult& result) {
  auto found = config_steps_in_flight.find(id);
  if (found == config_steps_in_flight.end()) return false;
  Service& service = *found->second;
  config_steps_in_flight.erase(found);
  service.config_change->in_flight.reset();
  std::string detail = result.ran ? result.detail : "could not run: " + result.detail;
  config_step_finished(service, result.ran && result.healthy, detail, result.output);
  if (service.state == ServiceState::running) schedule_while_running(service);
  release_config_change_if_idle(service);
  drain();
  return true;
}

// The running service's deadline came: its check or reload command may be late.
bool ServiceSupervisor::Impl::config_step_due(Service& service) {
  if (!service.config_change || !service.config_change->in_flight) return false;
  auto& change = *service.config_change;
  if (clock.now() < change.due) return false;
  ProbeId id = *change.in_flight;
  change.in_flight.reset();
  config_steps_in_flight.erase(id);
  if (prober) prober->cancel(id);
  config_step_finished(service, false,
                       fmt::format("timed out after {}",
                                   human_duration(service.settings().reload
                                                      ? service.settings().reload->check_timeout
                                                      : Milliseconds{0})),
                       {});
  if (service.state == ServiceState::running) schedule_while_running(service);
  release_config_change_if_idle(service);
  return true;
}

void ServiceSupervisor::Impl::config_step_finished(Service& service, bool passed,
                                                   const std::string& detail,
                                                   const std::string& output) {
  auto& change = *service.config_change;
  Step step = std::exchange(change.step, Step::idle);
  if (step == Step::checking && change.changed_meanwhile && checks_before_acting(service)) {
    run_config_step(service, Step::checking);  // this result is about a file already replaced
    return;
  }
  if (passed) {
    change.rejected.clear();
    if (step == Step::checking) {
      apply_config_change(service);
    } else {
      std::string said = detail.empty() ? "reload command succeeded" : "reload command: " + detail;
      emit_event(service, fmt::format("reloaded its configuration ({})", said));
      for (auto& to : std::exchange(change.reloads, {}))
        answer(to, service, Outcome::reloaded, said);
    }
  } else {
    bool checking = step == Step::checking;
    change.rejected = fmt::format("{}: {}", checking ? "config check failed" : "reload failed",
                                  detail.empty() ? "failed" : detail);
    change.file_changed = change.changed_meanwhile;  // a newer change is still to be applied
    emit_event(service,
               checking ? fmt::format("{}; the running process is left as it was", change.rejected)
                        : change.rejected);
    std::get<ServiceEvent>(outbox.queued().back().what).output = output;
    for (auto& to : std::exchange(change.reloads, {}))
      answer(to, service, checking ? Outcome::check_failed : Outcome::reload_failed,
             change.rejected);
    for (auto& to : std::exchange(change.restarts, {}))
      answer(to, service, Outcome::check_failed, "not restarted: " + change.rejected);
  }
  // What came while the step ran: a file change or a restart request checked once more.
  if (change.step == Step::idle && service.state == ServiceState::running &&
      (change.changed_meanwhile || !change.restarts.empty())) {
    change.changed_meanwhile = false;
    if (checks_before_acting(service)) {
      run_config_step(service, Step::checking);
    } else {
      apply_config_change(service);
    }
  }
}

// Its process leaves `running` (or the service is forgotten): nothing of the change can be
// applied to it any more. Who waited is answered; the new process, if any, reads the file anew.
void ServiceSupervisor::Impl::abandon_config_change(Service& service) {
  if (!service.config_change) return;
  auto& change = *service.config_change;
  cancel_config_step(change);
  std::string why = fmt::format(
      "its process left running ({}) before the change was applied",
      to_string(service.state == ServiceState::running ? ServiceState::stopping : service.state));
  for (auto& to : std::exchange(change.reloads, {})) answer(to, service, Outcome::not_running, why);
  for (auto& to : std::exchange(change.restarts, {}))
    answer(to, service, Outcome::start_failed, "not restarted: " + why);
  // Not freed here: this runs inside a transition whose callers may hold the record.
}

void ServiceSupervisor::Impl::config_change_spawned(Service& service) {
  if (!service.config_change) return;
  service.config_change->rejected.clear();  // freed when the next input ends with it idle
}

// Only at the end of an input: transitions in between may hold a reference to the record.
void ServiceSupervisor::Impl::release_config_change_if_idle(Service& service) {
  if (!service.config_change) return;
  auto& change = *service.config_change;
  if (change.step == Step::idle && !change.in_flight && change.reloads.empty() &&
      change.restarts.empty() && !change.file_changed && change.rejected.empty())
    service.config_change.reset();
}

// ---- reload_service --------------------------------------------------------------------------

void ServiceSupervisor::Impl::reload_service_request(std::optional<RequestRef> from,
                                                     std::string_view name) {
  Service* service = find_or_answer(from, name);
  if (!service || refused_in_shutdown(from, *service)) return;
  const auto& reload = service->settings().reload;
  if (!reload || !reload->reloads()) {
    answer(from, *service, Outcome::no_reload,
           "no reload_signal or reload configured: restart it instead");
    return;
  }
  switch (service->state) {
    case ServiceState::running: {
      auto& change = config_change_of(*service);
      change.reloads.push_back(from);
      if (change.step != Step::idle) break;  // answered with the step in flight
      if (checks_before_acting(*service)) {
        change.why = "reload requested";
        run_config_step(*service, Step::checking);
      } else {
        apply_config_change(*service);
      }
      release_config_change_if_idle(*service);
      break;
    }
    case ServiceState::starting:
      answer(from, *service, Outcome::not_running,
             "not ready yet (starting): a reload waits until it is running");
      break;
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::waiting:
    case ServiceState::stopping:
    case ServiceState::backoff:
    case ServiceState::failed:
      answer(from, *service, Outcome::not_running,
             fmt::format("not running ({})", to_string(service->state)));
      break;
  }
  drain();
}

ARM_END_NAMESPACE
