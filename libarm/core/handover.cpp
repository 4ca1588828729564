// A live re-exec's handover (issue 15): the supervisor's state as text, and a new supervisor
// that carries on from it. The old armd writes handover() to a memfd and execs the new binary,
// which calls resume() with it; the processes are still its children (exec keeps the pid).
//
// The format is TOML, versioned:
//
//   version = 1                  # a reader refuses a newer one
//   shutting_down = false
//   last_probe_id = 12           # probe and check ids are never reused
//   next_serial = 3              # orders deadlines that fall on the same instant
//   killed_in_shutdown = []      # for the shutdown reply
//   [[services]]
//   name = "web"
//   state = "running"            # to_string(ServiceState)
//   pid = 1001                   # optional, as every field below
//   running_since = 3600000000000  # a TimePoint: nanoseconds of the steady clock
//   start_waiters = [{ on_success = "started", holds_reference = true, killed = false }]
//                                # nobody to answer
//   ...                          # see write_service() for every key
//   [services.readiness] / [services.health] / [services.on_demand] / [services.config_change]
//                                # present when the service has that record
//
// Times are CLOCK_MONOTONIC's, the same across exec. Keys are read leniently: a missing one
// takes its default (a service's record as freshly configured), an unknown one is an error
// (written by something else than handover()). Nothing is reused from a client: replies are
// gone with the connections.
#include "handover.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "handover_text.hpp"
#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

namespace {

using detail::Attempt;
using detail::CarriedService;
using detail::Handover;
using detail::StartWaiter;
using detail::StopPhase;
using Step = Service::ConfigChange::Step;
using detail::handover_text::Document;
using detail::handover_text::Node;
using NodeKind = detail::handover_text::Kind;

constexpr std::int64_t format_version = 1;
constexpr std::string_view source_name = "handover";

// ---- names of the values ---------------------------------------------------------------------

template <class Enum>
struct Named {
  Enum value;
  std::string_view name;
};

constexpr std::array<Named<AfterExit>, 8> after_exit_names{{
    {AfterExit::settle_stopped, "settle_stopped"},
    {AfterExit::settle_failed, "settle_failed"},
    {AfterExit::start_again, "start_again"},
    {AfterExit::back_off, "back_off"},
    {AfterExit::give_up, "give_up"},
    {AfterExit::forget, "forget"},
    {AfterExit::decide_failed, "decide_failed"},
    {AfterExit::decide, "decide"},
}};
constexpr std::array<Named<StopPhase>, 4> stop_phase_names{{
    {StopPhase::none, "none"},
    {StopPhase::awaiting_dependents, "awaiting_dependents"},
    {StopPhase::terminate_sent, "terminate_sent"},
    {StopPhase::kill_sent, "kill_sent"},
}};
constexpr std::array<Named<Attempt>, 2> attempt_names{{
    {Attempt::first, "first"},
    {Attempt::retry, "retry"},
}};
constexpr std::array<Named<Step>, 3> step_names{{
    {Step::idle, "idle"},
    {Step::checking, "checking"},
    {Step::reloading, "reloading"},
}};
// "lost" is newer than the other two: a handover written before it never holds it, so old
// handovers read as before.
constexpr std::array<Named<ExitStatus::Kind>, 3> exit_kind_names{{
    {ExitStatus::Kind::exited, "exited"},
    {ExitStatus::Kind::signaled, "signaled"},
    {ExitStatus::Kind::lost, "lost"},
}};
constexpr std::array<ServiceState, 8> all_states{
    ServiceState::stopped,  ServiceState::waiting, ServiceState::starting, ServiceState::running,
    ServiceState::stopping, ServiceState::backoff, ServiceState::failed,   ServiceState::listening};
constexpr std::array<HealthState, 4> all_health{HealthState::none, HealthState::unknown,
                                                HealthState::healthy, HealthState::unhealthy};
constexpr std::array<Outcome, 15> all_outcomes{Outcome::started,
                                               Outcome::already_running,
                                               Outcome::restarted,
                                               Outcome::stopped,
                                               Outcome::still_referenced,
                                               Outcome::not_running,
                                               Outcome::unknown_service,
                                               Outcome::start_failed,
                                               Outcome::shutting_down,
                                               Outcome::shutdown_complete,
                                               Outcome::reset,
                                               Outcome::reloaded,
                                               Outcome::check_failed,
                                               Outcome::reload_failed,
                                               Outcome::no_reload};

template <class Enum, std::size_t N>
std::string_view name_of(const std::array<Named<Enum>, N>& names, Enum value) {
  for (const auto& named : names) {
    if (named.value == value) return named.name;
  }
  return "?";
}

// ---- writing ---------------------------------------------------------------------------------

std::int64_t nanoseconds(TimePoint at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

// The length of the valid UTF-8 sequence at the start of `text`, or 0 when it is not one.
std::size_t utf8_sequence(std::string_view text) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(0);
  std::size_t length = lead < 0x80           ? 1
                       : (lead >> 5) == 0x6  ? 2
                       : (lead >> 4) == 0xe  ? 3
                       : (lead >> 3) == 0x1e ? 4
                                             : 0;
  if (length == 0 || length > text.size()) return 0;
  std::uint32_t point = length == 1 ? lead : lead & (0x7f >> length);
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    point = (point << 6) | (byte(i) & 0x3f);
  }
  static constexpr std::array<std::uint32_t, 5> smallest{0, 0, 0x80, 0x800, 0x10000};
  if (point < smallest[length] || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
    return 0;
  return length;
}

// Writes the handover's TOML directly (handover_text.cpp reads it): a table tree of the whole
// state cost more than the text itself. Strings are TOML basic strings; what a service said about
// itself (STATUS=, a probe's output) may be any bytes, and TOML has no byte escapes: a byte that is
// not UTF-8 is written as U+FFFD, the only change the round trip makes.
class Writer {
 public:
  void table_header(std::string_view header) { fmt::format_to(out(), "\n{}\n", header); }
  void integer(std::string_view key, std::int64_t value) {
    fmt::format_to(out(), "{} = {}\n", key, value);
  }
  void flag(std::string_view key, bool value) { fmt::format_to(out(), "{} = {}\n", key, value); }
  void text(std::string_view key, std::string_view value) {
    fmt::format_to(out(), "{} = ", key);
    quoted(value);
    buffer_.push_back('\n');
  }
  void text_if_any(std::string_view key, std::string_view value) {
    if (!value.empty()) text(key, value);
  }
  void time(std::string_view key, const std::optional<TimePoint>& at) {
    if (at) integer(key, nanoseconds(*at));
  }
  void exit(std::string_view key, const std::optional<ExitStatus>& exit) {
    if (!exit) return;
    fmt::format_to(out(), "{} = {{ kind = \"{}\", value = {} }}\n", key,
                   name_of(exit_kind_names, exit->kind), exit->value);
  }
  void quoted(std::string_view value) {
    buffer_.push_back('"');
    while (!value.empty()) {
      char c = value.front();
      std::size_t length = utf8_sequence(value);
      if (length == 0) {
        fmt::format_to(out(), "\\uFFFD");
        length = 1;
      } else if (c == '"' || c == '\\') {
        buffer_.push_back('\\');
        buffer_.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        fmt::format_to(out(), "\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
      } else {
        buffer_.append(value.substr(0, length));
      }
      value.remove_prefix(length);
    }
    buffer_.push_back('"');
  }
  fmt::appender out() { return fmt::appender(buffer_); }
  std::string take() { return fmt::to_string(buffer_); }

 private:
  fmt::memory_buffer buffer_;
};

void write_service(Writer& w, const Service& service) {
  w.table_header("[[services]]");
  w.text("name", service.name());
  w.integer("serial", static_cast<std::int64_t>(service.serial));
  w.text("state", to_string(service.state));
  w.text("after_exit", name_of(after_exit_names, service.after_exit));
  const auto& process = service.process;
  if (process.pid) w.integer("pid", *process.pid);
  w.time("running_since", process.running_since);
  w.exit("last_exit", process.last_exit);
  w.time("last_exit_at", process.last_exit_at);
  w.exit("main_exit", process.main_exit);
  // A running service's deadline is the earliest of its records' (watchdog, probe, idle period,
  // a config step in flight, which is not carried): the new supervisor works it out again.
  if (service.state != ServiceState::running) w.time("deadline", service.deadline);
  w.integer("requests", service.references.requests);
  w.flag("active", service.references.active);
  w.integer("before_failure", service.references.before_failure);
  w.integer("backoff_ms", service.history.backoff.next().count());
  fmt::format_to(w.out(), "recent_restarts = [");
  const char* separator = "";
  for (TimePoint at : service.history.intensity.recent()) {
    fmt::format_to(w.out(), "{}{}", separator, nanoseconds(at));
    separator = ", ";
  }
  fmt::format_to(w.out(), "]\n");
  w.integer("restarts", service.history.restarts);
  w.text("attempt", name_of(attempt_names, service.history.attempt));
  if (service.waiters && !service.waiters->starts.empty()) {
    fmt::format_to(w.out(), "start_waiters = [");
    separator = "";
    for (const StartWaiter& waiter : service.waiters->starts) {
      fmt::format_to(w.out(), "{}{{ on_success = \"{}\", holds_reference = {}, killed = {} }}",
                     separator, to_string(waiter.on_success), waiter.holds_reference,
                     waiter.killed);
      separator = ", ";
    }
    fmt::format_to(w.out(), "]\n");
  }
  w.text("stop_phase", name_of(stop_phase_names, service.stop.phase));
  w.flag("stop_killed", service.stop.killed);
  w.flag("abort_first", service.stop.abort_first);
  w.text_if_any("last_error", service.last_error.str());
  w.text_if_any("stop_reason", service.stop_reason.str());
  w.text_if_any("waiting_for", service.waiting_for.str());
  // The records, each present only when the service has it (as in the old supervisor).
  if (const auto* readiness = service.readiness.get()) {
    w.table_header("[services.readiness]");
    w.time("start_deadline", readiness->start_deadline);
    if (readiness->watchdog) w.integer("watchdog_ms", readiness->watchdog->count());
    w.time("watchdog_due", readiness->watchdog_due);
    w.text_if_any("status_text", readiness->status_text);
    if (readiness->error_number) w.integer("error_number", *readiness->error_number);
  }
  if (const auto* health = service.health.get()) {
    w.table_header("[services.health]");
    w.text("state", to_string(health->state));
    w.flag("start_period_over", health->start_period_over);
    w.integer("failures", health->failures);
    w.integer("ready_at", nanoseconds(health->ready_at));
    w.integer("probe_started", nanoseconds(health->probe_started));
    // A probe in flight is not carried (the host ends it): the next one is due at once.
    w.integer("next_at", nanoseconds(health->in_flight ? health->probe_started : health->next_at));
    w.text_if_any("detail", health->detail);
    w.time("checked_at", health->checked_at);
  }
  if (const auto* on_demand = service.on_demand.get()) {
    w.table_header("[services.on_demand]");
    w.flag("watched", on_demand->watched);
    w.flag("client_came", on_demand->client_came);
    w.flag("activated", on_demand->activated);
    w.time("idle_check_at", on_demand->idle_check_at);
  }
  if (const auto* change = service.config_change.get()) {
    w.table_header("[services.config_change]");
    // The step in flight is named, not carried: the new supervisor runs it again.
    w.text("step", name_of(step_names, change->step));
    w.flag("file_changed", change->file_changed);
    w.flag("changed_meanwhile", change->changed_meanwhile);
    w.text_if_any("why", change->why);
    w.integer("reloads", static_cast<std::int64_t>(change->reloads.size()));
    w.integer("restarts", static_cast<std::int64_t>(change->restarts.size()));
    w.text_if_any("rejected", change->rejected);
  }
}

// ---- reading ---------------------------------------------------------------------------------

// The keys of one table of the handover, read with errors that name the key and its line.
class Fields {
 public:
  Fields(const Document& document, const Node& table, std::string path, std::vector<Error>& errors)
      : document_(document), table_(table), path_(std::move(path)), errors_(errors) {}
  // The fields of `table`, a table in this one, their keys below `path`.
  Fields of(const Node& table, std::string path) const {
    return Fields(document_, table, std::move(path), errors_);
  }

  std::string key(std::string_view name) const {
    return path_.empty() ? std::string(name) : fmt::format("{}.{}", path_, name);
  }
  // A handover that is not one could hold a million faults; the first hundred say enough, and
  // a list without end would cost the memory and time the refusal is there to save.
  static constexpr std::size_t max_errors = 100;
  bool full() const { return errors_.size() > max_errors; }
  void fail(const Node* where, std::string_view name, std::string message) const {
    if (full()) return;
    const Node& at = where ? *where : table_;
    if (errors_.size() == max_errors) {
      errors_.push_back(Error::at(std::string(source_name), document_.line(at),
                                  document_.column(at), key(name),
                                  "... and more errors, not listed"));
      return;
    }
    errors_.push_back(Error::at(std::string(source_name), document_.line(at), document_.column(at),
                                key(name), std::move(message)));
  }
  // Every key present must be one of `known`.
  void only(std::initializer_list<std::string_view> known) const {
    for (const Node* node = document_.first(table_); node; node = document_.next(*node)) {
      std::string_view name = document_.key(*node);
      if (std::find(known.begin(), known.end(), name) == known.end())
        fail(node, name, "unknown key in a handover");
    }
  }

  std::optional<std::int64_t> integer(std::string_view name, std::int64_t low,
                                      std::int64_t high) const {
    const Node* node = get(name);
    if (!node) return std::nullopt;
    if (node->kind != NodeKind::integer) {
      fail(node, name, "expected an integer");
      return std::nullopt;
    }
    std::int64_t value = document_.integer(*node);
    if (value < low || value > high) {
      fail(node, name, fmt::format("{} is out of range ({} to {})", value, low, high));
      return std::nullopt;
    }
    return value;
  }
  template <class Unsigned>
  void count(std::string_view name, Unsigned& out) const {
    constexpr auto high = static_cast<std::int64_t>(std::min<std::uint64_t>(
        std::numeric_limits<Unsigned>::max(), std::numeric_limits<std::int64_t>::max()));
    if (auto value = integer(name, 0, high)) out = static_cast<Unsigned>(*value);
  }
  void flag(std::string_view name, bool& out) const {
    const Node* node = get(name);
    if (!node) return;
    if (node->kind == NodeKind::boolean) {
      out = document_.boolean(*node);
    } else {
      fail(node, name, "expected true or false");
    }
  }
  void text(std::string_view name, std::string& out) const {
    const Node* node = get(name);
    if (!node) return;
    if (node->kind == NodeKind::string) {
      out = document_.string(*node);
    } else {
      fail(node, name, "expected a string");
    }
  }
  void time(std::string_view name, std::optional<TimePoint>& out) const {
    if (auto value = integer(name, std::numeric_limits<std::int64_t>::min(),
                             std::numeric_limits<std::int64_t>::max()))
      out = TimePoint(std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(*value)));
  }
  void time(std::string_view name, TimePoint& out) const {
    std::optional<TimePoint> read;
    time(name, read);
    if (read) out = *read;
  }
  void milliseconds(std::string_view name, Milliseconds& out) const {
    if (auto value = integer(name, 0, std::numeric_limits<std::int64_t>::max()))
      out = Milliseconds(*value);
  }
  // One of the names `name_of(value)` gives for `values`.
  template <class Enum, class Values, class NameOf>
  void choice(std::string_view name, const Values& values, NameOf name_of_value, Enum& out) const {
    const Node* node = get(name);
    if (!node) return;
    std::optional<std::string> text;
    if (node->kind == NodeKind::string) text = document_.string(*node);
    std::string expected;
    for (const auto& candidate : values) {
      std::string_view candidate_name = name_of_value(candidate);
      if (text == candidate_name) {
        out = value_of(candidate);
        return;
      }
      expected += expected.empty() ? "" : ", ";
      expected += candidate_name;
    }
    fail(node, name, fmt::format("expected one of {}", expected));
  }
  template <class Enum, std::size_t N>
  void named(std::string_view name, const std::array<Named<Enum>, N>& names, Enum& out) const {
    choice(
        name, names, [](const Named<Enum>& n) { return n.name; }, out);
  }
  template <class Enum, std::size_t N>
  void listed(std::string_view name, const std::array<Enum, N>& values, Enum& out) const {
    choice(
        name, values, [](Enum value) { return to_string(value); }, out);
  }
  void exit(std::string_view name, std::optional<ExitStatus>& out) const {
    const Node* table = sub_table(name);
    if (!table) return;
    Fields fields = of(*table, key(name));
    fields.only({"kind", "value"});
    ExitStatus status;
    fields.named("kind", exit_kind_names, status.kind);
    if (auto value = fields.integer("value", std::numeric_limits<int>::min(),
                                    std::numeric_limits<int>::max()))
      status.value = static_cast<int>(*value);
    out = status;
  }
  const Node* get(std::string_view name) const { return document_.get(table_, name); }
  const Node* sub_table(std::string_view name) const {
    const Node* node = get(name);
    if (!node) return nullptr;
    if (node->kind == NodeKind::table) return node;
    fail(node, name, "expected a table");
    return nullptr;
  }
  // Calls `visit(element)` for each element of the array `name`; none when it is missing or
  // not an array (which fails).
  template <typename Visit>
  void elements(std::string_view name, Visit visit) const {
    const Node* node = get(name);
    if (!node) return;
    if (node->kind != NodeKind::array) return fail(node, name, "expected an array");
    for (const Node* element = document_.first(*node); element && !full();
         element = document_.next(*element))
      visit(*element);
  }
  // Calls `visit(table, key)` for each element of the array `name` that is a table, its key
  // naming it ("services[3]"); an element of another kind fails.
  template <typename Visit>
  void each_table(std::string_view name, Visit visit) const {
    std::size_t index = 0;
    elements(name, [&](const Node& element) {
      std::size_t this_index = index++;
      // The key is built only when asked for: a thousand services read without a thousand
      // formatted strings nobody looks at.
      auto item = [&] { return fmt::format("{}[{}]", name, this_index); };
      if (element.kind == NodeKind::table)
        visit(element, item);
      else
        fail(&element, item(), "expected a table");
    });
  }
  bool has(std::string_view name) const { return get(name) != nullptr; }
  std::vector<Error>& errors() const { return errors_; }
  const Document& document() const { return document_; }

 private:
  template <class Enum>
  static Enum value_of(const Named<Enum>& named) {
    return named.value;
  }
  template <class Enum>
  static Enum value_of(Enum value) {
    return value;
  }

  const Document& document_;
  const Node& table_;
  std::string path_;
  std::vector<Error>& errors_;
};

void read_readiness(const Fields& fields, Service::Readiness& readiness) {
  fields.only({"start_deadline", "watchdog_ms", "watchdog_due", "status_text", "error_number"});
  fields.time("start_deadline", readiness.start_deadline);
  if (fields.has("watchdog_ms")) {
    Milliseconds interval{0};
    fields.milliseconds("watchdog_ms", interval);
    readiness.watchdog = interval;
  }
  fields.time("watchdog_due", readiness.watchdog_due);
  fields.text("status_text", readiness.status_text);
  if (auto number = fields.integer("error_number", std::numeric_limits<int>::min(),
                                   std::numeric_limits<int>::max()))
    readiness.error_number = static_cast<int>(*number);
}

void read_health(const Fields& fields, Service::Health& health) {
  fields.only({"state", "start_period_over", "failures", "ready_at", "probe_started", "next_at",
               "detail", "checked_at"});
  fields.listed("state", all_health, health.state);
  fields.flag("start_period_over", health.start_period_over);
  fields.count("failures", health.failures);
  fields.time("ready_at", health.ready_at);
  fields.time("probe_started", health.probe_started);
  fields.time("next_at", health.next_at);
  fields.text("detail", health.detail);
  fields.time("checked_at", health.checked_at);
}

void read_on_demand(const Fields& fields, Service::OnDemand& on_demand) {
  fields.only({"watched", "client_came", "activated", "idle_check_at"});
  fields.flag("watched", on_demand.watched);
  fields.flag("client_came", on_demand.client_came);
  fields.flag("activated", on_demand.activated);
  fields.time("idle_check_at", on_demand.idle_check_at);
}

void read_config_change(const Fields& fields, Service::ConfigChange& change) {
  fields.only(
      {"step", "file_changed", "changed_meanwhile", "why", "reloads", "restarts", "rejected"});
  fields.named("step", step_names, change.step);
  fields.flag("file_changed", change.file_changed);
  fields.flag("changed_meanwhile", change.changed_meanwhile);
  fields.text("why", change.why);
  // Requests that wait for the check: carried with nobody to answer (at most one per client
  // request, so a count in the billions is not a handover's).
  std::uint16_t reloads = 0;
  std::uint16_t restarts = 0;
  fields.count("reloads", reloads);
  fields.count("restarts", restarts);
  change.reloads.assign(reloads, std::nullopt);
  change.restarts.assign(restarts, std::nullopt);
  fields.text("rejected", change.rejected);
}

void read_service(const Fields& fields, CarriedService& service) {
  fields.only({"name",          "serial",         "state",        "after_exit",      "pid",
               "running_since", "last_exit",      "last_exit_at", "main_exit",       "deadline",
               "readiness",     "health",         "on_demand",    "config_change",   "requests",
               "active",        "before_failure", "backoff_ms",   "recent_restarts", "restarts",
               "attempt",       "start_waiters",  "stop_phase",   "stop_killed",     "abort_first",
               "last_error",    "stop_reason",    "waiting_for"});
  fields.count("serial", service.serial);
  fields.listed("state", all_states, service.state);
  fields.named("after_exit", after_exit_names, service.after_exit);
  if (auto pid = fields.integer("pid", 1, std::numeric_limits<ProcessId>::max()))
    service.process.pid = static_cast<ProcessId>(*pid);
  fields.time("running_since", service.process.running_since);
  fields.exit("last_exit", service.process.last_exit);
  fields.time("last_exit_at", service.process.last_exit_at);
  fields.exit("main_exit", service.process.main_exit);
  fields.time("deadline", service.deadline);
  if (const auto* table = fields.sub_table("readiness")) {
    service.readiness = std::make_unique<Service::Readiness>();
    read_readiness(fields.of(*table, fields.key("readiness")), *service.readiness);
  }
  if (const auto* table = fields.sub_table("health")) {
    service.health = std::make_unique<Service::Health>();
    read_health(fields.of(*table, fields.key("health")), *service.health);
  }
  if (const auto* table = fields.sub_table("on_demand")) {
    service.on_demand = std::make_unique<Service::OnDemand>();
    read_on_demand(fields.of(*table, fields.key("on_demand")), *service.on_demand);
  }
  if (const auto* table = fields.sub_table("config_change")) {
    service.config_change = std::make_unique<Service::ConfigChange>();
    read_config_change(fields.of(*table, fields.key("config_change")), *service.config_change);
  }
  fields.count("requests", service.references.requests);
  fields.flag("active", service.references.active);
  fields.count("before_failure", service.references.before_failure);
  fields.milliseconds("backoff_ms", service.backoff);
  bool all_integers = true;
  fields.elements("recent_restarts", [&](const Node& element) {
    if (!all_integers) return;
    if (element.kind != NodeKind::integer) {
      fields.fail(&element, "recent_restarts", "expected integers (nanoseconds)");
      all_integers = false;
      return;
    }
    service.recent_restarts.push_back(TimePoint(std::chrono::duration_cast<Duration>(
        std::chrono::nanoseconds(fields.document().integer(element)))));
  });
  fields.count("restarts", service.restarts);
  fields.named("attempt", attempt_names, service.attempt);
  fields.each_table("start_waiters", [&](const Node& table, auto key) {
    Fields waiter_fields = fields.of(table, fields.key(key()));
    waiter_fields.only({"on_success", "holds_reference", "killed"});
    StartWaiter waiter;  // `to` stays nullopt: its client is gone
    waiter_fields.listed("on_success", all_outcomes, waiter.on_success);
    waiter_fields.flag("holds_reference", waiter.holds_reference);
    waiter_fields.flag("killed", waiter.killed);
    service.start_waiters.push_back(waiter);
  });
  fields.named("stop_phase", stop_phase_names, service.stop.phase);
  fields.flag("stop_killed", service.stop.killed);
  fields.flag("abort_first", service.stop.abort_first);
  fields.text("last_error", service.last_error);
  fields.text("stop_reason", service.stop_reason);
  fields.text("waiting_for", service.waiting_for);
}

// What makes sense together: a state with a process has its pid, one without has none.
void check_service(const Fields& fields, const CarriedService& service) {
  bool has_process = service.state == ServiceState::starting ||
                     service.state == ServiceState::running ||
                     service.state == ServiceState::stopping;
  if (has_process && !service.process.pid)
    fields.fail(nullptr, "pid",
                fmt::format("a {} service must have a pid", to_string(service.state)));
  if (!has_process && service.process.pid)
    fields.fail(fields.get("pid"), "pid",
                fmt::format("a {} service has no process", to_string(service.state)));
}

std::expected<Handover, std::vector<Error>> read_handover(std::string_view text,
                                                          const Config& config) {
  std::vector<Error> errors;
  auto parsed = Document::parse(text);
  if (!parsed) {
    const auto& error = parsed.error();
    return std::unexpected(
        std::vector<Error>{Error::at(std::string(source_name), error.line, error.column, "",
                                     fmt::format("not a handover: {}", error.message))});
  }
  const Document& document = *parsed;
  Fields fields(document, document.root(), "", errors);
  // The version first: a newer format's other keys mean nothing here.
  const Node* version = fields.get("version");
  if (!version) {
    fields.fail(nullptr, "version", "missing: not a handover (no `version`)");
    return std::unexpected(std::move(errors));
  }
  auto number = fields.integer("version", 1, std::numeric_limits<std::int64_t>::max());
  if (!number) return std::unexpected(std::move(errors));
  if (*number > format_version) {
    fields.fail(version, "version",
                fmt::format("handover format version {} is newer than this libarm reads ({}): "
                            "re-exec into a binary at least as new as the one that wrote it",
                            *number, format_version));
    return std::unexpected(std::move(errors));
  }
  fields.only({"version", "shutting_down", "last_probe_id", "next_serial", "killed_in_shutdown",
               "services"});
  Handover handover;
  fields.flag("shutting_down", handover.shutting_down);
  fields.count("last_probe_id", handover.last_probe_id);
  fields.count("next_serial", handover.next_serial);
  fields.elements("killed_in_shutdown", [&](const Node& element) {
    if (element.kind == NodeKind::string) {
      handover.killed_in_shutdown.push_back(document.string(element));
    } else {
      fields.fail(&element, "killed_in_shutdown", "expected service names");
    }
  });
  if (const Node* services = fields.get("services"); services && services->kind == NodeKind::array)
    handover.services.reserve(document.children(*services));
  std::set<std::string, std::less<>> seen;
  std::set<ProcessId> pids;
  fields.each_table("services", [&](const Node& table, auto key) {
    CarriedService service;
    if (const Node* name = document.get(table, "name"); name && name->kind == NodeKind::string)
      service.name = document.string(*name);
    if (service.name.empty()) {
      // Only now is the element's key ("services[3]") worth formatting.
      Fields service_fields = fields.of(table, key());
      service_fields.text("name", service.name);
      if (service.name.empty())
        service_fields.fail(nullptr, "name", "missing: every service has a name");
      return;
    }
    // From here on the key names the service, as a configuration's does.
    Fields named_fields = fields.of(table, fmt::format("services.{}", service.name));
    if (!config.services.contains(service.name)) {
      // A reload removed it and its process is still on its way out: its settings are gone
      // with the configuration that had them (a limit: the host waits for it to exit).
      AfterExit after_exit = AfterExit::settle_stopped;
      named_fields.named("after_exit", after_exit_names, after_exit);
      named_fields.fail(
          named_fields.get("name"), "name",
          after_exit == AfterExit::forget
              ? fmt::format("service '{}' is in the handover but not configured: a reload "
                            "removed it and its process is still stopping; re-exec once it "
                            "has exited",
                            service.name)
              : fmt::format("service '{}' is in the handover but not configured: the "
                            "configuration must name every service it carries",
                            service.name));
      return;
    }
    if (!seen.insert(service.name).second) {
      named_fields.fail(named_fields.get("name"), "name",
                        fmt::format("service '{}' is in the handover twice", service.name));
      return;
    }
    read_service(named_fields, service);
    check_service(named_fields, service);
    if (service.process.pid && !pids.insert(*service.process.pid).second)
      named_fields.fail(named_fields.get("pid"), "pid",
                        fmt::format("pid {} is another service's too", *service.process.pid));
    handover.services.push_back(std::move(service));
  });
  if (!errors.empty()) return std::unexpected(std::move(errors));
  return handover;
}

}  // namespace

// ---- the supervisor's side -------------------------------------------------------------------

std::string ServiceSupervisor::Impl::write_handover() const {
  Writer w;
  w.integer("version", format_version);
  w.flag("shutting_down", in_shutdown);
  w.integer("last_probe_id", static_cast<std::int64_t>(last_probe_id));
  w.integer("next_serial", static_cast<std::int64_t>(next_serial));
  fmt::format_to(w.out(), "killed_in_shutdown = [");
  const char* separator = "";
  for (const auto& name : killed_in_shutdown) {
    fmt::format_to(w.out(), "{}", separator);
    w.quoted(name);
    separator = ", ";
  }
  fmt::format_to(w.out(), "]\n");
  for (const auto& [name, service] : services) write_service(w, *service);
  return w.take();
}

void ServiceSupervisor::Impl::take_over(Handover& handover) {
  in_shutdown = handover.shutting_down;
  last_probe_id = handover.last_probe_id;
  killed_in_shutdown = std::move(handover.killed_in_shutdown);
  std::uint64_t serial = handover.next_serial;
  std::set<Service*> carried;
  std::vector<std::pair<Service*, Step>> steps_to_run;
  for (CarriedService& from : handover.services) {
    Service& service = *find(from.name);
    carried.insert(&service);
    service.serial = from.serial;
    service.state = from.state;
    service.after_exit = from.after_exit;
    service.process = from.process;
    if (service.process.pid) by_pid[*service.process.pid] = &service;
    service.deadline.reset();  // scheduled below, into `deadlines` too
    service.readiness = std::move(from.readiness);
    // Records the configuration (or the adapters) now given have no use for are not kept, as
    // a supervisor built for them would never have made them: a health record without a check
    // or a Prober, a socket-activation record without Listeners.
    service.health = std::move(from.health);
    if (!service.settings().health || !prober) service.health.reset();
    service.on_demand = std::move(from.on_demand);
    if (!listeners) service.on_demand.reset();
    if (service.on_demand) service.on_demand->watched = false;  // watched again below
    service.config_change = std::move(from.config_change);
    if (service.config_change && service.config_change->step != Step::idle) {
      steps_to_run.emplace_back(&service, service.config_change->step);
      service.config_change->step = Step::idle;
    }
    service.references.requests = from.references.requests;
    service.references.active = from.references.active;
    service.references.before_failure = from.references.before_failure;
    service.history.backoff.restore(from.backoff);
    service.history.intensity.restore(std::move(from.recent_restarts));
    service.history.restarts = from.restarts;
    service.history.attempt = from.attempt;
    if (!from.start_waiters.empty()) waiters_of(service).starts = std::move(from.start_waiters);
    service.stop.phase = from.stop.phase;
    service.stop.killed = from.stop.killed;
    service.stop.abort_first = from.stop.abort_first;
    service.last_error = std::move(from.last_error);
    service.stop_reason = std::move(from.stop_reason);
    service.waiting_for = std::move(from.waiting_for);
    if (from.deadline) service.deadline = from.deadline;
  }
  // A configured service the handover does not name is new: ordered after every carried one.
  for (auto& [name, service] : services) {
    if (!carried.contains(service.get())) service->serial = serial++;
  }
  next_serial = serial;
  recount();  // holders and leaving_dependents, from the states just restored
  for (auto& [name, owned] : services) {
    Service& service = *owned;
    // Carried in the record only so far: put in `deadlines` (with the record) by schedule().
    std::optional<TimePoint> due = std::exchange(service.deadline, std::nullopt);
    rest(service, false);  // at rest: listening or stopped, as the configuration says now
    update_socket_watch(service);
    if (service.state == ServiceState::running) {
      schedule_while_running(service);  // a probe that was in flight is due at once
    } else if (due) {
      schedule(service, *due);
    }
  }
  // The checks and reload commands the old supervisor had in flight run again, for the same
  // change and the same waiting requests.
  for (auto [service, step] : steps_to_run) {
    if (service->state != ServiceState::running) {
      abandon_config_change(*service);
    } else if (checks_before_acting(*service)) {
      run_config_step(*service, Step::checking);
    } else if (step == Step::reloading && service->settings().reload &&
               !service->settings().reload->command.empty()) {
      run_config_step(*service, Step::reloading);
    } else {  // its configuration no longer has that step: the change is not applied
      abandon_config_change(*service);
    }
    release_config_change_if_idle(*service);
  }
}

// ---- the public API --------------------------------------------------------------------------

ServiceSupervisor::ServiceSupervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::string ServiceSupervisor::handover() const {
  return impl_->write_handover();
}

void ServiceSupervisor::rerun_probes_in_flight() {
  Impl::Call call(*impl_);
  auto& impl = *impl_;
  // Sorted by id, so they start again in the order they first started.
  std::map<ProbeId, Service*> health(impl.probes_in_flight.begin(), impl.probes_in_flight.end());
  std::map<ProbeId, Service*> steps(impl.config_steps_in_flight.begin(),
                                    impl.config_steps_in_flight.end());
  impl.probes_in_flight.clear();
  impl.config_steps_in_flight.clear();
  for (auto [id, service] : health) {
    service->health->in_flight.reset();
    impl.run_probe(*service);
    impl.schedule_while_running(*service);
  }
  for (auto [id, service] : steps) {
    auto& change = *service->config_change;
    change.in_flight.reset();
    impl.run_config_step(*service, change.step);
  }
}

std::expected<std::unique_ptr<ServiceSupervisor>, std::vector<Error>> ServiceSupervisor::resume(
    std::string_view handover, Config config, Clock& clock, Spawner& spawner, Notifier& notifier,
    FileWatcher* watcher, Random* random, Prober* prober, Listeners* listeners) {
  if (auto valid = check_config(config); !valid) return std::unexpected(std::move(valid.error()));
  // Read and checked whole before any adapter is called: a handover that cannot be read leaves
  // the host's sockets, watches and processes as they were.
  auto carried = read_handover(handover, config);
  if (!carried) return std::unexpected(std::move(carried.error()));
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(std::move(config), clock, spawner, notifier, watcher, random,
                                  prober, listeners, false);
  } catch (const Impl::SocketsRefused& refused) {
    return std::unexpected(refused.errors);
  }
  {
    Impl::Call call(*impl);  // what take_over emits is delivered when it ends
    impl->take_over(*carried);
  }
  return std::unique_ptr<ServiceSupervisor>(new ServiceSupervisor(std::move(impl)));
}

ARM_END_NAMESPACE
