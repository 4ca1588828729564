// Live re-exec (issue 15): armd execs a new binary of itself without stopping or restarting any
// service. The services stay children of this process (exec keeps the pid), and
// PR_SET_PDEATHSIG follows the thread that spawned them, which an exec does not end; what armd
// knows is written to a memfd, and the descriptors that must stay open (control socket, notify
// socket, listening sockets, output and readiness pipes, the asking client's connection) lose
// their close-on-exec flag. Before the exec, the new binary is tried on the very state
// (--handover-check): one that cannot read it, or the configuration, is never exec'd, and armd
// answers why and carries on untouched.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "daemon.hpp"
#include "log.hpp"
#include "protocol/protocol.hpp"
#include "reexec_check.hpp"

extern char** environ;

namespace armd {

namespace {

constexpr std::string_view handover_option = "--handover-fd";

std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string errno_text() {
  return std::strerror(errno);
}

// The check's supervisor must not act: resume promises no spawn or signal, and these would
// refuse one anyway.
class InertSpawner final : public arm::Spawner {
 public:
  std::expected<arm::ProcessId, arm::SpawnError> spawn(const arm::SpawnRequest&) override {
    return std::unexpected(arm::Error::system(EPERM, "a handover check spawns nothing"));
  }
  void signal_group(arm::ProcessId, arm::StopSignal) override {}
  void signal_process(arm::ProcessId, arm::ReloadSignal) override {}
};

class SilentNotifier final : public arm::Notifier {
 public:
  void reply(const arm::Reply&) override {}
  void service_event(const arm::ServiceEvent&) override {}
};

}  // namespace

int check_handover(const std::string& config_path, int fd) {
  constexpr int cannot = 2;
  auto text = read_whole(fd);
  if (!text) {
    fmt::print(stderr, "{}\n", text.error());
    return cannot;
  }
  auto state = decode_handover(*text);
  if (!state) {
    fmt::print(stderr, "{}\n", state.error());
    return cannot;
  }
  auto config = arm::parse_config_file_text(state->config_text, config_path);
  if (!config) {
    fmt::print(stderr, "{}\n", config.error().to_string());
    return cannot;
  }
  arm::posix::SteadyClock clock;
  InertSpawner spawner;
  SilentNotifier notifier;
  auto supervisor = arm::ServiceSupervisor::resume(state->supervisor, std::move(*config), clock,
                                                   spawner, notifier);
  if (!supervisor) {
    for (const auto& error : supervisor.error()) fmt::print(stderr, "{}\n", error.to_string());
    return cannot;
  }
  return 0;
}

std::expected<void, std::string> Daemon::refuse_reexec_unless_safe() {
  if (supervisor_->shutting_down()) return std::unexpected(std::string("armd is shutting down"));
  if (options_.binary.empty())
    return std::unexpected(std::string("armd does not know the path of its own program"));
  // The new armd would have to be handed the defaults and every @INLINE@d file as they were read
  // here, not one file's text: not done (issue 17), so refused rather than resumed on settings
  // read anew.
  if (options_.config_source.format == ConfigFormat::gnunet)
    return std::unexpected(fmt::format(
        "re-exec is not supported with a GNUnet configuration ({}); restart armd instead",
        options_.config_path));
  // The new armd parses the file's text as read here: it must say what this one runs, or the
  // services would run under settings nobody applied.
  auto text = arm::read_config_file_text(options_.config_path);
  if (!text)
    return std::unexpected(fmt::format("{} no longer loads ({}); fix it, reload, then re-exec",
                                       options_.config_path, text.error().to_string()));
  auto on_disk = arm::parse_config_file_text(*text, options_.config_path);
  if (!on_disk)
    return std::unexpected(fmt::format("{} no longer loads ({}); fix it, reload, then re-exec",
                                       options_.config_path, on_disk.error().to_string()));
  if (*on_disk != supervisor_->config())
    return std::unexpected(
        fmt::format("{} changed since armd loaded it; reload first (armctl reload), then re-exec",
                    options_.config_path));
  reexec_.config_text = std::move(*text);
  reexec_.reloads_seen = reloads_applied_;
  return {};
}

HandoverState Daemon::handover_state(ConnectionId connection, const nlohmann::json& id) const {
  HandoverState state;
  state.supervisor = supervisor_->handover();
  state.config_path = options_.config_path;
  state.config_text = reexec_.config_text;
  state.socket_path = options_.socket_path;
  if (spawner_->containment() == arm::posix::Containment::cgroup) state.cgroup = cgroup_directory_;
  state.control_lock_fd = server_->lock_fd();
  state.control_listen_fd = server_->listen_fd();
  state.notify_fd = readiness_->socket() ? readiness_->socket()->socket_fd() : -1;
  for (auto& child : spawner_->adoptable_children())
    state.children.push_back({child.pid, std::move(child.cgroup)});
  output_pipes_->for_each_open_pipe([&](arm::ProcessId pid, const std::string& service,
                                        arm::OutputStream stream, int fd) {
    state.output_pipes.push_back({pid, service, stream == arm::OutputStream::standard_error, fd});
  });
  if (readiness_->socket())
    readiness_->socket()->for_each_readiness_pipe([&](arm::ProcessId pid, int fd) {
      state.readiness_pipes.push_back({pid, fd});
    });
  listeners_->for_each_socket([&](const std::string& address, int fd) {
    state.listeners.push_back({address, fd});
  });
  state.reply_fd = server_->connection_fd(connection);
  state.reply_id = id;
  state.requested_at_ns = reexec_.requested_at_ns;
  state.unavailable_since_ns = reexec_.unavailable_since_ns;
  return state;
}

void Daemon::refuse_reexec(ConnectionId connection, const nlohmann::json& id,
                           const std::string& why) {
  log(Level::error, "re-exec refused, armd runs on: {}", why);
  server_->send(connection, protocol::encode_error(id, "reexec_failed", why));
}

void Daemon::reexec(ConnectionId connection, const nlohmann::json& id) {
  if (reexec_.check)
    return refuse_reexec(connection, id, "a re-exec is being checked already; wait for its answer");
  reexec_.requested_at_ns = monotonic_ns();
  if (auto safe = refuse_reexec_unless_safe(); !safe)
    return refuse_reexec(connection, id, safe.error());
  // The check reads this state; the exec, once it passed, a fresh one (the services went on
  // meanwhile), in the same format.
  auto memfd = write_handover(handover_state(connection, id));
  if (!memfd) return refuse_reexec(connection, id, memfd.error());
  auto check = ReexecCheck::start(options_.binary, options_.config_path, memfd->get());
  if (!check) return refuse_reexec(connection, id, check.error());
  reexec_.check = std::move(*check);
  reexec_.client.emplace(connection, id);
  log(Level::info, "re-exec: {} reads the state (pid {}); armd answers meanwhile", options_.binary,
      reexec_.check->pid());
}

void Daemon::advance_reexec(const pollfd* entries) {
  auto verdict = reexec_.check->advance(entries);
  if (!verdict) return;
  reexec_.check.reset();
  auto [connection, id] = std::move(*reexec_.client);
  reexec_.client.reset();
  if (!*verdict) return refuse_reexec(connection, id, verdict->error());
  exec_new_program(connection, id);
}

void Daemon::exec_new_program(ConnectionId connection, const nlohmann::json& id) {
  std::int64_t checked_at = monotonic_ns();
  if (supervisor_->shutting_down())
    return refuse_reexec(connection, id, "armd began shutting down during the check");
  if (reloads_applied_ != reexec_.reloads_seen)
    return refuse_reexec(connection, id,
                         "a reload was applied during the check; send reexec again");
  // The new armd answers this connection the re-exec alone: it knows nothing else of it.
  auto client = clients_.find(connection);
  if ((client != clients_.end() && client->second.pending > 0) ||
      subscribers_.subscribed(connection) || followers_.following(connection))
    return refuse_reexec(connection, id,
                         "this connection waits for other answers (or follows events or logs); "
                         "send reexec on a connection of its own");
  // From here on armd answers no one until the new armd does.
  reexec_.unavailable_since_ns = checked_at;
  // Replies queued for other clients go out first; the rest of their requests go on without
  // them (as when a client disconnects).
  server_->flush_all(100);
  // A stop begun this turn has signalled its main process only; the rest of its cgroup gets its
  // signal now, not from the new armd (the handover does not carry it).
  spawner_->send_due_signals();
  HandoverState state = handover_state(connection, id);
  auto memfd = write_handover(state);
  if (!memfd) return refuse_reexec(connection, id, memfd.error());
  log(Level::info,
      "re-executing {}; {} services, {} processes carry on (checked in {:.1f} ms; state of {} "
      "bytes written in {:.1f} ms)",
      options_.binary, supervisor_->service_count(), state.children.size(),
      static_cast<double>(checked_at - reexec_.requested_at_ns) / 1e6, state.supervisor.size(),
      static_cast<double>(monotonic_ns() - checked_at) / 1e6);
  service_manager_.reloading();
  log_files_.flush();
  flush_log_at_exit(std::chrono::seconds(1));
  // Probes are the one kind of child the new armd would not know: they end here, unreported
  // (the new supervisor runs those it was waiting for again).
  health_->end_all();
  std::vector<int> kept = state.descriptors();
  kept.push_back(memfd->get());
  for (int fd : kept) ::fcntl(fd, F_SETFD, 0);

  std::vector<std::string> words{options_.binary};
  for (std::size_t i = 1; i < options_.command_line.size(); ++i) {
    if (options_.command_line[i] == handover_option) {
      ++i;  // and its value
      continue;
    }
    if (options_.command_line[i].starts_with(std::string(handover_option) + "=")) continue;
    words.push_back(options_.command_line[i]);
  }
  words.emplace_back(handover_option);
  words.push_back(std::to_string(memfd->get()));
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  // armd's signals stay blocked across exec (they come through its signalfd): one that comes
  // meanwhile waits, and the new armd's signalfd reads it (reset_inherited_signals).
  ::execve(options_.binary.c_str(), argv.data(), environ);

  // Still here: nothing was handed over. Everything is as it was but the probes that were in
  // flight: they run again.
  std::string why = fmt::format("exec {}: {}", options_.binary, errno_text());
  for (int fd : kept) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  supervisor_->rerun_probes_in_flight();
  service_manager_.ready(fmt::format("listening on {}; {} services configured",
                                     options_.socket_path, supervisor_->service_count()));
  refuse_reexec(connection, id, why);
}

std::expected<void, std::string> Daemon::adopt_processes(const HandoverState& state) {
  for (const auto& child : state.children) {
    if (auto adopted = spawner_->adopt({child.pid, child.cgroup}); !adopted)
      return std::unexpected(adopted.error().message);
  }
  for (const auto& pipe : state.output_pipes) {
    auto stream = pipe.standard_error ? arm::OutputStream::standard_error
                                      : arm::OutputStream::standard_output;
    if (auto added =
            output_pipes_->add(pipe.pid, pipe.service, stream, arm::posix::UniqueFd(pipe.fd));
        !added)
      return std::unexpected(added.error().message);
  }
  for (const auto& pipe : state.readiness_pipes) {
    if (!readiness_->socket()) {
      ::close(pipe.fd);
      continue;
    }
    if (auto added =
            readiness_->socket()->add_readiness_pipe(pipe.pid, arm::posix::UniqueFd(pipe.fd));
        !added)
      return std::unexpected(added.error().message);
  }
  reexec_.resumed = true;
  // A SIGCHLD of an orphan that exited during the exec may have come before the signalfd: look
  // for adopted children to reap at the first turn anyway.
  reap_adopted_ = true;
  if (state.reply_fd >= 0) {
    ConnectionId connection = server_->adopt_connection(arm::posix::UniqueFd(state.reply_fd));
    clients_.emplace(connection, Client{});
    reexec_.client.emplace(connection, state.reply_id);
  }
  reexec_.requested_at_ns = state.requested_at_ns;
  reexec_.unavailable_since_ns = state.unavailable_since_ns;
  reexec_.processes = state.children.size();
  return {};
}

void Daemon::answer_reexec() {
  std::int64_t now = monotonic_ns();
  double took_ms = static_cast<double>(now - reexec_.requested_at_ns) / 1e6;
  double unavailable_ms = static_cast<double>(now - reexec_.unavailable_since_ns) / 1e6;
  log(Level::info,
      "re-executed {}: took over {} services and {} processes; armd did not answer for {:.1f} ms "
      "(the new program ran {:.1f} ms after that began, read the configuration in {:.1f} ms, "
      "took over in {:.1f} ms)",
      options_.binary, supervisor_->service_count(), reexec_.processes, unavailable_ms,
      options_.resume_timings.started_ms, options_.resume_timings.configured_ms,
      options_.resume_timings.taken_over_ms);
  if (reexec_.client) {
    server_->send(reexec_.client->first,
                  protocol::encode_reexec(reexec_.client->second, options_.binary,
                                          supervisor_->service_count(), reexec_.processes,
                                          unavailable_ms, took_ms));
    reexec_.client.reset();
  }
}

}  // namespace armd
