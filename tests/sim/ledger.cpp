#include "ledger.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <stdexcept>

namespace arm::sim {

namespace {

bool one_of(Outcome outcome, std::initializer_list<Outcome> allowed) {
  return std::ranges::find(allowed, outcome) != allowed.end();
}

// The outcomes each request can have, read from the Outcome comments in the header: a reply
// outside its request's set went to the wrong waiter or says something impossible.
bool possible(RequestKind kind, Outcome outcome) {
  using enum Outcome;
  switch (kind) {
    case RequestKind::start:
      return one_of(outcome,
                    {started, already_running, start_failed, shutting_down, unknown_service});
    case RequestKind::restart:  // a restart of a service that is not running starts it
      return one_of(outcome, {restarted, started, start_failed, shutting_down, unknown_service,
                              check_failed});
    case RequestKind::stop:
      return one_of(outcome,
                    {stopped, still_referenced, not_running, shutting_down, unknown_service});
    case RequestKind::reset:
      return one_of(outcome, {reset, shutting_down, unknown_service});
    case RequestKind::shutdown:
      return outcome == shutdown_complete;
    case RequestKind::reload_service:
      return one_of(outcome, {reloaded, check_failed, reload_failed, no_reload, not_running,
                              start_failed, shutting_down, unknown_service});
  }
  return false;
}

}  // namespace

std::string_view to_string(RequestKind kind) {
  switch (kind) {
    case RequestKind::start:
      return "start";
    case RequestKind::stop:
      return "stop";
    case RequestKind::restart:
      return "restart";
    case RequestKind::reset:
      return "reset";
    case RequestKind::shutdown:
      return "shutdown";
    case RequestKind::reload_service:
      return "reload_service";
  }
  return "?";
}

std::string_view to_string(NameKind kind) {
  switch (kind) {
    case NameKind::configured:
      return "configured";
    case NameKind::removed:
      return "removed by a reload";
    case NameKind::never_configured:
      return "never configured";
  }
  return "?";
}

std::string Ledger::describe(const Request& request) {
  if (request.kind == RequestKind::shutdown)
    return fmt::format("the shutdown request of step {}", request.step);
  return fmt::format("the {} of '{}' ({}{}) of step {}", to_string(request.kind), request.service,
                     to_string(request.name_kind),
                     request.name_kind == NameKind::configured ? ""
                     : request.listed                          ? ", still listed"
                                                               : ", not listed",
                     request.step);
}

void Ledger::record(RequestRef ref, Request request) {
  Key key{ref.request, ref.client};
  auto [it, added] = entries_.try_emplace(key, Entry{std::move(request)});
  if (!added) throw std::logic_error("armsim made one request twice");
  pending_.insert(key);
}

std::optional<std::string> Ledger::on_reply(const Reply& reply) {
  Key key{reply.to.request, reply.to.client};
  auto it = entries_.find(key);
  if (it == entries_.end())
    return fmt::format("a reply ({}) to request {}/{}, which was never made",
                       to_string(reply.outcome), reply.to.client, reply.to.request);
  Entry& entry = it->second;
  const Request& request = entry.request;
  auto what = [&] { return describe(request); };
  if (++entry.replies > 1)
    return fmt::format("a second reply ({}) to {}", to_string(reply.outcome), what());
  if (entry.client_gone)
    return fmt::format("a reply ({}) to {}, though its client went away before it was answered",
                       to_string(reply.outcome), what());
  pending_.erase(key);

  if (request.kind != RequestKind::shutdown && reply.service != request.service)
    return fmt::format("the reply to {} names the service '{}'", what(), reply.service);
  if (!possible(request.kind, reply.outcome))
    return fmt::format("{} answered {}", what(), to_string(reply.outcome));
  if (request.kind == RequestKind::shutdown) return std::nullopt;
  // "unknown_service: no service of that name is configured." A removed service that is still
  // stopping is listed (status has it) and may be answered either way.
  bool unknown = reply.outcome == Outcome::unknown_service;
  if (!request.listed && !unknown)
    return fmt::format("{} answered {}, not unknown_service", what(), to_string(reply.outcome));
  if (request.name_kind == NameKind::configured && unknown)
    return fmt::format("{} answered unknown_service", what());
  return std::nullopt;
}

void Ledger::client_gone(ClientId client) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second == client) {
      entries_.at(*it).client_gone = true;
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<std::string> Ledger::unanswered() const {
  if (pending_.empty()) return std::nullopt;
  const Request& first = entries_.at(*pending_.begin()).request;
  return fmt::format("{} was never answered ({} request(s) of connected clients unanswered)",
                     describe(first), pending_.size());
}

}  // namespace arm::sim
