#include "protocol.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "fast_request.hpp"
#include "json_writer.hpp"
#include "protocol/metrics.hpp"

namespace armd::protocol {

namespace {

using json_writer::ArrayWriter;
using json_writer::ObjectWriter;
using nlohmann::json;

// Counts the brackets outside strings. On any prefix the parser accepts this is exactly its
// depth, so the parser never goes deeper than this scan allows.
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

// Client bytes quoted in an error message end up in armd's log and in the reply: control
// characters and non-ASCII bytes are written as \xNN so no client can forge or garble a log line,
// and long quotes are cut short.
std::string quoted(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (unsigned char c : text.substr(0, max_bytes)) {
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

// nlohmann's exception text starts with "[json.exception.parse_error.101] parse error at line 1,
// column 9: "; a client wants what follows. The detail can quote the offending token, which may be
// most of the line, so it is cut short.
std::string parse_failure(const json::exception& error) {
  std::string_view what = error.what();
  if (auto bracket = what.find("] "); bracket != std::string_view::npos)
    what.remove_prefix(bracket + 2);
  if (what.starts_with("parse error")) {
    if (auto colon = what.find(": "); colon != std::string_view::npos)
      what.remove_prefix(colon + 2);
  }
  std::string detail = quoted(what, 200);
  if (const auto* parse_error = dynamic_cast<const json::parse_error*>(&error))
    return fmt::format("invalid JSON at byte {}: {}", parse_error->byte, detail);
  return fmt::format("invalid JSON: {}", detail);
}

std::expected<json, std::string> parse(std::string_view text) {
  if (!nesting_within_limit(text))
    return std::unexpected(fmt::format("nested deeper than {} levels", max_nesting));
  // The exception is caught here, at once: it is the only way nlohmann says where the error is.
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& error) {
    return std::unexpected(parse_failure(error));
  }
}

// A client's request line (armctl's; not on armd's hot path, so nlohmann's dump is fine).
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
  if (name == "logs") return Method::logs;
  if (name == "subscribe") return Method::subscribe;
  if (name == "unsubscribe") return Method::unsubscribe;
  if (name == "metrics") return Method::metrics;
  if (name == "reload_service") return Method::reload_service;
  if (name == "reexec") return Method::reexec;
  return std::unexpected(
      fmt::format("unknown method '{}' (expected hello, start, stop, restart, reset, status, "
                  "reload, reload_service, reexec, shutdown, logs, subscribe, unsubscribe or "
                  "metrics)",
                  quoted(name, 64)));
}

// --- writing ------------------------------------------------------------------------------------
//
// Replies are written in place by json_writer.hpp (why: see there), fields in the documented
// order; the tests hold the output to what nlohmann's dump would have said.

long long milliseconds_between(arm::TimePoint from, arm::TimePoint to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

// "health": null for a service without a health check; otherwise its HealthState and, as with
// status_text, the other health fields only then, so a status without probes keeps its size.
void append_health(ObjectWriter& object, const arm::ServiceStatus& status, arm::TimePoint now) {
  if (status.health == arm::HealthState::none) {
    object.null("health");
    return;
  }
  std::optional<long long> checked_ms_ago;
  if (status.health_checked_at)
    checked_ms_ago = std::max(0LL, milliseconds_between(*status.health_checked_at, now));
  object.string("health", arm::to_string(status.health))
      .integer("health_failures", static_cast<long long>(status.health_failures))
      .string("health_detail", status.health_detail)
      .integer("health_checked_ms_ago", checked_ms_ago);
}

}  // namespace

void append_last_exit(std::string& out, const arm::ServiceStatus& status, arm::TimePoint now,
                      const OutputTails* tails) {
  using Kind = arm::ExitStatus::Kind;
  Kind kind = status.last_exit->kind;
  std::optional<int> none;
  ObjectWriter last_exit(out);
  last_exit.integer("code", kind == Kind::exited ? status.last_exit->value : none)
      .integer("signal", kind == Kind::signaled ? status.last_exit->value : none);
  // Someone else reaped it: neither a code nor a signal is known. Only then, so the shape of
  // every other exit stays as it was.
  if (kind == Kind::lost) last_exit.boolean("lost", true);
  if (status.last_exit_at)
    last_exit.integer("ms_ago", milliseconds_between(*status.last_exit_at, now));
  else
    last_exit.null("ms_ago");
  if (tails) {
    ArrayWriter tail(last_exit.raw("output_tail"));
    if (auto found = tails->find(status.name); found != tails->end())
      for (const auto& line : found->second) append_output_line(tail.element(), line);
    tail.end();
  }
  last_exit.end();
}

void append_status(std::string& out, const arm::ServiceStatus& status, arm::TimePoint now,
                   const OutputTails* tails, const OutputDropped* dropped) {
  ObjectWriter object(out);
  object.string("name", status.name)
      .string("state", arm::to_string(status.state))
      .integer("pid", status.pid)
      .integer("restarts", status.restarts)
      .integer("refcount", status.refcount);
  if (status.last_exit)
    append_last_exit(object.raw("last_exit"), status, now, tails);
  else
    object.null("last_exit");
  std::optional<long long> next_restart_in, running_for;
  if (status.next_restart_at)
    next_restart_in = std::max(0LL, milliseconds_between(now, *status.next_restart_at));
  if (status.running_since && status.pid)
    running_for = milliseconds_between(*status.running_since, now);
  object.integer("next_restart_in_ms", next_restart_in)
      .integer("running_for_ms", running_for)
      .integer("backoff_ms", static_cast<long long>(status.next_backoff.count()))
      .string("last_error", status.last_error)
      .strings("depends_on", status.depends_on)
      .strings("wants", status.wants)
      .string("waiting_for", status.waiting_for);
  // Only from services that said something (notify ones): a status of thousands of services
  // stays the size it was, and so does armd's memory while it is sent.
  if (!status.status_text.empty()) object.string("status_text", status.status_text);
  if (status.error_number) object.integer("error_number", status.error_number);
  append_health(object, status, now);
  // Only while a config check has refused a change (issue 14), as status_text above.
  if (!status.rejected_change.empty()) object.string("rejected_change", status.rejected_change);
  // Only while its config_file cannot be watched (a directory on its path not readable...).
  if (!status.watch_error.empty()) object.string("watch_error", status.watch_error);
  if (dropped) {
    if (auto found = dropped->find(status.name); found != dropped->end() && found->second)
      object.integer("output_dropped", static_cast<long long>(found->second));
  }
  object.end();
}

std::expected<Request, RequestError> decode_request(std::string_view text) {
  if (auto request = decode_common_request(text)) return std::move(*request);
  return decode_request_in_full(text);
}

std::expected<void, RequestError> decode_request_into(std::string_view text, Request& into) {
  if (decode_common_request_into(text, into)) return {};
  auto request = decode_request_in_full(text);
  if (!request) return std::unexpected(std::move(request.error()));
  into = std::move(*request);
  return {};
}

std::expected<Request, RequestError> decode_request_in_full(std::string_view text) {
  auto bad = [](json id, std::string message) {
    return std::unexpected(RequestError{std::move(id), "bad_request", std::move(message)});
  };
  auto parsed = parse(text);
  if (!parsed) return bad(nullptr, parsed.error());
  const json& object = *parsed;
  if (!object.is_object())
    return bad(nullptr, fmt::format("a request must be a JSON object, not {}", object.type_name()));

  Request request;
  if (auto id = object.find("id"); id != object.end()) {
    if (!id->is_number() && !id->is_string() && !id->is_null())
      return bad(nullptr, "\"id\" must be a number or a string");
    if (id->is_string() && id->get_ref<const std::string&>().size() > max_id_bytes)
      return bad(nullptr, fmt::format("\"id\" is longer than {} bytes", max_id_bytes));
    request.id = *id;
  }
  if (auto version = object.find("protocol"); version != object.end()) {
    if (!version->is_number_integer() || version->get<long long>() != protocol_version)
      return std::unexpected(
          RequestError{request.id, "unsupported_protocol",
                       fmt::format("this armd speaks protocol {}", protocol_version)});
  }
  auto method = object.find("method");
  if (method == object.end()) return bad(request.id, "missing \"method\"");
  if (!method->is_string())
    return bad(request.id, fmt::format("\"method\" must be a string, not {}", method->type_name()));
  auto known = method_named(method->get_ref<const std::string&>());
  if (!known) return bad(request.id, known.error());
  request.method = *known;

  // Before the method's own fields: a "force" on hello, status, reload or shutdown would
  // otherwise be ignored (a client that meant it would shut armd down, not stop a service).
  if (request.method != Method::stop && request.method != Method::restart &&
      object.contains("force"))
    return bad(request.id,
               fmt::format("\"force\" applies to \"stop\" and \"restart\" only, not to \"{}\"",
                           method->get_ref<const std::string&>()));

  switch (request.method) {
    case Method::start:
    case Method::stop:
    case Method::restart:
    case Method::reset:
    case Method::reload_service: {
      auto service = object.find("service");
      if (service == object.end())
        return bad(request.id, fmt::format("\"{}\" needs \"service\": the name of a service",
                                           method->get_ref<const std::string&>()));
      if (!service->is_string())
        return bad(request.id,
                   fmt::format("\"service\" must be a string, not {}", service->type_name()));
      if (service->get_ref<const std::string&>().empty())
        return bad(request.id, "\"service\" must not be empty");
      request.service = service->get<std::string>();
      if (auto force = object.find("force"); force != object.end()) {
        if (!force->is_boolean())
          return bad(request.id,
                     fmt::format("\"force\" must be true or false, not {}", force->type_name()));
        request.force = force->get<bool>();
      }
      break;
    }
    case Method::status:
      if (auto services = object.find("services"); services != object.end()) {
        if (!services->is_array())
          return bad(request.id, fmt::format("\"services\" must be an array of strings, not {}",
                                             services->type_name()));
        for (const auto& name : *services) {
          if (!name.is_string())
            return bad(request.id,
                       fmt::format("\"services\" must be an array of strings, but holds {}",
                                   name.type_name()));
          request.services.push_back(name.get<std::string>());
        }
      }
      break;
    case Method::logs: {
      auto services = object.find("services");
      if (services == object.end() || !services->is_array() || services->empty())
        return bad(request.id, "\"logs\" needs \"services\": an array of service names");
      for (const auto& name : *services) {
        if (!name.is_string() || name.get_ref<const std::string&>().empty())
          return bad(request.id, "\"services\" must hold names (non-empty strings)");
        request.services.push_back(name.get<std::string>());
      }
      if (auto lines = object.find("lines"); lines != object.end()) {
        if (!lines->is_number_unsigned())
          return bad(request.id, "\"lines\" must be a number of lines (0 or more)");
        request.lines = lines->get<std::size_t>();
      }
      if (auto follow = object.find("follow"); follow != object.end()) {
        if (!follow->is_boolean()) return bad(request.id, "\"follow\" must be true or false");
        request.follow = follow->get<bool>();
      }
      if (auto since = object.find("since"); since != object.end()) {
        std::optional<arm::WallTime> time;
        if (since->is_string()) time = arm::parse_rfc3339(since->get_ref<const std::string&>());
        if (!time)
          return bad(request.id,
                     "\"since\" must be an RFC 3339 time as a string "
                     "(\"2026-12-01T20:40:00Z\", \"2026-12-01T21:40:00.5+01:00\")");
        request.since = *time;
      }
      break;
    }
    case Method::subscribe:
      if (auto services = object.find("services"); services != object.end()) {
        if (!services->is_array())
          return bad(request.id, "\"services\" must be an array of service names (none: all)");
        for (const auto& name : *services) {
          if (!name.is_string() || name.get_ref<const std::string&>().empty())
            return bad(request.id, "\"services\" must hold names (non-empty strings)");
          request.services.push_back(name.get<std::string>());
        }
      }
      break;
    case Method::hello:
    case Method::reload:
    case Method::reexec:
    case Method::shutdown:
    case Method::unsubscribe:
    case Method::metrics:
      break;
  }
  return request;
}

std::string encode_hello_banner() {
  std::string out;
  ObjectWriter(out)
      .string("hello", "armd")
      .integer("protocol", protocol_version)
      .string("version", server_version)
      .end_line();
  return out;
}

std::string encode_hello_reply(const json& id) {
  std::string out;
  ObjectWriter(out)
      .json_value("id", id)
      .boolean("ok", true)
      .string("hello", "armd")
      .integer("protocol", protocol_version)
      .string("version", server_version)
      .end_line();
  return out;
}

std::string encode_reply(const json& id, const arm::Reply& reply) {
  bool ok = !arm::is_failure(reply.outcome);
  std::string out;
  ObjectWriter object(out);
  object.json_value("id", id).boolean("ok", ok).string("outcome", arm::to_string(reply.outcome));
  // shutdown_complete answers for armd as a whole, not for a service.
  if (reply.outcome != arm::Outcome::shutdown_complete) object.string("service", reply.service);
  object.integer("pid", reply.pid)
      .integer("refcount", reply.refcount)
      .string("message", reply.message);
  // Only when it happened: the replies of clients that never look for it stay as they were.
  if (reply.killed) object.boolean("killed", true);
  object.end_line();
  return out;
}

std::string encode_status(const json& id, const std::vector<arm::ServiceStatus>& services,
                          arm::TimePoint now, std::string_view containment,
                          const OutputTails* tails, const OutputDropped* dropped) {
  std::string out;
  out.reserve(64 + services.size() * 256);
  append_status_reply(out, id, services, now, containment, tails, dropped);
  return out;
}

void append_status_reply(std::string& out, const json& id,
                         std::span<const arm::ServiceStatus> services, arm::TimePoint now,
                         std::string_view containment, const OutputTails* tails,
                         const OutputDropped* dropped) {
  ObjectWriter object(out);
  object.json_value("id", id).boolean("ok", true);
  if (!containment.empty()) object.string("containment", containment);
  ArrayWriter array(object.raw("services"));
  for (const auto& status : services) append_status(array.element(), status, now, tails, dropped);
  array.end();
  object.end_line();
}

std::string encode_unknown_services(const json& id, const std::vector<std::string>& unknown,
                                    const std::vector<std::string>& messages) {
  std::string message;
  for (const auto& each : messages) message += (message.empty() ? "" : "; ") + each;
  std::string out;
  ObjectWriter(out)
      .json_value("id", id)
      .boolean("ok", false)
      .string("outcome", "unknown_service")
      .string("message", message)
      .strings("unknown", unknown)
      .end_line();
  return out;
}

std::string encode_reload(const json& id, const arm::ReloadSummary& summary) {
  std::string out;
  ObjectWriter(out)
      .json_value("id", id)
      .boolean("ok", true)
      .string("outcome", "reloaded")
      .strings("added", summary.added)
      .strings("removed", summary.removed)
      .strings("restarted", summary.restarted)
      .strings("updated", summary.updated)
      .end_line();
  return out;
}

std::string encode_reexec(const json& id, std::string_view binary, std::size_t services,
                          std::size_t processes, double unavailable_ms, double took_ms) {
  std::string out;
  ObjectWriter(out)
      .json_value("id", id)
      .boolean("ok", true)
      .string("outcome", "reexecuted")
      .string("binary", binary)
      .integer("services", services)
      .integer("processes", processes)
      .integer("unavailable_us", static_cast<std::int64_t>(unavailable_ms * 1000))
      .integer("took_us", static_cast<std::int64_t>(took_ms * 1000))
      .end_line();
  return out;
}

std::string encode_error(const json& id, std::string_view outcome, std::string_view message) {
  std::string out;
  ObjectWriter(out)
      .json_value("id", id)
      .boolean("ok", false)
      .string("outcome", outcome)
      .string("message", message)
      .end_line();
  return out;
}

std::string encode_metrics_reply(const json& id, std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 128);
  ObjectWriter(out)
      .json_value("id", id)
      .boolean("ok", true)
      .string("outcome", "metrics")
      .string("content_type", metrics_content_type)
      .string("text", text)
      .end_line();
  return out;
}

std::expected<json, std::string> decode_reply(std::string_view text) {
  auto parsed = parse(text);
  if (!parsed) return std::unexpected("armd sent " + parsed.error());
  if (!parsed->is_object()) return std::unexpected(std::string("armd sent a non-object line"));
  return std::move(*parsed);
}

std::string encode_request(const json& id, std::string_view method, const json& params) {
  json object = params.is_object() ? params : json::object();
  object["id"] = id;
  object["method"] = method;
  return line(object);
}

}  // namespace armd::protocol
