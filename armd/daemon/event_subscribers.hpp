// Clients subscribed to the event stream (`subscribe`, `armctl monitor`). Each subscriber gets
// the changes of the services it asked for, numbered from 1. What its connection does not take
// at once waits here, in a queue bounded in bytes: when the queue is full its oldest events are
// dropped, and before the next event it does get, the subscriber is told how many it missed (a
// gap marker; the seq numbers show the same hole). So a subscriber that does not read never
// slows armd, never costs more than the bound, and is never disconnected for it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arm/supervisor.hpp"
#include "control_server.hpp"
#include "protocol/events.hpp"

namespace armd {

class EventSubscribers {
 public:
  // Bytes of encoded events one subscriber may have waiting in armd (docs/protocol.md).
  static constexpr std::size_t queue_limit = 256 * 1024;
  // Events are handed to the connection only while less than this is queued in its output: the
  // rest waits in the queue above, where it can be dropped (ControlServer would disconnect).
  static constexpr std::size_t handed_limit = 64 * 1024;

  // `names`: the services to follow, each known; empty: every service, also those a reload
  // adds later.
  void add(ConnectionId connection, nlohmann::json id, std::vector<std::string> names,
           const arm::ServiceSupervisor& supervisor);
  // False when the connection had no subscription.
  bool remove(ConnectionId connection);
  bool subscribed(ConnectionId connection) const { return subscribers_.contains(connection); }
  bool empty() const { return subscribers_.empty(); }

  // A change the supervisor reported; the exit that caused it, if any, goes first.
  void on_service_event(const arm::ServiceEvent& event, const arm::ServiceSupervisor& supervisor,
                        arm::TimePoint now, const protocol::OutputTails& tails,
                        ControlServer& server);
  // After a reload: "removed" for what it removed, "added" for what it added (unless an event
  // of it came first and announced it already).
  void on_reload(const arm::ReloadSummary& summary, const arm::ServiceSupervisor& supervisor,
                 arm::TimePoint now, const protocol::OutputTails& tails, ControlServer& server);

  // Hands each subscriber's waiting events to its connection, as far as handed_limit allows.
  void send_pending(ControlServer& server);
  // At exit: everything that waits, whatever is queued already (the last events of a shutdown).
  void send_all(ControlServer& server);

 private:
  struct Subscriber {
    nlohmann::json id;
    bool every_service = true;
    std::set<std::string, std::less<>> names;  // when not every_service
    std::uint64_t next_seq = 1;
    std::deque<std::string> waiting;  // encoded events, oldest first
    std::size_t waiting_bytes = 0;
    std::uint64_t missed = 0;  // dropped from the front of `waiting` since the last event sent
  };
  // What the stream last saw of a service, to tell a new exit and the pid that exited.
  struct Seen {
    std::optional<arm::TimePoint> last_exit_at;
    std::optional<arm::ProcessId> pid;
  };

  void remember(const arm::ServiceStatus& status);
  void publish(const protocol::StreamEvent& event, arm::TimePoint now,
               const protocol::OutputTails* tails, ControlServer& server);
  void hand_over(ConnectionId connection, Subscriber& subscriber, ControlServer& server,
                 std::size_t limit);

  std::map<ConnectionId, Subscriber> subscribers_;
  // Every configured service, while anyone subscribes (empty otherwise).
  std::map<std::string, Seen, std::less<>> seen_;
};

}  // namespace armd
