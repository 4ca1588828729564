// Notifications wait until the state change that caused them is complete: a Notifier (or the
// deadline listener) may then call back into the supervisor and finds it consistent. Any other
// re-entry (from a Spawner, Clock, FileWatcher or Random call, in the middle of a change) is a
// bug in the host, and is refused with std::logic_error before it can corrupt anything.
#include <exception>
#include <stdexcept>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

ServiceSupervisor::Impl::Call::Call(Impl& impl)
    : impl_(impl), exceptions_at_start_(std::uncaught_exceptions()) {
  if (impl_.call_depth > 0)
    throw std::logic_error(
        "arm::ServiceSupervisor re-entered from inside a Spawner, Clock, FileWatcher or Random "
        "call; only a Notifier or the deadline listener may call back");
  ++impl_.call_depth;
}

ServiceSupervisor::Impl::Call::~Call() {
  --impl_.call_depth;
  // Not when this call is being unwound by an exception of its own: its change did not
  // complete, and a throwing Notifier here would end the program. (A call made from a
  // destructor while another exception unwinds completes normally.)
  if (impl_.call_depth > 0 || impl_.delivering || std::uncaught_exceptions() > exceptions_at_start_)
    return;
  if (impl_.outbox.count > 0 && !impl_.deliver()) return;
  impl_.notify_deadline_change();
}

ServiceSupervisor::Impl::~Impl() {
  for (DestructionWatch* watch = watches; watch; watch = watch->outer) watch->destroyed = true;
}

ServiceSupervisor::Impl::Notification& ServiceSupervisor::Impl::Queue::next() {
  if (count == slots.size()) slots.emplace_back();
  Notification& slot = slots[count++];
  slot.dropped = false;
  return slot;
}

void ServiceSupervisor::Impl::Queue::clear() {
  count = 0;
  // A reload, a shutdown or the first start of many services queues many: do not keep them all,
  // nor the room they took (at 10,000 services, start-all left about 4 MB of slots behind).
  constexpr std::size_t kept = 64;
  if (slots.size() > kept) {
    slots.resize(kept);
    slots.shrink_to_fit();
  }
}

void ServiceSupervisor::Impl::emit(Reply reply) {
  outbox.next().what.emplace<Reply>(std::move(reply));
}

// Written over a slot that held an event before, when there is one: an event is the most
// frequent notification, and its strings keep their buffers.
void ServiceSupervisor::Impl::emit_event(const Service& service, ServiceState previous,
                                         std::string_view detail, const EventFacts& facts) {
  Notification& slot = outbox.next();
  auto* event = std::get_if<ServiceEvent>(&slot.what);
  if (!event) event = &slot.what.emplace<ServiceEvent>();
  event->service.assign(service.name());
  event->previous = previous;
  event->state = service.state;
  event->detail.assign(detail);
  // Every field assigned: slots are reused, and an event of another kind may have set it.
  event->pid = facts.pid;
  event->exit = facts.exit;
  event->restart_delay = facts.restart_delay;
  event->health = facts.health;
  event->output.clear();
}

void ServiceSupervisor::Impl::emit_event(const Service& service, std::string_view detail,
                                         std::optional<HealthState> health) {
  emit_event(service, service.state, detail,
             EventFacts{.pid = service.process.pid, .health = health});
}

bool ServiceSupervisor::Impl::deliver() {
  DestructionWatch watch(*this);
  delivering = true;
  // What a Notifier's own calls queue goes into `outbox` and is delivered after this batch:
  // the order is the order of the changes.
  while (outbox.count > 0) {
    std::swap(batch, outbox);
    for (const Notification& notification : batch.queued()) {
      if (notification.dropped) continue;
      if (const auto* reply = std::get_if<Reply>(&notification.what)) {
        notifier.reply(*reply);
      } else if (const auto* event = std::get_if<ServiceEvent>(&notification.what)) {
        notifier.service_event(*event);
      }
      if (watch.destroyed) return false;
    }
    batch.clear();
  }
  delivering = false;
  return true;
}

// Not recursive: a listener that calls back (on_timer() for a deadline already due, say) makes
// the nested call return here, and the loop tells the listener again until what it heard last
// is the current deadline.
bool ServiceSupervisor::Impl::notify_deadline_change() {
  if (!deadline_listener || telling_deadline) return true;
  DestructionWatch watch(*this);
  telling_deadline = true;
  for (;;) {
    std::optional<TimePoint> next;
    if (!deadlines.empty()) next = std::get<0>(*deadlines.begin());
    if (deadline_ever_told && next == deadline_told) break;
    deadline_ever_told = true;
    deadline_told = next;
    auto listener = deadline_listener;  // the listener may replace itself
    listener(next);
    if (watch.destroyed) return false;
    if (!deadline_listener) break;
  }
  telling_deadline = false;
  return true;
}

ARM_END_NAMESPACE
