#include "events.hpp"

#include "json_writer.hpp"
#include "protocol.hpp"

namespace armd::protocol {

namespace {

using json_writer::ObjectWriter;

std::string encode(const nlohmann::json& id, std::uint64_t seq, const StreamEvent& event,
                   arm::TimePoint now, const OutputTails* tails) {
  std::string out;
  ObjectWriter object(out);
  object.json_value("id", id)
      .string("event", to_string(event.kind))
      .integer("seq", seq)
      .string("service", event.service);
  switch (event.kind) {
    case EventKind::state:
      object.string("previous", arm::to_string(event.previous))
          .string("state", arm::to_string(event.state))
          .integer("pid", event.pid)
          .string("detail", event.detail);
      if (event.restart_delay)
        object.integer("restart_delay_ms", static_cast<long long>(event.restart_delay->count()));
      else
        object.null("restart_delay_ms");
      break;
    case EventKind::exit: {
      object.integer("pid", event.pid);
      if (event.status && event.status->last_exit)
        append_last_exit(object.raw("last_exit"), *event.status, now, tails);
      else
        object.null("last_exit");
      break;
    }
    case EventKind::added:
      if (event.status)
        append_status(object.raw("status"), *event.status, now, tails, nullptr);
      else
        object.null("status");
      break;
    case EventKind::removed:
      break;
    case EventKind::health:
      object.string("health", arm::to_string(event.health))
          .integer("health_failures", static_cast<long long>(event.health_failures))
          .string("detail", event.detail);
      break;
  }
  object.end_line();
  return out;
}

}  // namespace

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::state:
      return "state";
    case EventKind::exit:
      return "exit";
    case EventKind::added:
      return "added";
    case EventKind::removed:
      return "removed";
    case EventKind::health:
      return "health";
  }
  return "state";
}

std::string encode_event(const nlohmann::json& id, std::uint64_t seq, const StreamEvent& event,
                         arm::TimePoint now, const OutputTails* tails) {
  std::string line = encode(id, seq, event, now, tails);
  if (line.size() > max_event_bytes && tails) line = encode(id, seq, event, now, nullptr);
  return line;
}

std::string encode_subscribed(const nlohmann::json& id,
                              const std::vector<arm::ServiceStatus>& services, arm::TimePoint now,
                              const OutputTails* tails, const OutputDropped* dropped) {
  std::string out;
  ObjectWriter object(out);
  object.json_value("id", id).boolean("ok", true).string("outcome", "subscribed");
  json_writer::ArrayWriter array(object.raw("services"));
  for (const auto& status : services) append_status(array.element(), status, now, tails, dropped);
  array.end();
  object.end_line();
  return out;
}

std::string encode_unsubscribed(const nlohmann::json& id) {
  std::string out;
  ObjectWriter(out)
      .json_value("id", id)
      .boolean("ok", true)
      .string("outcome", "unsubscribed")
      .end_line();
  return out;
}

std::string encode_event_gap(const nlohmann::json& id, std::uint64_t missed) {
  std::string out;
  ObjectWriter(out)
      .json_value("id", id)
      .string("event", "gap")
      .integer("missed", missed)
      .end_line();
  return out;
}

}  // namespace armd::protocol
