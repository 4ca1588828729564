#include "event_subscribers.hpp"

namespace armd {

static_assert(EventSubscribers::handed_limit + protocol::max_event_bytes * 2 <
                  ControlServer::max_queued_output,
              "events handed to a connection must never get its client disconnected");
static_assert(protocol::max_event_bytes * 2 <= EventSubscribers::queue_limit,
              "the queue holds at least two of the largest events");

namespace {

// A process belongs to the service only in these states; in the others its pid is gone.
bool has_process(arm::ServiceState state) {
  return state == arm::ServiceState::starting || state == arm::ServiceState::running ||
         state == arm::ServiceState::stopping;
}

protocol::StreamEvent event_of(protocol::EventKind kind, const std::string& service,
                               const arm::ServiceStatus* status = nullptr,
                               std::optional<arm::ProcessId> pid = std::nullopt) {
  protocol::StreamEvent event;
  event.kind = kind;
  event.service = service;
  event.status = status;
  event.pid = pid;
  return event;
}

}  // namespace

void EventSubscribers::add(ConnectionId connection, nlohmann::json id,
                           std::vector<std::string> names,
                           const arm::ServiceSupervisor& supervisor) {
  if (subscribers_.empty())
    for (const auto& status : supervisor.status()) remember(status);
  Subscriber subscriber;
  subscriber.id = std::move(id);
  subscriber.every_service = names.empty();
  subscriber.names.insert(names.begin(), names.end());
  subscribers_[connection] = std::move(subscriber);
}

bool EventSubscribers::remove(ConnectionId connection) {
  bool was = subscribers_.erase(connection) > 0;
  if (subscribers_.empty()) seen_.clear();
  return was;
}

void EventSubscribers::remember(const arm::ServiceStatus& status) {
  Seen& seen = seen_[status.name];
  seen.last_exit_at = status.last_exit_at;
  if (status.pid) seen.pid = status.pid;
}

void EventSubscribers::on_service_event(const arm::ServiceEvent& event,
                                        const arm::ServiceSupervisor& supervisor,
                                        arm::TimePoint now, const protocol::OutputTails& tails,
                                        ControlServer& server) {
  if (subscribers_.empty()) return;
  auto status = supervisor.status(event.service);
  if (!status) return;
  auto seen = seen_.find(event.service);
  if (seen == seen_.end()) {
    // Added by a reload still under way: announced before its first change.
    publish(event_of(protocol::EventKind::added, event.service, &*status), now, &tails, server);
    seen = seen_.emplace(event.service, Seen{status->last_exit_at, status->pid}).first;
  } else if (status->last_exit_at && status->last_exit_at != seen->second.last_exit_at) {
    publish(event_of(protocol::EventKind::exit, event.service, &*status, seen->second.pid), now,
            &tails, server);
    seen->second.last_exit_at = status->last_exit_at;
  }
  if (event.health) {
    protocol::StreamEvent change = event_of(protocol::EventKind::health, event.service);
    change.health = *event.health;
    change.health_failures = status->health_failures;
    change.detail = event.detail;
    publish(change, now, &tails, server);
    return;
  }
  // Events are delivered once the change that made them is complete: the status may be a step
  // further on (a start reports starting and running together), so the pid is the process's
  // only while the event's state has one.
  std::optional<arm::ProcessId> pid;
  if (has_process(event.state)) pid = status->pid;
  if (pid) seen->second.pid = pid;
  protocol::StreamEvent change = event_of(protocol::EventKind::state, event.service, nullptr, pid);
  change.previous = event.previous;
  change.state = event.state;
  change.detail = event.detail;
  change.restart_delay = event.restart_delay;
  publish(change, now, &tails, server);
}

void EventSubscribers::on_reload(const arm::ReloadSummary& summary,
                                 const arm::ServiceSupervisor& supervisor, arm::TimePoint now,
                                 const protocol::OutputTails& tails, ControlServer& server) {
  if (subscribers_.empty()) return;
  for (const auto& name : summary.removed) {
    publish(event_of(protocol::EventKind::removed, name), now, nullptr, server);
    seen_.erase(name);
    for (auto& [connection, subscriber] : subscribers_) subscriber.names.erase(name);
  }
  for (const auto& name : summary.added) {
    if (seen_.contains(name)) continue;
    auto status = supervisor.status(name);
    if (!status) continue;
    publish(event_of(protocol::EventKind::added, name, &*status), now, &tails, server);
    remember(*status);
  }
}

void EventSubscribers::publish(const protocol::StreamEvent& event, arm::TimePoint now,
                               const protocol::OutputTails* tails, ControlServer& server) {
  for (auto& [connection, subscriber] : subscribers_) {
    if (!subscriber.every_service && !subscriber.names.contains(event.service)) continue;
    std::string line =
        protocol::encode_event(subscriber.id, subscriber.next_seq++, event, now, tails);
    subscriber.waiting_bytes += line.size();
    subscriber.waiting.push_back(std::move(line));
    while (subscriber.waiting_bytes > queue_limit) {
      subscriber.waiting_bytes -= subscriber.waiting.front().size();
      subscriber.waiting.pop_front();
      ++subscriber.missed;
    }
    hand_over(connection, subscriber, server, handed_limit);
  }
}

void EventSubscribers::hand_over(ConnectionId connection, Subscriber& subscriber,
                                 ControlServer& server, std::size_t limit) {
  while (!subscriber.waiting.empty()) {
    auto queued = server.queued_output(connection);
    if (!queued || *queued >= limit) return;
    if (subscriber.missed) {
      server.send(connection, protocol::encode_event_gap(subscriber.id, subscriber.missed));
      subscriber.missed = 0;
    }
    server.send(connection, subscriber.waiting.front());
    subscriber.waiting_bytes -= subscriber.waiting.front().size();
    subscriber.waiting.pop_front();
  }
}

void EventSubscribers::send_pending(ControlServer& server) {
  for (auto& [connection, subscriber] : subscribers_)
    hand_over(connection, subscriber, server, handed_limit);
}

void EventSubscribers::send_all(ControlServer& server) {
  for (auto& [connection, subscriber] : subscribers_)
    hand_over(connection, subscriber, server, ControlServer::max_queued_output / 2);
}

}  // namespace armd
