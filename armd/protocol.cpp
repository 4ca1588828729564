#include "protocol.hpp"

#include <fmt/format.h>

#include <chrono>

namespace armd::protocol {

namespace {

using nlohmann::json;

// nlohmann's parser recurses per nesting level; refuse pathological nesting before parsing so
// a hostile line cannot exhaust the stack. Requests never nest beyond three levels.
constexpr int max_nesting = 32;

bool nesting_within_limit(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_nesting) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// Parses without exceptions; a parse error yields a discarded value.
std::expected<json, std::string> parse(std::string_view text) {
  if (!nesting_within_limit(text))
    return std::unexpected(fmt::format("nested deeper than {} levels", max_nesting));
  json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::unexpected(std::string("invalid JSON"));
  return value;
}

// One line of JSON. Invalid UTF-8 (a service message can carry anything a process printed)
// is replaced rather than thrown on.
std::string line(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::expected<Method, std::string> method_named(std::string_view name) {
  if (name == "hello") return Method::hello;
  if (name == "start") return Method::start;
  if (name == "stop") return Method::stop;
  if (name == "restart") return Method::restart;
  if (name == "reset") return Method::reset;
  if (name == "status") return Method::status;
  if (name == "reload") return Method::reload;
  if (name == "shutdown") return Method::shutdown;
  return std::unexpected(
      fmt::format("unknown method '{}' (expected hello, start, stop, "
                  "restart, reset, status, reload or shutdown)",
                  name));
}

long long milliseconds_between(arm::TimePoint from, arm::TimePoint to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

json status_object(const arm::ServiceStatus& status, arm::TimePoint now) {
  json last_exit = nullptr;
  if (status.last_exit) {
    bool signaled = status.last_exit->kind == arm::ExitStatus::Kind::signaled;
    last_exit = {
        {"code", signaled ? json(nullptr) : json(status.last_exit->value)},
        {"signal", signaled ? json(status.last_exit->value) : json(nullptr)},
        {"ms_ago", status.last_exit_at ? json(milliseconds_between(*status.last_exit_at, now))
                                       : json(nullptr)}};
  }
  return {
      {"name", status.name},
      {"state", arm::to_string(status.state)},
      {"pid", status.pid ? json(*status.pid) : json(nullptr)},
      {"restarts", status.restarts},
      {"refcount", status.refcount},
      {"last_exit", last_exit},
      {"next_restart_in_ms",
       status.next_restart_at
           ? json(std::max(0LL, milliseconds_between(now, *status.next_restart_at)))
           : json(nullptr)},
      {"running_for_ms", status.running_since && status.pid
                             ? json(milliseconds_between(*status.running_since, now))
                             : json(nullptr)},
      {"backoff_ms", status.next_backoff.count()},
      {"last_error", status.last_error},
  };
}

}  // namespace

std::expected<Request, RequestError> decode_request(std::string_view text) {
  auto bad = [](json id, std::string message) {
    return std::unexpected(RequestError{std::move(id), "bad_request", std::move(message)});
  };
  auto parsed = parse(text);
  if (!parsed) return bad(nullptr, parsed.error());
  const json& object = *parsed;
  if (!object.is_object()) return bad(nullptr, "a request must be a JSON object");

  Request request;
  if (auto id = object.find("id"); id != object.end()) {
    if (!id->is_number_integer() && !id->is_string() && !id->is_null())
      return bad(nullptr, "\"id\" must be an integer or a string");
    request.id = *id;
  }
  if (auto version = object.find("protocol"); version != object.end()) {
    if (!version->is_number_integer() || version->get<long long>() != protocol_version)
      return std::unexpected(
          RequestError{request.id, "unsupported_protocol",
                       fmt::format("this armd speaks protocol {}", protocol_version)});
  }
  auto method = object.find("method");
  if (method == object.end() || !method->is_string())
    return bad(request.id, "missing \"method\" (a string)");
  auto known = method_named(method->get_ref<const std::string&>());
  if (!known) return bad(request.id, known.error());
  request.method = *known;

  switch (request.method) {
    case Method::start:
    case Method::stop:
    case Method::restart:
    case Method::reset: {
      auto service = object.find("service");
      if (service == object.end() || !service->is_string() ||
          service->get_ref<const std::string&>().empty())
        return bad(request.id, fmt::format("\"{}\" needs \"service\": a non-empty string",
                                           method->get_ref<const std::string&>()));
      request.service = service->get<std::string>();
      break;
    }
    case Method::status:
      if (auto services = object.find("services"); services != object.end()) {
        if (!services->is_array())
          return bad(request.id, "\"services\" must be an array of strings");
        for (const auto& name : *services) {
          if (!name.is_string()) return bad(request.id, "\"services\" must be an array of strings");
          request.services.push_back(name.get<std::string>());
        }
      }
      break;
    case Method::hello:
    case Method::reload:
    case Method::shutdown:
      break;
  }
  return request;
}

std::string encode_hello_banner() {
  return line({{"hello", "armd"}, {"protocol", protocol_version}, {"version", server_version}});
}

std::string encode_hello_reply(const json& id) {
  return line({{"id", id},
               {"ok", true},
               {"hello", "armd"},
               {"protocol", protocol_version},
               {"version", server_version}});
}

std::string encode_reply(const json& id, const arm::Reply& reply) {
  bool ok = reply.outcome != arm::Outcome::unknown_service &&
            reply.outcome != arm::Outcome::start_failed &&
            reply.outcome != arm::Outcome::shutting_down;
  json object = {{"id", id},
                 {"ok", ok},
                 {"outcome", arm::to_string(reply.outcome)},
                 {"pid", reply.pid ? json(*reply.pid) : json(nullptr)},
                 {"refcount", reply.refcount},
                 {"message", reply.message}};
  if (reply.outcome != arm::Outcome::shutdown_complete) object["service"] = reply.service;
  return line(object);
}

std::string encode_status(const json& id, const std::vector<arm::ServiceStatus>& services,
                          arm::TimePoint now) {
  json array = json::array();
  for (const auto& status : services) array.push_back(status_object(status, now));
  return line({{"id", id}, {"ok", true}, {"services", std::move(array)}});
}

std::string encode_unknown_services(const json& id, const std::vector<std::string>& unknown) {
  std::string names;
  for (const auto& name : unknown) names += (names.empty() ? "" : ", ") + name;
  return line({{"id", id},
               {"ok", false},
               {"outcome", "unknown_service"},
               {"message", "unknown service: " + names},
               {"unknown", unknown}});
}

std::string encode_reload(const json& id, const arm::ReloadSummary& summary) {
  return line({{"id", id},
               {"ok", true},
               {"outcome", "reloaded"},
               {"added", summary.added},
               {"removed", summary.removed},
               {"restarted", summary.restarted},
               {"updated", summary.updated}});
}

std::string encode_error(const json& id, std::string_view outcome, std::string_view message) {
  return line({{"id", id}, {"ok", false}, {"outcome", outcome}, {"message", message}});
}

std::expected<json, std::string> decode_reply(std::string_view text) {
  auto parsed = parse(text);
  if (!parsed) return std::unexpected("armd sent " + parsed.error());
  if (!parsed->is_object()) return std::unexpected(std::string("armd sent a non-object line"));
  return *parsed;
}

std::string encode_request(const json& id, std::string_view method, const json& params) {
  json object = params.is_object() ? params : json::object();
  object["id"] = id;
  object["method"] = method;
  return line(object);
}

}  // namespace armd::protocol
