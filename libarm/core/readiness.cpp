// Readiness (issue 13): a service whose readiness is not `exec` stays `starting` after its spawn
// until it says it is ready (on_notify: READY=1, or a line on its readiness descriptor) or its
// `after` delay passes; only then is it `running`, its starts answered and its hard dependents
// started. Not ready within start_timeout, or silent past its watchdog once ready, it is stopped
// and its restart policy decides as for a failed exit.
//
// The service's one deadline is, while starting, the earlier of the start timeout and the end of
// the `after` delay; while running, the watchdog's expiry. Services ready at exec without a
// watchdog never have one.
#include <fmt/compile.h>
#include <fmt/format.h>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

namespace {

std::string readiness_detail(const Service& service) {
  const Readiness& readiness = service.settings().readiness;
  switch (readiness.kind) {
    case Readiness::Kind::notify:
      return fmt::format(FMT_COMPILE("pid {}; waiting for READY=1"), *service.process.pid);
    case Readiness::Kind::fd:
      return fmt::format(FMT_COMPILE("pid {}; waiting for a line on its descriptor {}"),
                         *service.process.pid, readiness.fd);
    case Readiness::Kind::after:
      return fmt::format(FMT_COMPILE("pid {}; ready once up {}"), *service.process.pid,
                         human_duration(readiness.after));
    case Readiness::Kind::exec:
      break;
  }
  return fmt::format(FMT_COMPILE("pid {}"), *service.process.pid);
}

}  // namespace

Service::Readiness& ServiceSupervisor::Impl::readiness_of(Service& service) {
  if (!service.readiness) service.readiness = std::make_unique<Service::Readiness>();
  return *service.readiness;
}

// Just spawned, not ready at exec: starting until it is, with a deadline for each way out.
void ServiceSupervisor::Impl::await_readiness(Service& service) {
  auto& readiness = readiness_of(service);
  TimePoint spawned = *service.process.running_since;
  readiness.start_deadline.reset();
  if (service.settings().start_timeout.count() > 0)
    readiness.start_deadline = spawned + service.settings().start_timeout;
  readiness.watchdog = service.settings().watchdog;
  set_state(service, ServiceState::starting, readiness_detail(service));
  std::optional<TimePoint> due = readiness.start_deadline;
  if (service.settings().readiness.kind == Readiness::Kind::after) {
    TimePoint ready_at = spawned + service.settings().readiness.after;
    if (!due || ready_at < *due) due = ready_at;
  }
  if (due) schedule(service, *due);
}

void ServiceSupervisor::Impl::become_ready(Service& service) {
  cancel_deadline(service);  // the start timeout's; the watchdog's, if any, is armed below
  set_state(service, ServiceState::running,
            fmt::format(FMT_COMPILE("pid {}; ready"), *service.process.pid));
  answer_start_waiters(service);
  enqueue_waiting_dependents(service);
  start_health_checks(service);
  arm_watchdog(service);
}

// From now (ready, or the latest WATCHDOG=1): the next keep-alive is due within the interval.
void ServiceSupervisor::Impl::arm_watchdog(Service& service) {
  std::optional<Milliseconds> interval =
      service.readiness ? service.readiness->watchdog : service.settings().watchdog;
  if (interval && interval->count() > 0) {
    readiness_of(service).watchdog_due = clock.now() + *interval;
  } else if (service.readiness) {
    service.readiness->watchdog_due.reset();
  }
  schedule_while_running(service);
}

void ServiceSupervisor::Impl::schedule_while_running(Service& service) {
  std::optional<TimePoint> due;
  if (service.readiness) due = service.readiness->watchdog_due;
  if (service.health && (!due || service.health->next_at < *due)) due = service.health->next_at;
  if (service.on_demand && service.on_demand->idle_check_at &&
      (!due || *service.on_demand->idle_check_at < *due))
    due = service.on_demand->idle_check_at;
  if (service.config_change && service.config_change->in_flight &&
      (!due || service.config_change->due < *due))
    due = service.config_change->due;
  if (due) {
    schedule(service, *due);
  } else {
    cancel_deadline(service);
  }
}

void ServiceSupervisor::Impl::readiness_deadline_due(Service& service) {
  TimePoint now = clock.now();
  if (service.state == ServiceState::running) {
    if (!service.readiness || !service.readiness->watchdog_due ||
        now < *service.readiness->watchdog_due) {
      schedule_while_running(service);  // not due yet (WATCHDOG=1 moved it meanwhile)
      return;
    }
    Milliseconds interval = service.readiness && service.readiness->watchdog
                                ? *service.readiness->watchdog
                                : service.settings().watchdog.value_or(Milliseconds{0});
    stop_as_failed(service,
                   fmt::format(FMT_COMPILE("watchdog timeout (no WATCHDOG=1 within {})"),
                               human_duration(interval)),
                   true);
    return;
  }
  const Readiness& wanted = service.settings().readiness;
  if (wanted.kind == Readiness::Kind::after &&
      now >= *service.process.running_since + wanted.after) {
    become_ready(service);
    return;
  }
  auto& readiness = readiness_of(service);
  if (readiness.start_deadline && now >= *readiness.start_deadline) {
    TimePoint spawned = *service.process.running_since;
    stop_as_failed(service,
                   fmt::format(FMT_COMPILE("not ready within {}"),
                               human_duration(std::chrono::duration_cast<Milliseconds>(
                                   *readiness.start_deadline - spawned))),
                   false);
    return;
  }
  // Not due yet (a deadline moved meanwhile): wait for the earlier of the two again.
  std::optional<TimePoint> due = readiness.start_deadline;
  if (wanted.kind == Readiness::Kind::after) {
    TimePoint ready_at = *service.process.running_since + wanted.after;
    if (!due || ready_at < *due) due = ready_at;
  }
  if (due) schedule(service, *due);
}

// The supervisor gives up on this process (not ready in time, or its watchdog): its starts fail
// now, it is stopped (its dependents first, as after a crash), and once it is reaped the restart
// policy decides as for a failed exit.
void ServiceSupervisor::Impl::stop_as_failed(Service& service, const std::string& why,
                                             bool abort_first) {
  service.last_error = why;
  fail_start_waiters(service, Outcome::start_failed, why, false);
  service.after_exit = AfterExit::decide_failed;
  service.stop_reason = why;
  service.stop.abort_first = abort_first;
  restart_dependents(service, false);
  stop_group({&service}, why);
}

// Its starts fail, naming the exit; the restart policy then decides as for any crash (the
// caller). Their references stay, so a restart the policy makes is still wanted.
void ServiceSupervisor::Impl::exited_before_ready(Service& service, const ExitStatus& exit) {
  fail_start_waiters(service, Outcome::start_failed,
                     fmt::format(FMT_COMPILE("exited with {} before it was ready"), describe(exit)),
                     false);
}

bool ServiceSupervisor::Impl::notified(ProcessId pid, const ServiceNotification& notification) {
  auto found = by_pid.find(pid);
  if (found == by_pid.end()) return false;
  Service& service = *found->second;
  // What it says about itself is kept in every state (a stopping service may still explain).
  if (notification.status) readiness_of(service).status_text = *notification.status;
  if (notification.error_number) readiness_of(service).error_number = notification.error_number;
  if (notification.watchdog_timeout) {
    // WATCHDOG_USEC=0 turns the watchdog off, as a service that never asked for one.
    auto interval = *notification.watchdog_timeout;
    readiness_of(service).watchdog =
        interval.count() > 0 ? std::optional<Milliseconds>(interval) : std::nullopt;
  }
  switch (service.state) {
    case ServiceState::starting: {
      if (notification.watchdog_trigger) {
        stop_as_failed(service, "watchdog triggered by the service (WATCHDOG=trigger)", true);
        break;
      }
      if (notification.ready) {
        become_ready(service);
        break;
      }
      auto& readiness = readiness_of(service);
      if (notification.extend_timeout && readiness.start_deadline) {
        TimePoint extended = clock.now() + *notification.extend_timeout;
        if (extended > *readiness.start_deadline) {
          readiness.start_deadline = extended;
          readiness_deadline_due(service);  // reschedules the earlier of the two
        }
      }
      break;
    }
    case ServiceState::running:
      if (notification.watchdog_trigger) {
        stop_as_failed(service, "watchdog triggered by the service (WATCHDOG=trigger)", true);
      } else if (notification.watchdog || notification.watchdog_timeout) {
        arm_watchdog(service);
      }
      break;
    case ServiceState::stopping:  // on its way out: nothing it says changes that
    case ServiceState::stopped:   // no process in these states: cannot happen
    case ServiceState::listening:
    case ServiceState::waiting:
    case ServiceState::backoff:
    case ServiceState::failed:
      break;
  }
  drain();
  return true;
}

ARM_END_NAMESPACE
