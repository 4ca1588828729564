// The simulation's request ledger: every request made with a RequestRef is written down when it
// is made, and every reply is matched to its request when it is sent. It holds the supervisor to
// its header's contract: each request is answered exactly once, now or later, except those
// whose client went away (client_gone) before the answer, which are never answered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "arm/supervisor.hpp"

namespace arm::sim {

enum class RequestKind { start, stop, restart, reset, shutdown, reload_service };
std::string_view to_string(RequestKind kind);

// What the name of a request was to the simulation when the request was made.
enum class NameKind {
  configured,       // in the configuration the supervisor runs now
  removed,          // configured once, dropped by a reload
  never_configured  // no configuration of the scenario ever had it
};
std::string_view to_string(NameKind kind);

struct Request {
  RequestKind kind = RequestKind::start;
  std::string service;  // empty for shutdown
  NameKind name_kind = NameKind::configured;
  // The supervisor still listed the name (status(name) had a value) when the request was made:
  // a removed service is listed while its process is being stopped.
  bool listed = true;
  std::size_t step = 0;  // the step that made it
};

class Ledger {
 public:
  // Writes `request` down under `ref`, which must be new.
  void record(RequestRef ref, Request request);

  // Matches a reply to its request. Returns what is wrong with it, if anything: a reply to a
  // request never made, a second reply, a reply to a request whose client went away, a reply
  // naming another service, or an outcome the request cannot have.
  std::optional<std::string> on_reply(const Reply& reply);

  // The client's unanswered requests will not be answered; neither may they be.
  void client_gone(ClientId client);

  // The unanswered requests of clients still connected, oldest first.
  template <typename Visit>
  void for_each_pending(Visit visit) const {
    for (const auto& key : pending_) visit(entries_.at(key).request);
  }

  // At the end of a run: the first request of a client still connected that was not answered
  // exactly once, if any.
  std::optional<std::string> unanswered() const;

  static std::string describe(const Request& request);

 private:
  using Key = std::pair<std::uint64_t, ClientId>;  // request number first: the order made
  struct Entry {
    Request request;
    unsigned replies = 0;
    bool client_gone = false;
  };
  std::map<Key, Entry> entries_;
  std::set<Key> pending_;  // unanswered, of clients still connected
};

}  // namespace arm::sim
