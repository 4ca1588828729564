// The supervisor's inputs. Read this file next to the table in include/arm/supervisor.hpp: each
// input is one `switch` over the service's state with no `default:`, so the compiler checks that
// every cell of the table is decided, and tests/unit/state_table_test.cpp drives every cell.
// The operations the cells are made of live in the files named in supervisor_impl.hpp.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

using detail::StopPhase;

namespace {

std::string joined(const std::vector<Error>& errors) {
  std::string text;
  for (const auto& error : errors) {
    if (!text.empty()) text += '\n';
    text += error.to_string();
  }
  return text;
}

Config checked(Config config) {
  if (auto valid = check_config(config); !valid)
    throw std::invalid_argument("arm::ServiceSupervisor: invalid configuration:\n" +
                                joined(valid.error()));
  return config;
}

std::string also_stopped(const std::vector<std::string>& names) {
  return names.empty() ? std::string{}
                       : fmt::format("also stopped its dependents: {}", fmt::join(names, ", "));
}

}  // namespace

ServiceSupervisor::ServiceSupervisor(Config config, Clock& clock, Spawner& spawner,
                                     Notifier& notifier, FileWatcher* watcher, Random* random,
                                     Prober* prober, Listeners* listeners)
    : impl_(std::make_unique<Impl>(checked(std::move(config)), clock, spawner, notifier, watcher,
                                   random, prober, listeners)) {}

std::expected<std::unique_ptr<ServiceSupervisor>, std::vector<Error>> ServiceSupervisor::create(
    Config config, Clock& clock, Spawner& spawner, Notifier& notifier, FileWatcher* watcher,
    Random* random, Prober* prober, Listeners* listeners) {
  if (auto valid = check_config(config); !valid) return std::unexpected(std::move(valid.error()));
  try {
    return std::make_unique<ServiceSupervisor>(std::move(config), clock, spawner, notifier, watcher,
                                               random, prober, listeners);
  } catch (const Impl::SocketsRefused& refused) {
    return std::unexpected(refused.errors);
  }
}

ServiceSupervisor::~ServiceSupervisor() = default;

void ServiceSupervisor::start_default_services() {
  Impl::Call call(*impl_);
  for (const auto& name : impl_->arm.default_services) impl_->start_request(std::nullopt, name);
  impl_->start_boot_services(impl_->arm.default_services);
}

void ServiceSupervisor::start(std::optional<RequestRef> from, std::string_view name) {
  Impl::Call call(*impl_);
  impl_->start_request(from, name);
}

void ServiceSupervisor::stop(std::optional<RequestRef> from, std::string_view name) {
  Impl::Call call(*impl_);
  impl_->stop_request(from, name, false);
}

void ServiceSupervisor::stop_all_references(std::optional<RequestRef> from, std::string_view name) {
  Impl::Call call(*impl_);
  impl_->stop_request(from, name, true);
}

void ServiceSupervisor::restart(std::optional<RequestRef> from, std::string_view name) {
  Impl::Call call(*impl_);
  impl_->restart_request(from, name, false);
}

void ServiceSupervisor::force_restart(std::optional<RequestRef> from, std::string_view name) {
  Impl::Call call(*impl_);
  impl_->restart_request(from, name, true);
}

void ServiceSupervisor::reload_service(std::optional<RequestRef> from, std::string_view name) {
  Impl::Call call(*impl_);
  impl_->reload_service_request(from, name);
}

void ServiceSupervisor::reset(std::optional<RequestRef> from, std::string_view name) {
  Impl::Call call(*impl_);
  impl_->reset_request(from, name);
}

void ServiceSupervisor::shutdown(std::optional<RequestRef> from) {
  Impl::Call call(*impl_);
  impl_->shutdown_request(from);
}

std::expected<ReloadSummary, std::vector<Error>> ServiceSupervisor::reload(Config config) {
  Impl::Call call(*impl_);
  if (auto valid = check_config(config); !valid) return std::unexpected(std::move(valid.error()));
  if (impl_->in_shutdown)
    return std::unexpected(std::vector<Error>{Error::system(0, "refused: shutting down")});
  // Sockets first: one that cannot be opened refuses the whole configuration, and nothing changed.
  if (auto held = impl_->hold_sockets(config); !held)
    return std::unexpected(std::move(held.error()));
  return impl_->apply(std::move(config));
}

void ServiceSupervisor::client_gone(ClientId client) {
  Impl::Call call(*impl_);
  impl_->forget_client(client);
}

bool ServiceSupervisor::on_child_exit(ProcessId pid, ExitStatus exit) {
  Impl::Call call(*impl_);
  return impl_->child_exited(pid, exit);
}

bool ServiceSupervisor::on_main_exit(ProcessId pid, ExitStatus exit) {
  Impl::Call call(*impl_);
  return impl_->main_exited(pid, exit);
}

bool ServiceSupervisor::on_notify(ProcessId pid, const ServiceNotification& notification) {
  Impl::Call call(*impl_);
  return impl_->notified(pid, notification);
}

bool ServiceSupervisor::on_probe_result(ProbeId id, const ProbeResult& result) {
  Impl::Call call(*impl_);
  return impl_->probe_ended(id, result);
}

bool ServiceSupervisor::on_socket_activity(std::string_view service) {
  Impl::Call call(*impl_);
  return impl_->socket_activity(service);
}

void ServiceSupervisor::on_file_changed(const WatchedFile& file) {
  Impl::Call call(*impl_);
  impl_->file_changed(file);
}

void ServiceSupervisor::on_file_changed(std::string_view path) {
  on_file_changed(WatchedFile{std::string(path), {}});
}

void ServiceSupervisor::on_timer() {
  Impl::Call call(*impl_);
  TimePoint now = impl_->clock.now();
  auto& deadlines = impl_->deadlines;
  while (!deadlines.empty() && std::get<0>(*deadlines.begin()) <= now) {
    Service& service = *std::get<2>(*deadlines.begin());
    impl_->spare_deadline_nodes.erase(deadlines, deadlines.begin());
    service.deadline.reset();
    impl_->timer_due(service);
    impl_->drain();
  }
}

void ServiceSupervisor::set_deadline_listener(
    std::function<void(std::optional<TimePoint>)> listener) {
  Impl::Call call(*impl_);
  impl_->deadline_listener = std::move(listener);
  impl_->deadline_ever_told = false;  // told the current deadline when this call ends
}

// ---- start -----------------------------------------------------------------------------------

void ServiceSupervisor::Impl::start_request(std::optional<RequestRef> from, std::string_view name) {
  Service* service = find_or_answer(from, name);
  if (!service || refused_in_shutdown(from, *service)) return;
  switch (service->state) {
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::failed:
      start_fresh(*service, from, Outcome::started);
      break;
    case ServiceState::waiting:
      // Answered once its dependencies run and it does.
      add_start_waiter(*service, from, Outcome::started, true);
      break;
    case ServiceState::starting:
      // Answered when it is ready (or with why it never was), like the start that spawned it.
      add_start_waiter(*service, from, Outcome::already_running, true);
      break;
    case ServiceState::running:
      ++service->references.requests;
      answer(from, *service, Outcome::already_running);
      break;
    case ServiceState::stopping:
      // The old process is still on its way out; a new one follows once it is reaped.
      service->after_exit = AfterExit::start_again;
      add_start_waiter(*service, from, Outcome::started, true);
      break;
    case ServiceState::backoff:
      // Someone wants it now: no reason to wait out the backoff.
      start_now(*service, from, Outcome::started, true);
      break;
  }
  drain();
}

// ---- stop ------------------------------------------------------------------------------------

void ServiceSupervisor::Impl::stop_request(std::optional<RequestRef> from, std::string_view name,
                                           bool all_references) {
  Service* service = find_or_answer(from, name);
  if (!service) return;
  // With all_references every reference goes at once: this stop is the last one.
  if (!all_references && service->references.requests > 1) {
    --service->references.requests;
    answer(from, *service, Outcome::still_referenced,
           fmt::format("still held by {} other reference(s)", service->references.requests));
    return;
  }
  // The last reference: the service stops, and its hard dependents with it (first).
  switch (service->state) {
    case ServiceState::stopped:
      answer(from, *service, Outcome::not_running, "not running");
      break;
    case ServiceState::listening:
      answer(from, *service, Outcome::not_running, "not running (listening: a client starts it)");
      break;
    case ServiceState::failed:
      cancel_deadline(*service);  // a pending re-arm
      set_state(*service, ServiceState::stopped, "failure acknowledged by stop");
      take_down_dependents(*service, ServiceState::stopped);
      answer(from, *service, Outcome::not_running,
             "not running (was failed: " + service->last_error.str() + ")");
      break;
    case ServiceState::starting:
    case ServiceState::running:
      service->references.requests = 0;
      add_stop_waiter(*service, from,
                      also_stopped(take_down_dependents(*service, ServiceState::stopped)));
      service->after_exit = AfterExit::settle_stopped;
      stop_group({service}, "stop requested");
      break;
    case ServiceState::stopping:
      service->references.requests = 0;
      if (service->automatic_after_exit()) service->after_exit = AfterExit::settle_stopped;
      fail_start_waiters(*service, Outcome::start_failed, "stopped before it could start");
      take_down_dependents(*service, ServiceState::stopped);
      add_stop_waiter(*service, from);
      break;
    case ServiceState::waiting:
    case ServiceState::backoff:
      answer(from, *service, Outcome::stopped,
             also_stopped(become_inactive(*service, ServiceState::stopped, "stop requested")));
      break;
  }
  drain();
}

// ---- restart ---------------------------------------------------------------------------------

void ServiceSupervisor::Impl::restart_request(std::optional<RequestRef> from, std::string_view name,
                                              bool force) {
  Service* service = find_or_answer(from, name);
  if (!service || refused_in_shutdown(from, *service)) return;
  switch (service->state) {
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::failed:
      // Like systemd: restarting a service that is not running starts it.
      start_fresh(*service, from, Outcome::started);
      break;
    case ServiceState::waiting:
      add_start_waiter(*service, from, Outcome::restarted, false);
      break;
    case ServiceState::starting:
      add_start_waiter(*service, from, Outcome::restarted, false);
      group_restart(*service, "restart requested");
      break;
    case ServiceState::running:
      // With a config_check, the running process is replaced only once the check passes.
      if (!force && checks_before_acting(*service)) {
        restart_once_checked(*service, from);
        break;
      }
      join_restart(*service);
      add_start_waiter(*service, from, Outcome::restarted, false);
      group_restart(*service, force ? "restart requested (--force: config check skipped)"
                                    : "restart requested");
      break;
    case ServiceState::stopping:
      service->after_exit = AfterExit::start_again;
      add_start_waiter(*service, from, Outcome::restarted, !service->wanted());
      break;
    case ServiceState::backoff:
      start_now(*service, from, Outcome::restarted, false);
      break;
  }
  drain();
}

// ---- reset -----------------------------------------------------------------------------------

void ServiceSupervisor::Impl::reset_request(std::optional<RequestRef> from, std::string_view name) {
  Service* service = find_or_answer(from, name);
  if (!service) return;
  service->history.intensity.reset();
  service->history.backoff.reset(service->settings());
  service->references.before_failure = 0;
  switch (service->state) {
    case ServiceState::failed:
      cancel_deadline(*service);
      service->last_error.clear();
      set_state(*service, ServiceState::stopped, "reset");
      // Dependents waiting for a re-arm that will not come now.
      take_down_dependents(*service, ServiceState::stopped);
      break;
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::waiting:
    case ServiceState::starting:
    case ServiceState::running:
    case ServiceState::stopping:
    case ServiceState::backoff:
      break;  // only the history is cleared
  }
  answer(from, *service, Outcome::reset, "restart history cleared");
  drain();
}

// ---- shutdown --------------------------------------------------------------------------------

void ServiceSupervisor::Impl::shutdown_request(std::optional<RequestRef> from) {
  if (from) shutdown_waiters.push_back(*from);
  if (!in_shutdown) {
    in_shutdown = true;
    start_queue.clear();
    release_queue.clear();
    std::vector<Service*> running;
    for (auto& [name, owned] : services) {
      Service& service = *owned;
      service.graph.in_start_queue = false;
      if (service.automatic_after_exit()) service.after_exit = AfterExit::settle_stopped;
      fail_start_waiters(service, Outcome::shutting_down, "armd is shutting down");
      service.references.requests = 0;
      switch (service.state) {
        case ServiceState::starting:
        case ServiceState::running:
          service.after_exit = AfterExit::settle_stopped;
          running.push_back(&service);
          break;
        case ServiceState::waiting:
        case ServiceState::backoff:
          cancel_deadline(service);
          service.waiting_for.clear();
          set_state(service, ServiceState::stopped, "shutdown");
          break;
        case ServiceState::listening:  // no more clients are let in
          set_state(service, ServiceState::stopped, "shutdown");
          break;
        case ServiceState::failed:
          cancel_deadline(service);  // a pending re-arm
          break;
        case ServiceState::stopping:
        case ServiceState::stopped:
          break;
      }
      if (!service.process.pid) service.references.active = false;
    }
    // Dependents first: each service gets SIGTERM once everything that depends on it is gone.
    stop_group(running, "shutdown");
    recount();  // the holds dropped above, without the releases they would set off
  }
  finish_shutdown_if_done();
}

// ---- a process exits -------------------------------------------------------------------------

bool ServiceSupervisor::Impl::child_exited(ProcessId pid, ExitStatus exit) {
  auto found = by_pid.find(pid);
  if (found == by_pid.end()) return false;
  Service& service = *found->second;
  spare_pid_nodes.erase(by_pid, found);
  TimePoint now = clock.now();
  service.process.pid.reset();
  // When the main process exited before the rest of the service, its status and its time are
  // what count (the stop of what it left is not run time, for the backoff).
  if (service.process.main_exit) {
    exit = *std::exchange(service.process.main_exit, std::nullopt);
    now = service.process.last_exit_at.value_or(now);
  }
  service.process.last_exit = exit;
  service.process.last_exit_at = now;
  cancel_deadline(service);
  exit_being_handled = ExitBeingHandled{&service, pid, exit};
  switch (service.state) {
    case ServiceState::starting:
      exited_before_ready(service, exit);
      after_unexpected_exit(service, exit, now);
      break;
    case ServiceState::running:
      after_unexpected_exit(service, exit, now);
      break;
    case ServiceState::stopping:
      after_stopping_exit(service, exit);
      break;
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::waiting:
    case ServiceState::backoff:
    case ServiceState::failed:
      break;  // no process in these states: cannot happen
  }
  exit_being_handled.reset();  // (a service forgotten meanwhile took it before it went)
  drain();
  finish_shutdown_if_done();
  return true;
}

// ---- the main process exits, others of the service remain -----------------------------------

bool ServiceSupervisor::Impl::main_exited(ProcessId pid, ExitStatus exit) {
  auto found = by_pid.find(pid);
  if (found == by_pid.end()) return false;
  Service& service = *found->second;
  if (service.process.main_exit) return true;  // told twice: nothing new
  service.process.main_exit = exit;
  service.process.last_exit = exit;
  service.process.last_exit_at = clock.now();
  exit_being_handled = ExitBeingHandled{&service, pid, exit};
  switch (service.state) {
    case ServiceState::starting:
    case ServiceState::running:
      if (service.state == ServiceState::starting) exited_before_ready(service, exit);
      // Like an exit, but the service is not gone yet: what it left gets the same graceful
      // stop as any stop, and the restart policy decides once nothing is left.
      service.after_exit = AfterExit::decide;
      // The service is going down as in a crash: its dependents restart after it, as they
      // would after any exit (and a start meanwhile, which replaces `decide`, finds them so).
      restart_dependents(service, false);
      stop_group({&service}, fmt::format("main process exited with {} but left processes running; "
                                         "stopping them",
                                         describe(exit)));
      break;
    case ServiceState::stopping:
      break;  // already on its way out: the stop goes on for what is left
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::waiting:
    case ServiceState::backoff:
    case ServiceState::failed:
      break;  // no process in these states: cannot happen
  }
  exit_being_handled.reset();
  drain();
  return true;
}

// ---- a configuration file changes ------------------------------------------------------------

void ServiceSupervisor::Impl::file_changed(const WatchedFile& file) {
  if (in_shutdown) return;
  auto it = by_config_file.find(file);
  if (it == by_config_file.end()) return;
  std::vector<Service*> affected = it->second;
  for (Service* service : affected) {
    std::string why =
        file.section.empty()
            ? fmt::format("configuration file {} changed", file.path)
            : fmt::format("section [{}] of configuration file {} changed", file.section, file.path);
    switch (service->state) {
      case ServiceState::running:
        // A reload or a check may apply it without a restart (config_change.cpp).
        config_file_changed(*service, std::move(why));
        break;
      case ServiceState::starting:  // not ready: may not handle a reload signal yet
        restart_for_config_change(*service, std::move(why));
        break;
      case ServiceState::backoff:   // the restart due picks up the new file; not sooner, or a
                                    // service that rewrites its file before crashing would loop
      case ServiceState::stopping:  // it restarts (or not) as already decided, with the change
      case ServiceState::waiting:   // it starts with the change once its dependencies run
      case ServiceState::stopped:
      case ServiceState::listening:
      case ServiceState::failed:
        break;
    }
  }
  drain();
}

// ---- a deadline is due -----------------------------------------------------------------------

void ServiceSupervisor::Impl::timer_due(Service& service) {
  switch (service.state) {
    case ServiceState::backoff:
      ++service.history.restarts;
      try_start_now(service);
      break;
    case ServiceState::stopping:
      service.stop.phase = StopPhase::kill_sent;
      spawner.signal_group(*service.process.pid, StopSignal::kill);
      set_state(service, ServiceState::stopping,
                fmt::format("still running {} after SIGTERM; sent SIGKILL",
                            human_duration(service.settings().stop_timeout)));
      break;
    case ServiceState::failed: {  // a re-arm after the intensity limit tripped
      service.references.requests = service.references.before_failure;
      if (!service.wanted()) service.references.requests = 1;
      unsigned restarts = service.history.restarts + 1;
      activate(service);
      service.history.restarts = restarts;
      service.history.attempt = detail::Attempt::retry;  // a spawn error now is one more crash
      break;
    }
    case ServiceState::starting:  // not ready within start_timeout, or its `after` delay passed
      readiness_deadline_due(service);
      break;
    case ServiceState::running:  // its watchdog expired, a health probe is due or late, an idle
                                 // period is over, or its config check or reload command is late
      if (!idle_due(service) && !config_step_due(service) && !health_due(service))
        readiness_deadline_due(service);
      break;
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::waiting:
      break;  // deadlines are cancelled on leaving the states that have one
  }
}

ARM_END_NAMESPACE
