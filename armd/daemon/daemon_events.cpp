// The requests of the event stream: subscribe answers with the current state of what it asks
// for, and the changes follow (event_subscribers.hpp); unsubscribe ends them.
#include <set>

#include "daemon.hpp"
#include "protocol/events.hpp"
#include "protocol/protocol.hpp"

namespace armd {

void Daemon::answer_subscribe(ConnectionId connection, const nlohmann::json& id,
                              std::vector<std::string> names) {
  if (subscribers_.subscribed(connection)) {
    server_->send(connection,
                  protocol::encode_error(id, "already_subscribed",
                                         "this connection is subscribed already; unsubscribe "
                                         "first, or open another connection"));
    return;
  }
  // A name given twice is one service.
  std::set<std::string> seen;
  std::erase_if(names, [&](const std::string& name) { return !seen.insert(name).second; });
  std::vector<arm::ServiceStatus> snapshot;
  if (names.empty()) {
    snapshot = supervisor_->status();
  } else if (auto found = statuses_or_answer_unknown(connection, id, names)) {
    snapshot = std::move(*found);
  } else {
    return;
  }
  // The snapshot first, then (from the next change on) the events: nothing falls between.
  server_->send(connection, protocol::encode_subscribed(id, snapshot, clock_.now(), &exit_tails_,
                                                        &log_files_.dropped()));
  subscribers_.add(connection, id, std::move(names), *supervisor_);
}

void Daemon::answer_unsubscribe(ConnectionId connection, const nlohmann::json& id) {
  if (!subscribers_.remove(connection)) {
    server_->send(connection, protocol::encode_error(id, "not_subscribed",
                                                     "this connection has no subscription"));
    return;
  }
  // Events still waiting for this connection are dropped with the subscription.
  server_->send(connection, protocol::encode_unsubscribed(id));
}

}  // namespace armd
