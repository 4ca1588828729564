// The supervisor's record of one service, grouped by concern. Private to libarm/core.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arm/supervisor.hpp"
#include "backoff.hpp"
#include "note.hpp"
#include "restart_intensity.hpp"
#include "stored_spec.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

// What happens when the process of a `stopping` service is reaped: one value instead of flags
// that had to agree. Set when the service starts stopping; changed by the inputs that arrive
// meanwhile (a start, a restart, a dependency failing, a reload dropping the service).
enum class AfterExit {
  settle_stopped,  // -> stopped: it was stopped, or is no longer needed
  settle_failed,   // -> failed: it was taken down because a hard dependency failed
  start_again,     // -> starting: restarted, or started again while it was on its way out
  back_off,        // -> backoff: its configuration file changed soon after it (re)started
  give_up,         // -> failed: its configuration file changed once more than max_restarts
  forget,          // removed by a reload: it disappears from the supervisor
  decide_failed,   // stopped for not being ready within start_timeout, or by its watchdog:
                   // the restart policy decides as for a failed exit, whatever its code
  decide           // its main process exited by itself while others of it ran: those are being
                   // stopped, then the restart policy decides on the main process's exit
};

// How far a `stopping` service has got (reverse dependency order: SIGTERM waits until every
// dependent that is stopping too has been reaped).
enum class StopPhase {
  none,                 // not stopping
  awaiting_dependents,  // its process waits for dependents to be reaped before SIGTERM
  terminate_sent,       // SIGTERM sent; SIGKILL due at the deadline
  kill_sent             // SIGKILL sent
};

// What a spawn error means for this attempt.
enum class Attempt {
  first,  // started from stopped or failed, not yet run: a spawn error fails the start
  retry   // an automatic restart: a spawn error counts as one more crash and backs off
};

// A request waiting for the process to run: answered `on_success` once it does, or with the
// reason it could not. A start takes a reference; if the start fails, it is given back.
struct StartWaiter {
  std::optional<RequestRef> to;  // nullopt: nobody to answer (default services, a gone client)
  Outcome on_success = Outcome::started;
  bool holds_reference = false;
  // A restart whose old process was reaped after SIGKILL: its reply says so. Set on the
  // waiters present when that process is reaped, so a request that comes later (while the
  // service waits for a dependency) claims no kill it did not ask for.
  bool killed = false;
};

struct Service {
  explicit Service(StoredSpec spec) : spec(std::move(spec)) {}

  // Its identity in the record, its settings shared with the services whose settings are equal
  // (stored_spec.hpp): read them as name(), spec.identity() and settings().
  StoredSpec spec;
  const std::string& name() const { return spec.identity().name; }
  const SharedSettings& settings() const { return spec.settings(); }

  std::uint64_t serial = 0;  // orders deadlines that fall on the same instant
  ServiceState state = ServiceState::stopped;
  AfterExit after_exit = AfterExit::settle_stopped;  // meaningful while stopping

  struct Process {
    std::optional<ProcessId> pid;
    std::optional<TimePoint> running_since;
    std::optional<ExitStatus> last_exit;
    std::optional<TimePoint> last_exit_at;
    // Set when the main process exited while other processes of the service still ran: the
    // status that counts once the last of them is gone.
    std::optional<ExitStatus> main_exit;
  } process;

  // Restart due (backoff), SIGKILL due (stopping), re-arm due (failed), not ready in time or
  // the `after` delay over (starting), or the earlier of the watchdog's expiry and the health
  // probe's next start or timeout (running). One per service: the state says what it is for.
  std::optional<TimePoint> deadline;

  // What a service that is not ready at exec, or has a watchdog, is waiting for and has said
  // (issue 13). Allocated at its first spawn that needs it, or at its first notification: most
  // services are ready at exec and never have one.
  struct Readiness {
    std::optional<TimePoint> start_deadline;  // starting: not ready by then, the start fails
    std::optional<Milliseconds> watchdog;     // the interval in force (spec's, or WATCHDOG_USEC=)
    std::optional<TimePoint> watchdog_due;    // running: killed if no WATCHDOG=1 by then
    std::string status_text;                  // the latest STATUS=
    std::optional<int> error_number;          // the latest ERRNO=
  };
  std::unique_ptr<Readiness> readiness;

  // Its health probes (issue 13): allocated at its first ready with a health check, kept (so
  // status still shows why it was unhealthy while it restarts) until a reload removes the check.
  struct Health {
    HealthState state = HealthState::unknown;
    bool start_period_over = false;  // a probe succeeded, or start_period has passed since ready
    unsigned failures = 0;           // in a row, counted ones only
    std::optional<ProbeId> in_flight;
    TimePoint ready_at{};
    TimePoint probe_started{};
    TimePoint next_at{};  // running: the next probe's start, or the timeout of the one in flight
    std::string detail;   // the latest probe's result
    std::optional<TimePoint> checked_at;
  };
  std::unique_ptr<Health> health;

  // Socket activation (issue 14): allocated for a service with start = on-demand. While it is
  // listening its sockets are watched and a client starts it; while it runs with idle_stop,
  // each idle_stop period is watched for a client, and one that saw none stops it.
  struct OnDemand {
    bool watched = false;      // a Listeners::watch is outstanding
    bool client_came = false;  // reported since the current idle period began
    // One of its references is the one a client's arrival gave it (not a request's: idle_stop
    // does not stop a service an operator started). Cleared at rest.
    bool activated = false;
    std::optional<TimePoint> idle_check_at;  // running with idle_stop: the period's end
  };
  std::unique_ptr<OnDemand> on_demand;
  // A configuration change on its way in without a restart (issue 14): the config_check or the
  // reload command in flight, the requests and the file change waiting for it, and the latest
  // change a check rejected. Allocated when one begins; freed once idle with nothing rejected.
  struct ConfigChange {
    enum class Step : std::uint8_t { idle, checking, reloading };
    Step step = Step::idle;
    std::optional<ProbeId> in_flight;
    TimePoint due{};                 // the step in flight times out then
    bool file_changed = false;       // a change of its config file waits to be applied
    bool changed_meanwhile = false;  // it changed again while a step ran: check it once more
    std::string why;                 // "configuration file F changed", "restart requested"
    std::vector<std::optional<RequestRef>> reloads;   // reload_service requests waiting
    std::vector<std::optional<RequestRef>> restarts;  // restart requests waiting for the check
    std::string rejected;  // status: the latest change a check (or reload command) refused
  };
  std::unique_ptr<ConfigChange> config_change;

  // Why it is wanted. `requests` are references from start requests and default_services;
  // `holders` the hard dependents holding it. `active` is set from the moment the service is
  // wanted until it is stopped or failed again: it then holds one reference on each hard
  // dependency.
  struct References {
    unsigned requests = 0;
    unsigned holders = 0;
    bool active = false;
    unsigned before_failure = 0;  // given back when a re-arm restarts it
  } references;

  struct RestartHistory {
    Backoff backoff;
    RestartIntensity intensity;
    unsigned restarts = 0;  // automatic restarts since it was last started by a request
    Attempt attempt = Attempt::first;
  } history;

  // Requests waiting on a transition. Most services have none most of the time: allocated by
  // the first waiter, freed with the last (libarm/core/waiters.cpp).
  struct Waiters {
    std::vector<StartWaiter> starts;
    std::vector<RequestRef> stops;
    std::string stop_note;  // for the stop replies: the dependents stopped with it
  };
  std::unique_ptr<Waiters> waiters;

  // Edges resolved from spec.depends_on / spec.wants, and traversal bookkeeping. Most services
  // have no edge at all: the four lists are allocated only for those that do.
  struct Edges {
    std::vector<Service*> hard_dependencies;
    std::vector<Service*> soft_dependencies;
    std::vector<Service*> hard_dependents;
    std::vector<Service*> soft_dependents;
  };
  struct GraphNode {
    std::unique_ptr<Edges> edges;
    std::uint64_t visited = 0;  // traversal epoch, so a walk visits each service once
    bool in_start_queue = false;

    const std::vector<Service*>& hard_dependencies() const {
      return edges ? edges->hard_dependencies : none();
    }
    const std::vector<Service*>& soft_dependencies() const {
      return edges ? edges->soft_dependencies : none();
    }
    const std::vector<Service*>& hard_dependents() const {
      return edges ? edges->hard_dependents : none();
    }
    const std::vector<Service*>& soft_dependents() const {
      return edges ? edges->soft_dependents : none();
    }
    Edges& edges_to_fill() {
      if (!edges) edges = std::make_unique<Edges>();
      return *edges;
    }
    static const std::vector<Service*>& none() {
      static const std::vector<Service*> empty;
      return empty;
    }
  } graph;

  // Reverse dependency order while stopping: `leaving_dependents` counts, on each dependency,
  // the dependents whose process is still on its way out.
  // `killed`: the process being reaped needed SIGKILL; told to the stop waiters answered then
  // and marked on the restart waiters (StartWaiter::killed), then cleared.
  struct StopOrder {
    StopPhase phase = StopPhase::none;
    unsigned leaving_dependents = 0;
    bool killed = false;
    bool abort_first = false;  // a watchdog timeout: SIGABRT instead of SIGTERM
  } stop;

  // Words for status and replies, each empty most of the time (so a Note, not a std::string).
  Note last_error;   // why it is failed / in backoff
  Note stop_reason;  // why it was taken down, while stopping
  Note waiting_for;  // the name of the dependency it waits for, while waiting

  unsigned refcount() const { return references.requests + references.holders; }
  bool wanted() const { return refcount() > 0; }
  bool leaving() const { return stop.phase != StopPhase::none; }
  // Dropped by a reload and still on its way out: invisible to requests.
  bool removed() const {
    return state == ServiceState::stopping && after_exit == AfterExit::forget;
  }
  // Not wanted and without a process: what activation has to wake up.
  bool dormant() const {
    return !references.active &&
           (state == ServiceState::stopped || state == ServiceState::listening ||
            state == ServiceState::failed);
  }
  bool rearm_pending() const { return state == ServiceState::failed && deadline.has_value(); }
  // Stopping, and decided to start again once reaped (at once or after the backoff).
  bool coming_back() const {
    return after_exit == AfterExit::start_again || after_exit == AfterExit::back_off;
  }
  // Stopping, and what happens next was decided by the supervisor itself (a restart, or giving
  // up on a restart): a stop, a release or a shutdown turns it into a plain stop.
  bool automatic_after_exit() const {
    return coming_back() || after_exit == AfterExit::give_up || after_exit == AfterExit::decide ||
           after_exit == AfterExit::decide_failed;
  }
};

}  // namespace detail
ARM_END_NAMESPACE
