// armd's wiring: the supervisor, the POSIX adapters, the control socket and the signals, all
// driven by one poll(2) loop. Everything that decides anything lives in the supervisor; this
// file only moves events in and replies out.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "arm/posix.hpp"
#include "arm/posix/listeners.hpp"
#include "arm/posix/output_pipes.hpp"
#include "arm/posix/unique_fd.hpp"
#include "arm/supervisor.hpp"
#include "config_source.hpp"
#include "control_server.hpp"
#include "descriptor_limit.hpp"
#include "event_subscribers.hpp"
#include "handover_state.hpp"
#include "health.hpp"
#include "log_blocking.hpp"
#include "log_file_reader.hpp"
#include "log_files.hpp"
#include "log_followers.hpp"
#include "metrics_http.hpp"
#include "protocol/log_lines.hpp"
#include "protocol/protocol.hpp"
#include "readiness.hpp"
#include "reexec_check.hpp"
#include "service_manager.hpp"
#include "service_outputs.hpp"

namespace armd {

struct DaemonOptions {
  std::string config_path;
  // How config_path is read, at start and at each reload (TOML or GNUnet's INI, issue 17).
  ConfigSource config_source;
  std::string socket_path;
  // Files armd watches itself and reloads on a change of (ConfigSource::Loaded::files).
  std::vector<std::string> config_files;
  // Act as init (also when armd is PID 1): become a child subreaper and reap every process
  // that is orphaned below armd.
  bool init = false;
  // For a live re-exec (issue 15): the program to exec (this one's path, resolved at start, so an
  // upgrade that replaced the file execs the new one), and the command line to give it.
  std::string binary;
  std::vector<std::string> command_line;
  // After a re-exec, for the log line: milliseconds from the old armd's last answer until this
  // program started, until it had read the handover and the configuration, and until it had
  // taken over.
  struct ResumeTimings {
    double started_ms = 0;
    double configured_ms = 0;
    double taken_over_ms = 0;
  } resume_timings;
};

// Why armd could not start. `invalid_config`: the configuration is at fault (a socket it lists
// cannot be opened), so armd exits as for any invalid configuration.
struct StartFailure {
  StartFailure(std::string why, bool invalid = false)  // NOLINT: from the many plain reasons
      : message(std::move(why)), invalid_config(invalid) {}
  std::string message;
  bool invalid_config = false;
};

// armd --handover-check FD: what the armd about to exec this program runs first. Reads the
// configuration at `config_path` and the state on `fd` as a resumed armd would, touching
// nothing; 0 when both are readable, otherwise 2 and why on stderr.
int check_handover(const std::string& config_path, int fd);

// Where a program named without '/' is looked for, as execvp looks in armd: $PATH, or glibc's
// default when it is unset. --check-config and a reload's check of the programs use it.
const char* program_search_path();

class Daemon final : public arm::Notifier, public LineHandler {
 public:
  // Sets everything up (nothing is started yet). Errors name what failed.
  // With `resumed` (live re-exec, issue 15): takes over the processes and descriptors the
  // previous armd of this process handed over, instead of starting afresh.
  static std::expected<std::unique_ptr<Daemon>, StartFailure> create(
      DaemonOptions options, arm::Config config, HandoverState* resumed = nullptr);
  ~Daemon() override;

  // After a re-exec, for its log line (DaemonOptions::ResumeTimings).
  void set_taken_over_ms(double ms) { options_.resume_timings.taken_over_ms = ms; }

  // Starts the default services and serves until shutdown has completed. Returns the exit code.
  int run();

  // arm::Notifier
  void reply(const arm::Reply& reply) override;
  void service_event(const arm::ServiceEvent& event) override;

  // LineHandler
  void on_connect(ConnectionId connection) override;
  void on_line(ConnectionId connection, std::string_view line) override;
  void on_line_too_long(ConnectionId connection) override;
  void on_disconnect(ConnectionId connection) override;
  bool awaiting_replies(ConnectionId connection) const override;

 private:
  Daemon(DaemonOptions options, arm::posix::UniqueFd signal_fd);
  void handle_signals();
  std::expected<void, std::string> set_up_containment(const std::string& setting);
  // False (and the client told why) when the connection has too many requests waiting already.
  bool defer(ConnectionId connection, arm::RequestRef ref, const nlohmann::json& id);
  nlohmann::json take_pending_id(arm::RequestRef request);
  void log_bad_request(ConnectionId connection, const std::string& message);
  void reload(std::optional<arm::RequestRef> from);
  void watch_own_files(const std::vector<std::string>& files);
  // Live re-exec (issue 15; daemon_reexec.cpp): hands everything over to a new armd of this
  // process, answered by that one; or, when it cannot, answers why and carries on untouched.
  void reexec(ConnectionId connection, const nlohmann::json& id);
  std::expected<void, std::string> refuse_reexec_unless_safe();
  void refuse_reexec(ConnectionId connection, const nlohmann::json& id, const std::string& why);
  // The check of the new program ran (its two poll entries): on success, the exec.
  void advance_reexec(const pollfd* entries);
  void exec_new_program(ConnectionId connection, const nlohmann::json& id);
  HandoverState handover_state(ConnectionId connection, const nlohmann::json& id) const;
  // After a re-exec: the new armd takes the previous one's processes and pipes.
  std::expected<void, std::string> adopt_processes(const HandoverState& state);
  void answer_reexec();
  struct Reexec {
    std::unique_ptr<ReexecCheck> check;  // the new program's check, while it runs
    // The client that asked: answered by this armd when the re-exec is refused, by the new armd
    // once it has taken over.
    std::optional<std::pair<ConnectionId, nlohmann::json>> client;
    std::string config_text;         // what refuse_reexec_unless_safe compared
    std::uint64_t reloads_seen = 0;  // reloads_applied_ when it was compared
    std::int64_t requested_at_ns = 0;
    std::int64_t unavailable_since_ns = 0;  // when the old armd stopped answering
    std::size_t processes = 0;              // taken over (the new armd)
    bool resumed = false;                   // this armd was created from a handover
  } reexec_;
  std::uint64_t reloads_applied_ = 0;
  std::string cgroup_directory_;  // the spawner's, in cgroup mode
  // The programs of running services that `next` changes to ones that cannot be executed.
  std::vector<arm::Error> programs_a_reload_would_lose(const arm::Config& next) const;
  // The reload itself; reload() tells the service manager around it.
  void apply_reload(std::optional<arm::RequestRef> from);
  // Shutdown begins: the service manager hears STOPPING=1, then the supervisor stops everything.
  void shut_down(std::optional<arm::RequestRef> from);
  void answer_status(ConnectionId connection, const nlohmann::json& id,
                     const std::vector<std::string>& names);
  // The statuses of `names`, for status and subscribe. When a name is unknown, answers
  // unknown_service to `connection` (every unknown name, with its guess) and returns nullopt.
  std::optional<std::vector<arm::ServiceStatus>> statuses_or_answer_unknown(
      ConnectionId connection, const nlohmann::json& id, const std::vector<std::string>& names);
  // For each of `names`, the lines its log files hold before its ring's, when the ring holds
  // fewer than `count` (after `since`) and nothing older than `since` (daemon_logs.cpp).
  std::vector<std::vector<FileLine>> older_lines_from_files(
      const std::vector<std::string>& names, const std::vector<std::vector<arm::OutputLine>>& kept,
      std::size_t count, std::optional<arm::WallTime> since);
  void answer_logs(ConnectionId connection, const nlohmann::json& id,
                   std::vector<std::string> names, std::size_t count, bool follow,
                   std::optional<arm::WallTime> since);
  // The event stream (daemon_events.cpp).
  void answer_subscribe(ConnectionId connection, const nlohmann::json& id,
                        std::vector<std::string> names);
  void answer_unsubscribe(ConnectionId connection, const nlohmann::json& id);
  // Output arrived on the services' pipes.
  void take_output(const arm::posix::OutputChunk& chunk);
  // A process was reaped: its output first, then the exit record's tail, then the supervisor.
  void on_exit(arm::ProcessId pid, arm::ExitStatus status);
  // Metrics (issue 13; daemon_metrics.cpp): the Prometheus text of this moment, and where the
  // HTTP listener listens (nullopt: there is none).
  std::string metrics_text() const;
  std::optional<arm::ListenAddress> listening_for_metrics() const;
  // A reload's new listener. Should armd's own listener hold the port (127.0.0.1:9321 moved to
  // 0.0.0.0:9321), it is closed for the new bind, and `released` names it; the refused reload
  // opens it again with restore_metrics_listener.
  std::expected<MetricsHttpServer, std::string> listen_for_metrics_reload(
      const arm::ListenAddress& wanted, std::optional<arm::ListenAddress>& released);
  void restore_metrics_listener(std::optional<arm::ListenAddress>& released);

  DaemonOptions options_;
  arm::posix::UniqueFd signal_fd_;
  // The service manager that started armd, if any ($NOTIFY_SOCKET): told READY=1, RELOADING=1
  // and STOPPING=1 (service_manager.hpp says when).
  ServiceManager service_manager_;
  arm::posix::SteadyClock clock_;
  arm::posix::SystemRandom random_;
  // Before the spawner, which holds a pointer to it: destroyed after it.
  std::unique_ptr<arm::posix::OutputPipes> output_pipes_;
  std::optional<Readiness> readiness_;  // the same: SpawnerOptions::notify points into it
  std::unique_ptr<arm::posix::PosixSpawner> spawner_;
  std::unique_ptr<arm::posix::InotifyWatcher> watcher_;
  // The files of armd's own configuration it reloads on a change of (DaemonOptions::
  // config_files), watched through watcher_; and the one that changed since the last turn.
  std::set<std::string> own_files_;
  std::optional<std::string> own_file_changed_;
  std::optional<ControlServer> server_;
  // Raised for armd at start-up; the services get what armd was started with.
  DescriptorLimits descriptor_limits_;
  std::string containment_note_;  // for the log: the mode, and where or why
  bool reap_adopted_ = false;     // a SIGCHLD came: reap the children the spawner did not spawn
  std::optional<HealthProbes> health_;  // before the supervisor, which starts probes with it
  // The services' listening sockets (issue 14); before the supervisor, which holds them with it.
  std::unique_ptr<arm::posix::PosixListeners> listeners_;
  std::unique_ptr<arm::ServiceSupervisor> supervisor_;

  // Requests waiting for the supervisor's answer: the JSON id the client chose, by
  // (connection, our request number), so a connection's entries go with it.
  std::map<std::pair<ConnectionId, std::uint64_t>, nlohmann::json> pending_ids_;
  std::uint64_t next_request_ = 1;
  protocol::Request reused_request_;  // decoded into by on_line, see there
  struct Client {
    std::size_t pending = 0;       // its entries in pending_ids_
    std::size_t bad_requests = 0;  // only the first few are logged
  };
  std::unordered_map<ConnectionId, Client> clients_;

  // Services' output (issue 12): the rings, the clients following them, and each service's last
  // lines before its last exit, which status shows under last_exit. The supervisor has no part
  // in it: output is not a state of the service, and its exit record stays as it was.
  ServiceOutputs outputs_;
  LogFollowers followers_;
  LogFiles log_files_;
  SlowedServices slowed_;  // services whose log file blocks: their pipes are not read
  protocol::OutputTails exit_tails_;
  // Clients of the event stream (issue 13).
  EventSubscribers subscribers_;

  // Metrics (issue 13): the HTTP listener when `[arm] metrics_listen` is set, and what armd
  // counts for arm_requests_total and arm_events_total.
  std::optional<MetricsHttpServer> metrics_http_;
  std::uint64_t requests_received_ = 0;
  std::uint64_t events_handled_ = 0;

  // `status NAME`, the most frequent request (daemon_status.cpp): the status is read into this
  // one, whose strings and vectors keep their storage from request to request, and the reply
  // is written straight into the connection's output.
  void answer_status_of_one(ConnectionId connection, const nlohmann::json& id,
                            const std::string& name);
  arm::ServiceStatus status_of_one_;
};

}  // namespace armd
