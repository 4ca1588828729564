// Requests waiting on a transition, and their replies: each request is answered exactly once.
#include "supervisor_impl.hpp"

namespace arm {

void ServiceSupervisor::Impl::answer(std::optional<RequestRef> to, const Service& service,
                                     Outcome outcome, std::string message) {
  if (!to) return;
  emit(Reply{*to, outcome, service.spec.name, std::move(message), service.process.pid,
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

void ServiceSupervisor::Impl::answer_start_waiters(Service& service) {
  if (!service.waiters) return;
  auto waiters = std::exchange(service.waiters->starts, {});
  for (const auto& waiter : waiters) answer(waiter.to, service, waiter.on_success);
  release_waiters_if_none(service);
}

// Each waiter is told why; references the failed starts took are given back.
void ServiceSupervisor::Impl::fail_start_waiters(Service& service, Outcome outcome,
                                                 const std::string& why) {
  if (!service.waiters) return;
  auto waiters = std::exchange(service.waiters->starts, {});
  for (const auto& waiter : waiters) {
    if (waiter.holds_reference && service.references.requests > 0) --service.references.requests;
  }
  for (const auto& waiter : waiters) answer(waiter.to, service, outcome, why);
  release_waiters_if_none(service);
}

void ServiceSupervisor::Impl::answer_stop_waiters(Service& service) {
  if (!service.waiters) return;
  auto waiters = std::exchange(service.waiters->stops, {});
  std::string note = std::exchange(service.waiters->stop_note, {});
  for (const auto& to : waiters) answer(to, service, Outcome::stopped, note);
  release_waiters_if_none(service);
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
  for (const auto& to : waiters) {
    emit(Reply{to, Outcome::shutdown_complete, {}, "every service is stopped", {}, 0});
  }
}

}  // namespace arm
