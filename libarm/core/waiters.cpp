// Requests waiting on a transition, and their replies: each request is answered exactly once.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

void ServiceSupervisor::Impl::answer(std::optional<RequestRef> to, const Service& service,
                                     Outcome outcome, std::string message) {
  if (!to) return;
  emit(Reply{*to, outcome, service.name(), std::move(message), service.process.pid,
             service.refcount()});
}

void ServiceSupervisor::Impl::add_start_waiter(Service& service, std::optional<RequestRef> to,
                                               Outcome on_success, bool holds_reference) {
  if (holds_reference) ++service.references.requests;
  // A reference taken by nobody in particular (default services) still needs its entry so that
  // a failed start gives it back.
  if (!to && !holds_reference) return;
  waiters_of(service).starts.push_back({to, on_success, holds_reference});
  if (to) with_waiters.insert(&service);
}

void ServiceSupervisor::Impl::add_stop_waiter(Service& service, std::optional<RequestRef> to,
                                              std::string note) {
  if (!to) return;
  auto& waiters = waiters_of(service);
  waiters.stops.push_back(*to);
  if (!note.empty()) waiters.stop_note = std::move(note);
  with_waiters.insert(&service);
}

Service::Waiters& ServiceSupervisor::Impl::waiters_of(Service& service) {
  if (!service.waiters) service.waiters = std::make_unique<Service::Waiters>();
  return *service.waiters;
}

// The last waiter gone: the record goes too.
void ServiceSupervisor::Impl::release_waiters_if_none(Service& service) {
  if (!service.waiters || !service.waiters->starts.empty() || !service.waiters->stops.empty())
    return;
  service.waiters.reset();
  with_waiters.erase(&service);
}

// A restart whose old process needed SIGKILL says so (StartWaiter::killed, set when it was
// reaped); a start that waited for that process to leave did not ask for it to stop: not told.
void ServiceSupervisor::Impl::answer_start_waiters(Service& service) {
  if (!service.waiters) return;
  auto waiters = std::exchange(service.waiters->starts, {});
  for (const auto& waiter : waiters) {
    if (waiter.killed) {
      answer_killed(waiter.to, service, waiter.on_success, kill_note(service));
    } else {
      answer(waiter.to, service, waiter.on_success);
    }
  }
  release_waiters_if_none(service);
}

// Each waiter is told why; references the failed starts took are given back.
void ServiceSupervisor::Impl::fail_start_waiters(Service& service, Outcome outcome,
                                                 const std::string& why, bool give_back) {
  if (!service.waiters) return;
  auto waiters = std::exchange(service.waiters->starts, {});
  for (const auto& waiter : waiters) {
    if (give_back && waiter.holds_reference && service.references.requests > 0)
      --service.references.requests;
  }
  for (const auto& waiter : waiters) answer(waiter.to, service, outcome, why);
  release_waiters_if_none(service);
}

void ServiceSupervisor::Impl::answer_stop_waiters(Service& service) {
  if (!service.waiters) return;
  auto waiters = std::exchange(service.waiters->stops, {});
  std::string note = std::exchange(service.waiters->stop_note, {});
  if (service.stop.killed) {
    note = note.empty() ? kill_note(service) : kill_note(service) + "; " + note;
    for (const auto& to : waiters) answer_killed(to, service, Outcome::stopped, note);
  } else {
    for (const auto& to : waiters) answer(to, service, Outcome::stopped, note);
  }
  release_waiters_if_none(service);
}

void ServiceSupervisor::Impl::answer_killed(std::optional<RequestRef> to, const Service& service,
                                            Outcome outcome, std::string message) {
  if (!to) return;
  Reply reply{
      *to, outcome, service.name(), std::move(message), service.process.pid, service.refcount()};
  reply.killed = true;
  emit(std::move(reply));
}

std::string ServiceSupervisor::Impl::kill_note(const Service& service) {
  return fmt::format("killed with SIGKILL: it did not exit within stop_timeout {} of SIGTERM",
                     human_duration(service.settings().stop_timeout));
}

// Its references stay (as in the original ARM); only the answers are no longer wanted.
void ServiceSupervisor::Impl::forget_client(ClientId client) {
  std::erase_if(shutdown_waiters, [&](const RequestRef& r) { return r.client == client; });
  std::vector<Service*> touched(with_waiters.begin(), with_waiters.end());
  for (Service* service : touched) {
    if (!service->waiters) continue;
    for (auto& waiter : service->waiters->starts) {
      if (waiter.to && waiter.to->client == client) waiter.to.reset();
    }
    std::erase_if(service->waiters->stops, [&](const RequestRef& r) { return r.client == client; });
  }
  for (auto& [id, service] : config_steps_in_flight) {  // only a step in flight has waiters
    auto& change = *service->config_change;
    for (auto* waiting : {&change.reloads, &change.restarts}) {
      for (auto& to : *waiting) {
        if (to && to->client == client) to.reset();
      }
    }
  }
  // Answers to this client may be queued, or in the batch being delivered: they are not
  // delivered. (Marked, not erased: the batch may be under iteration.)
  for (auto* queue : {&outbox, &batch}) {
    for (auto& notification : queue->queued()) {
      const Reply* reply = std::get_if<Reply>(&notification.what);
      if (reply && reply->to.client == client) notification.dropped = true;
    }
  }
}

void ServiceSupervisor::Impl::finish_shutdown_if_done() {
  if (!in_shutdown || !by_pid.empty()) return;
  auto waiters = std::exchange(shutdown_waiters, {});
  std::string message = "every service is stopped";
  if (!killed_in_shutdown.empty())
    message += fmt::format(
        "; killed with SIGKILL (did not exit within their stop_timeout of "
        "SIGTERM): {}",
        fmt::join(killed_in_shutdown, ", "));
  for (const auto& to : waiters) {
    Reply reply{to, Outcome::shutdown_complete, {}, message, {}, 0};
    reply.killed = !killed_in_shutdown.empty();
    emit(std::move(reply));
  }
}

ARM_END_NAMESPACE
