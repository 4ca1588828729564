// Transitions of one service: spawning, what an exit leads to, backing off, giving up,
// starting again, and leaving for good.
#include <fmt/compile.h>
#include <fmt/format.h>

#include "exit_policy.hpp"
#include "launch.hpp"
#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

using detail::ExitVerdict;
using detail::StopPhase;

// On success the service is running and its start waiters are answered, or (readiness other
// than exec) it is starting until it is ready; on failure the caller decides between backoff
// and failed.
bool ServiceSupervisor::Impl::spawn(Service& service) {
  set_state(service, ServiceState::starting);
  detail::fill_launch(launch_buffer, service.spec, arm);
  launch_buffer.listen_fds.clear();
  if (listeners && !service.settings().listen.empty())
    listeners->descriptors(service.name(), launch_buffer.listen_fds);
  auto spawned = spawner.spawn(launch_buffer);
  if (!spawned) {
    service.last_error = spawned.error().message;
    return false;
  }
  service.process.pid = *spawned;
  spare_pid_nodes.emplace(by_pid, *spawned, &service);
  service.process.running_since = clock.now();
  service.last_error.clear();
  config_change_spawned(service);  // the new process reads the file as it is now
  if (service.readiness) {         // what the previous process said is not about this one
    service.readiness->status_text.clear();
    service.readiness->error_number.reset();
    service.readiness->watchdog = service.settings().watchdog;  // WATCHDOG_USEC= was the old one's
    service.readiness->watchdog_due.reset();
  }
  if (service.settings().readiness.kind != Readiness::Kind::exec) {
    await_readiness(service);
    return true;
  }
  set_state(service, ServiceState::running, fmt::format(FMT_COMPILE("pid {}"), *spawned));
  answer_start_waiters(service);
  start_health_checks(service);
  arm_watchdog(service);
  return true;
}

// A fresh start fails (and so do the dependents waiting for it); an automatic restart of a
// wanted service counts as a crash: it backs off, or gives up once the restart intensity is
// exhausted (a binary that is gone would otherwise be retried forever).
void ServiceSupervisor::Impl::after_failure_to_run(Service& service, const std::string& why) {
  if (service.history.attempt == detail::Attempt::first) {
    become_inactive(service, ServiceState::failed, why);
    return;
  }
  fail_start_waiters(service, Outcome::start_failed, why);
  if (!service.wanted()) {
    become_inactive(service, ServiceState::failed, why);
    return;
  }
  back_off_or_give_up(service, why);
}

void ServiceSupervisor::Impl::back_off_or_give_up(Service& service, const std::string& why) {
  if (service.history.intensity.exhausted(service.settings(), clock.now())) {
    give_up(service, why);
  } else {
    schedule_restart(service, why);
  }
}

// The running × exit cell: the process ended on its own.
void ServiceSupervisor::Impl::after_unexpected_exit(Service& service, const ExitStatus& exit,
                                                    TimePoint now, bool left_processes,
                                                    const std::string* failure) {
  auto& history = service.history;
  service.stop.killed = false;  // a crash: no stop of it to tell about
  if (service.process.running_since)
    history.backoff.note_run(service.settings(), now - *service.process.running_since);
  auto exit_class =
      failure ? detail::ExitClass::failure : detail::classify_exit(service.settings(), exit);
  std::string what = describe(exit);
  if (left_processes)
    what += exit.clean() ? " but left processes running (stopped with it; does it fork into the "
                           "background?)"
                         : " and left processes running (stopped with it)";
  switch (detail::decide_exit(service.settings().restart, exit_class, in_shutdown,
                              history.intensity.exhausted(service.settings(), now))) {
    case ExitVerdict::back_off:
      service.last_error = failure ? *failure : "exited unexpectedly with " + what;
      schedule_restart(service, service.last_error);
      restart_dependents(service, false);
      return;
    case ExitVerdict::give_up:
      give_up(service, failure ? *failure : "exited unexpectedly with " + what);
      return;
    case ExitVerdict::settle_stopped:
    case ExitVerdict::settle_failed: {
      bool clean = exit_class == detail::ExitClass::clean;
      std::string error = clean && !left_processes ? std::string{} : "exited with " + what;
      if (failure) error = *failure;
      if (exit_class == detail::ExitClass::permanent_failure)
        error += " (a permanent failure exit code)";
      service.references.requests = 0;
      service.last_error = error;
      set_state(service, clean ? ServiceState::stopped : ServiceState::failed,
                "exited with " + what + "; not restarting");
      deactivate(service);
      take_down_dependents(service, service.state);
      return;
    }
  }
}

// The stopping × exit cell: the process it was stopping is reaped; after_exit says what next.
void ServiceSupervisor::Impl::after_stopping_exit(Service& service, const ExitStatus& exit) {
  service.stop.killed = service.stop.phase == StopPhase::kill_sent;
  if (service.stop.killed && in_shutdown) killed_in_shutdown.push_back(service.name());
  left(service);
  answer_stop_waiters(service);
  // The restarts waiting now, answered once the new process runs, hear of it too; nothing later.
  if (std::exchange(service.stop.killed, false) && service.waiters) {
    for (auto& waiter : service.waiters->starts)
      waiter.killed = waiter.on_success == Outcome::restarted;
  }
  std::string what = describe(exit);
  AfterExit after = std::exchange(service.after_exit, AfterExit::settle_stopped);
  bool automatic = after == AfterExit::start_again || after == AfterExit::back_off ||
                   after == AfterExit::give_up;
  if (automatic && in_shutdown) after = AfterExit::settle_stopped;
  switch (after) {
    case AfterExit::decide:
      service.stop_reason.clear();
      // Measured to the main process's exit: the stop of what it left was not run time.
      after_unexpected_exit(service, exit, service.process.last_exit_at.value_or(clock.now()),
                            true);
      return;
    case AfterExit::decide_failed: {
      std::string why = service.stop_reason.take();
      after_unexpected_exit(service, exit, clock.now(), false, &why);
      return;
    }
    case AfterExit::forget:
      fail_start_waiters(service, Outcome::start_failed, "removed from the configuration");
      set_state(service, ServiceState::stopped, "exited with " + what);
      forget(service);
      return;
    case AfterExit::start_again:
      start_again_after_exit(service);
      return;
    case AfterExit::back_off:
    case AfterExit::give_up: {
      std::string why = service.stop_reason.take();
      // Starts that waited for it to be ready (issue 13) fail, but keep their references: the
      // service is still wanted, in backoff or for the re-arm (give_up keeps them for it).
      fail_start_waiters(service, Outcome::start_failed, why, false);
      if (after == AfterExit::give_up) {
        give_up(service, why);
      } else {
        service.last_error = why;
        schedule_restart(service, why);
      }
      return;
    }
    case AfterExit::settle_stopped:
    case AfterExit::settle_failed: {
      auto final_state =
          after == AfterExit::settle_failed ? ServiceState::failed : ServiceState::stopped;
      service.references.requests = 0;
      if (final_state == ServiceState::failed) service.last_error = service.stop_reason;
      fail_start_waiters(service, Outcome::start_failed, "stopped before it could start");
      set_state(service, final_state,
                service.stop_reason.empty() ? "exited with " + what
                                            : fmt::format(FMT_COMPILE("exited with {}; {}"), what,
                                                          service.stop_reason.str()));
      service.stop_reason.clear();
      deactivate(service);
      if (!in_shutdown) take_down_dependents(service, final_state);
      return;
    }
  }
}

void ServiceSupervisor::Impl::start_again_after_exit(Service& service) {
  service.stop_reason.clear();
  if (!service.references.active) {
    // A service a reload dropped and brought back while it was stopping holds nothing yet:
    // activated, it takes its holds on its hard dependencies and starts once they run.
    set_state(service, ServiceState::stopped, "exited; starting again");
    activate(service);
    return;
  }
  try_start_now(service);
}

void ServiceSupervisor::Impl::schedule_restart(Service& service, const std::string& why) {
  Milliseconds delay = service.history.backoff.take(service.settings(), random);
  TimePoint now = clock.now();
  service.history.intensity.record(service.settings(), now);
  schedule(service, now + delay);
  detail_buffer.clear();
  fmt::format_to(std::back_inserter(detail_buffer), FMT_COMPILE("{}; restarting in {}"), why,
                 human_duration(delay));
  set_state(service, ServiceState::backoff,
            std::string_view(detail_buffer.data(), detail_buffer.size()), delay);
}

// Gives up on a crash-looping service; it may be re-armed later. Its hard dependents stop:
// with a re-arm pending they wait for it, otherwise they fail too.
void ServiceSupervisor::Impl::give_up(Service& service, const std::string& why) {
  TimePoint now = clock.now();
  service.references.before_failure = service.references.requests;
  service.references.requests = 0;
  service.last_error = fmt::format(FMT_COMPILE("{}; restarted {} times within {}, not restarting"),
                                   why, service.history.intensity.count(service.settings(), now),
                                   human_duration(service.settings().restart_window));
  std::string detail = service.last_error;
  auto retry_after = service.settings().retry_failed_after;
  if (retry_after) {
    schedule(service, now + *retry_after);
    detail += fmt::format(FMT_COMPILE("; trying again in {}"), human_duration(*retry_after));
  }
  set_state(service, ServiceState::failed, detail, retry_after);
  deactivate(service);
  if (retry_after) {
    restart_dependents(service, true);
  } else {
    take_down_dependents(service, ServiceState::failed);
  }
}

// A start of a service that is stopped or failed: a new run, with a fresh restart count and
// backoff, its dependencies started first.
void ServiceSupervisor::Impl::start_fresh(Service& service, std::optional<RequestRef> from,
                                          Outcome on_success) {
  add_start_waiter(service, from, on_success, true);
  activate(service);
}

// An explicit start (or restart) of a service in backoff: try now.
void ServiceSupervisor::Impl::start_now(Service& service, std::optional<RequestRef> from,
                                        Outcome on_success, bool takes_reference) {
  cancel_deadline(service);
  add_start_waiter(service, from, on_success, takes_reference);
  try_start_now(service);
}

// A running service stops and starts again (`after`: at once, or after the backoff), its
// dependents after it.
void ServiceSupervisor::Impl::group_restart(Service& service, const std::string& why,
                                            AfterExit after) {
  service.after_exit = after;
  restart_dependents(service, false);
  stop_group({&service}, why);
}

// A reload changed the launch of a service (an operator's act, not a loop): a running one
// restarts at once, its dependents after it; a backoff is cut short.
void ServiceSupervisor::Impl::restart_with_fresh_backoff(Service& service, std::string why) {
  service.history.backoff.reset(service.settings());
  switch (service.state) {
    case ServiceState::starting:  // its readiness may be what changed: not waited for
    case ServiceState::running:
      group_restart(service, why);
      return;
    case ServiceState::backoff:
      // The change may well be the fix for the crash it is waiting out: try now.
      start_now(service, std::nullopt, Outcome::restarted, false);
      return;
    case ServiceState::stopping:  // it restarts (or not) as already decided, with the change
    case ServiceState::waiting:   // it starts with the change once its dependencies run
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::failed:
      return;
  }
}

// A running service's configuration file changed: an automatic restart, paced and limited as a
// crash's is (exit_policy.hpp). Its dependents restart after it.
void ServiceSupervisor::Impl::restart_for_config_change(Service& service, std::string why) {
  auto& history = service.history;
  TimePoint now = clock.now();
  Duration ran_for =
      service.process.running_since ? now - *service.process.running_since : Duration::zero();
  history.backoff.note_run(service.settings(), ran_for);
  bool healthy = ran_for >= service.settings().backoff_reset_after;
  switch (
      detail::decide_config_change(history.intensity.exhausted(service.settings(), now), healthy)) {
    case detail::ConfigChangeVerdict::restart_now:
      ++history.restarts;
      history.intensity.record(service.settings(), now);
      group_restart(service, why);
      return;
    case detail::ConfigChangeVerdict::back_off:
      service.stop_reason = why;
      group_restart(service, why, AfterExit::back_off);
      return;
    case detail::ConfigChangeVerdict::give_up:
      service.stop_reason = why;
      service.after_exit = AfterExit::give_up;
      stop_group({&service}, why);
      return;
  }
}

void ServiceSupervisor::Impl::fail_for_dependency(Service& service, const Service& dependency) {
  std::string why = dependency.state == ServiceState::failed
                        ? fmt::format(FMT_COMPILE("dependency {} failed: {}"), dependency.name(),
                                      dependency.last_error.str())
                        : fmt::format(FMT_COMPILE("dependency {} is stopped"), dependency.name());
  become_inactive(service, ServiceState::failed, why);
}

// A service with no process leaves for good, stopped or failed: it answers who waited and
// gives back what it held.
void ServiceSupervisor::Impl::settle_inactive(Service& service, ServiceState final_state,
                                              const std::string& why) {
  cancel_deadline(service);
  service.after_exit = AfterExit::settle_stopped;
  service.history.attempt = detail::Attempt::retry;
  service.waiting_for.clear();
  fail_start_waiters(service, Outcome::start_failed, why);
  service.references.requests = 0;
  if (final_state == ServiceState::failed) service.last_error = why;
  if (service.state != final_state || final_state == ServiceState::failed)
    set_state(service, final_state, why);
  deactivate(service);
}

// ... and its hard dependents go with it. Returns their names.
std::vector<std::string> ServiceSupervisor::Impl::become_inactive(Service& service,
                                                                  ServiceState final_state,
                                                                  const std::string& why) {
  settle_inactive(service, final_state, why);
  return take_down_dependents(service, final_state);
}

ARM_END_NAMESPACE
