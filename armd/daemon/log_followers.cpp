#include "log_followers.hpp"

#include <algorithm>

#include "protocol/log_lines.hpp"

namespace armd {

static_assert(LogFollowers::queue_limit + 8 * LogFollowers::text_bytes_per_message +
                      LogFollowers::lines_per_message * 256 <
                  ControlServer::max_queued_output,
              "a follower's message must never get its client disconnected");

void LogFollowers::add(ConnectionId connection, nlohmann::json id,
                       std::map<std::string, std::uint64_t> next) {
  followers_[connection] = Follower{std::move(id), std::move(next)};
}

void LogFollowers::remove(ConnectionId connection) {
  followers_.erase(connection);
}

void LogFollowers::forget_service(const std::string& service) {
  for (auto& [connection, follower] : followers_) follower.next.erase(service);
}

void LogFollowers::send_news(ControlServer& server, const ServiceOutputs& outputs) {
  for (auto& [connection, follower] : followers_) send_to(server, connection, follower, outputs);
}

void LogFollowers::send_to(ControlServer& server, ConnectionId connection, Follower& follower,
                           const ServiceOutputs& outputs) {
  for (;;) {
    auto queued = server.queued_output(connection);
    if (!queued || *queued >= queue_limit) return;
    // What each service owes, then one message with the oldest of it, services interleaved by
    // time. A gap goes first, for the lines that were dropped before they could be sent.
    std::vector<arm::OutputRing::Since> owed;
    std::vector<const std::string*> names;
    for (auto& [service, next] : follower.next) {
      const arm::OutputRing* ring = outputs.ring(service);
      if (!ring) continue;
      auto since = ring->lines_from(next, lines_per_message);
      if (since.missed) {
        server.send(connection, protocol::encode_gap(follower.id, service, since.missed));
        next += since.missed;
      }
      if (since.lines.empty()) continue;
      owed.push_back(std::move(since));
      names.push_back(&service);
    }
    if (owed.empty()) return;
    std::vector<protocol::ServiceLine> lines;
    for (std::size_t i = 0; i < owed.size(); ++i)
      for (const auto& line : owed[i].lines) lines.push_back({names[i], &line});
    std::ranges::stable_sort(lines, {},
                             [](const protocol::ServiceLine& line) { return line.line->time; });
    std::size_t taken = 0;
    std::size_t text_bytes = 0;
    while (taken < lines.size() && taken < lines_per_message &&
           (taken == 0 || text_bytes + lines[taken].line->text.size() <= text_bytes_per_message))
      text_bytes += lines[taken++].line->text.size();
    lines.resize(taken);
    for (const auto& line : lines) follower.next[*line.service] = line.line->sequence + 1;
    server.send(connection, protocol::encode_followed_lines(follower.id, lines));
  }
}

}  // namespace armd
