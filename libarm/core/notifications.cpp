// Notifications wait until the state change that caused them is complete: a Notifier (or the
// deadline listener) may then call back into the supervisor and finds it consistent. Any other
// re-entry (from a Spawner, Clock, FileWatcher or Random call, in the middle of a change) is a
// bug in the host, and is refused with std::logic_error before it can corrupt anything.
#include <exception>
#include <stdexcept>

#include "supervisor_impl.hpp"

namespace arm {

ServiceSupervisor::Impl::Call::Call(Impl& impl) : impl_(impl) {
  if (impl_.call_depth > 0)
    throw std::logic_error(
        "arm::ServiceSupervisor re-entered from inside a Spawner, Clock, FileWatcher or Random "
        "call; only a Notifier or the deadline listener may call back");
  ++impl_.call_depth;
}

ServiceSupervisor::Impl::Call::~Call() {
  --impl_.call_depth;
  // Not while unwinding: the change did not complete, and a throwing Notifier here would end
  // the program.
  if (impl_.call_depth > 0 || impl_.delivering || std::uncaught_exceptions() > 0) return;
  impl_.deliver();
  impl_.notify_deadline_change();
}

void ServiceSupervisor::Impl::emit(Reply reply) {
  outbox.emplace_back(std::move(reply));
}

void ServiceSupervisor::Impl::emit(ServiceEvent event) {
  outbox.emplace_back(std::move(event));
}

void ServiceSupervisor::Impl::deliver() {
  delivering = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{delivering};
  // A Notifier's own calls append to the outbox; they are delivered in order, in this loop.
  while (!outbox.empty()) {
    auto next = std::move(outbox.front());
    outbox.pop_front();
    if (auto* reply = std::get_if<Reply>(&next)) {
      notifier.reply(*reply);
    } else {
      notifier.service_event(std::get<ServiceEvent>(next));
    }
  }
}

void ServiceSupervisor::Impl::notify_deadline_change() {
  if (!deadline_listener) return;
  std::optional<TimePoint> next;
  if (!deadlines.empty()) next = std::get<0>(*deadlines.begin());
  if (deadline_ever_told && next == deadline_told) return;
  deadline_ever_told = true;
  deadline_told = next;
  deadline_listener(next);
}

}  // namespace arm
