// Clients following services' output (`armctl logs -f`). Each follower has a cursor per service:
// the sequence number of the next line it is owed. Lines are pulled from the rings and sent
// only while the client's connection has little queued, so a client that does not read never
// slows armd or a service, and is never disconnected for it: the ring moves on without it, and
// when it reads again it is told, with a gap marker, how many lines it missed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_server.hpp"
#include "service_outputs.hpp"

namespace armd {

class LogFollowers {
 public:
  // Output queued for a follower beyond which nothing more is queued for it (well below
  // ControlServer::max_queued_output, which would disconnect it).
  static constexpr std::size_t queue_limit = 256 * 1024;
  // Lines per message, and their text bytes: a message goes behind up to queue_limit of
  // queued output and must not take it past max_queued_output, even for lines of control
  // bytes or invalid UTF-8 (up to about 7.4 bytes of JSON per byte of text). The first line
  // goes however long it is (16 KiB at most, the splitter's limit).
  static constexpr std::size_t lines_per_message = 256;
  static constexpr std::size_t text_bytes_per_message = 64 * 1024;

  // `next`: for each followed service, the first sequence number not sent yet.
  void add(ConnectionId connection, nlohmann::json id, std::map<std::string, std::uint64_t> next);
  void remove(ConnectionId connection);
  // A service that left the configuration is no longer followed.
  void forget_service(const std::string& service);
  bool empty() const { return followers_.empty(); }
  bool following(ConnectionId connection) const { return followers_.contains(connection); }

  // Sends each follower what it is owed, as far as its queue allows.
  void send_news(ControlServer& server, const ServiceOutputs& outputs);

 private:
  struct Follower {
    nlohmann::json id;
    std::map<std::string, std::uint64_t> next;
  };
  void send_to(ControlServer& server, ConnectionId connection, Follower& follower,
               const ServiceOutputs& outputs);

  std::map<ConnectionId, Follower> followers_;
};

}  // namespace armd
