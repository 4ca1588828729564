#include "daemon.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include <fmt/ranges.h>

#include "config_change_log.hpp"
#include "log.hpp"
#include "protocol/log_lines.hpp"
#include "protocol/protocol.hpp"

namespace armd {

namespace {

// A client sending garbage in a loop would fill the log: its first few bad requests are logged,
// the rest counted and summed up when it disconnects.
constexpr std::size_t logged_bad_requests_per_client = 5;

// A status reply this large (some thousand services) is followed by a malloc_trim.
constexpr std::size_t large_reply_bytes = 256 * 1024;

// Milliseconds until `deadline`, rounded up so we never wake before it is due.
int poll_timeout(std::optional<arm::TimePoint> deadline, arm::TimePoint now) {
  if (!deadline) return -1;
  if (*deadline <= now) return 0;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now).count();
  return static_cast<int>(std::min<long long>(wait, 24LL * 3600 * 1000));
}

// The signals armd handles in its loop, through a signalfd: blocked from the start.
const sigset_t& handled_signals() {
  static const sigset_t handled = [] {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set, signal);
    return set;
  }();
  return handled;
}

// What armd inherited is not what it needs: a SIGCHLD set to SIG_IGN makes the kernel reap
// every child at once (each exit would read as "status lost"), a blocked signal would never
// arrive. Dispositions set to SIG_IGN go back to the default (handlers do not survive exec; the
// only ones here are those of a sanitizer's runtime, which stay), and nothing stays blocked but
// the signals armd reads from its signalfd: after a re-exec one of them may be pending (a SIGHUP
// or SIGTERM sent during it, a SIGCHLD of an orphan), and unblocked it would act by default,
// killing armd and its services, or be lost.
void reset_inherited_signals() {
  for (int signal = 1; signal < NSIG; ++signal) {
    struct sigaction current {};
    if (signal == SIGKILL || signal == SIGSTOP || ::sigaction(signal, nullptr, &current) != 0)
      continue;
    if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) {
      struct sigaction default_action {};
      default_action.sa_handler = SIG_DFL;
      ::sigaction(signal, &default_action, nullptr);
    }
  }
  ::sigprocmask(SIG_SETMASK, &handled_signals(), nullptr);
}

// The cgroup of this armd's services: one per socket path, so a restarted armd finds what its
// SIGKILLed predecessor left there, and only that. The socket's file name keeps it readable.
std::string instance_cgroup_name(const std::string& socket_path) {
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a
  for (unsigned char c : socket_path) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  std::string base = socket_path.substr(socket_path.find_last_of('/') + 1);
  for (char& c : base) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
    if (!plain) c = '_';
  }
  return fmt::format("armd.{}.{:08x}", base, static_cast<std::uint32_t>(hash));
}

// A service's line as armd's log shows it: the log is read on terminals and by line-based
// shippers, so a control byte (ESC, CR, NUL...) is written \xNN, as are the bytes of a line that
// is not UTF-8; no service can garble or forge armd's own lines (armctl logs has the bytes).
// Only the first `most` bytes are shown (a UTF-8 character cut there stays as its bytes).
std::string loggable(std::string_view text, std::size_t most) {
  bool utf8 = protocol::valid_utf8(text);
  std::string out;
  for (unsigned char c : text.substr(0, most)) {
    if ((c >= 0x20 && c < 0x7f) || c == '\t' || (c >= 0x80 && utf8))
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}
}  // namespace

std::expected<std::unique_ptr<Daemon>, StartFailure> Daemon::create(DaemonOptions options,
                                                                    arm::Config config,
                                                                    HandoverState* resumed) {
  reset_inherited_signals();
  std::unique_ptr<Daemon> daemon(new Daemon(std::move(options), arm::posix::UniqueFd()));
  // Before anything is opened: ten thousand services need tens of thousands of descriptors.
  daemon->descriptor_limits_ = raise_descriptor_limit();
  // No descriptor armd was given survives an exec of it: what a re-exec keeps is closed on the
  // next one again, and what armd inherited at its start (a shell's or a service manager's
  // leftovers) does not ride along into the new program either. (Children never see them: the
  // spawner closes all but 0-2 in each child.) Every descriptor from 3 up, in one call
  // (thousands of fcntl calls cost milliseconds while armd answers no one); one by one for the
  // handed-over ones where the kernel is older than 5.11.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0 && resumed)
    for (int fd : resumed->descriptors()) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  // The socket first: another armd there is the error to report, before anything else is
  // touched (its services' cgroups least of all).
  if (resumed) {
    daemon->server_.emplace(ControlServer::adopt(arm::posix::UniqueFd(resumed->control_lock_fd),
                                                 arm::posix::UniqueFd(resumed->control_listen_fd),
                                                 daemon->options_.socket_path,
                                                 protocol::max_request_line, *daemon));
  } else {
    auto server =
        ControlServer::listen(daemon->options_.socket_path, protocol::max_request_line, *daemon);
    if (!server) return std::unexpected(server.error());
    daemon->server_.emplace(std::move(*server));
  }
  if (const auto& address = config.arm.metrics_listen) {
    auto metrics = MetricsHttpServer::listen(*address);
    if (!metrics) return std::unexpected(metrics.error());
    daemon->metrics_http_.emplace(std::move(*metrics));
  }
  auto pipes = arm::posix::OutputPipes::create();
  if (!pipes) return std::unexpected(pipes.error().message);
  daemon->output_pipes_ = std::move(*pipes);
  auto readiness = resumed ? Readiness::adopt(daemon->options_.socket_path, resumed->notify_fd)
                           : Readiness::create(daemon->options_.socket_path);
  if (!readiness) return std::unexpected(readiness.error());
  daemon->readiness_.emplace(std::move(*readiness));
  daemon->outputs_.configure(ServiceOutputs::sizes_of(config));
  daemon->log_files_.configure(LogFiles::settings_of(config));
  // Resumed, the containment is the previous armd's, whatever [arm].cgroup would choose now.
  // (The handover names the spawner's directory; set_up_containment takes its parent.)
  std::string containment = !resumed ? config.arm.cgroup
                            : resumed->cgroup.empty()
                                ? std::string("off")
                                : resumed->cgroup.substr(0, resumed->cgroup.find_last_of('/'));
  if (auto contained = daemon->set_up_containment(containment); !contained)
    return std::unexpected(contained.error());

  // SIGTERM, SIGINT, SIGHUP and SIGCHLD arrive through a signalfd and are handled in the loop,
  // like any other event. Children get a clean mask back from the spawner.
  // (Blocked since reset_inherited_signals.)
  ::signal(SIGPIPE, SIG_IGN);
  daemon->signal_fd_.reset(::signalfd(-1, &handled_signals(), SFD_CLOEXEC | SFD_NONBLOCK));
  if (!daemon->signal_fd_)
    return std::unexpected(fmt::format("signalfd: {}", std::strerror(errno)));

  auto watcher = arm::posix::InotifyWatcher::create();
  if (!watcher) return std::unexpected(watcher.error().message);
  daemon->watcher_ = std::move(*watcher);
  daemon->watch_own_files(daemon->options_.config_files);
  auto health = HealthProbes::create(daemon->descriptor_limits_.for_children());
  if (!health) return std::unexpected(health.error());
  daemon->health_.emplace(std::move(*health));
  auto listeners = arm::posix::PosixListeners::create();
  if (!listeners) return std::unexpected(listeners.error().message);
  daemon->listeners_ = std::move(*listeners);
  if (resumed) {
    // Open before the supervisor holds them: it finds them open, and binds nothing.
    for (const auto& listener : resumed->listeners) {
      if (auto adopted =
              daemon->listeners_->adopt(listener.address, arm::posix::UniqueFd(listener.fd));
          !adopted)
        return std::unexpected(adopted.error().message);
    }
  }
  // The services' sockets are bound here: one that cannot be is a configuration error.
  auto supervisor =
      resumed ? arm::ServiceSupervisor::resume(resumed->supervisor, std::move(config),
                                               daemon->clock_, *daemon->spawner_, *daemon,
                                               daemon->watcher_.get(), &daemon->random_,
                                               daemon->health_->prober(), daemon->listeners_.get())
              : arm::ServiceSupervisor::create(std::move(config), daemon->clock_, *daemon->spawner_,
                                               *daemon, daemon->watcher_.get(), &daemon->random_,
                                               daemon->health_->prober(), daemon->listeners_.get());
  if (!supervisor) {
    arm::locate_in_file(daemon->options_.config_path, supervisor.error());
    std::string text;
    for (const auto& error : supervisor.error())
      text += (text.empty() ? "" : "\n") + error.to_string();
    return std::unexpected(StartFailure{std::move(text), true});
  }
  daemon->supervisor_ = std::move(*supervisor);
  if (resumed) {
    if (auto adopted = daemon->adopt_processes(*resumed); !adopted)
      return std::unexpected(adopted.error());
  }
  return daemon;
}

Daemon::Daemon(DaemonOptions options, arm::posix::UniqueFd signal_fd)
    : options_(std::move(options)),
      signal_fd_(std::move(signal_fd)),
      service_manager_(ServiceManager::from_environment()) {}

// Cgroup mode where armd may make cgroups (`[arm] cgroup`: "auto" tries its own cgroup, a path
// must work); process groups otherwise, with armd as the subreaper of what they orphan.
std::expected<void, std::string> Daemon::set_up_containment(const std::string& setting) {
  std::string why_not;
  if (setting != "off") {
    auto parent = setting == "auto" ? arm::posix::own_cgroup_directory()
                                    : std::expected<std::string, arm::Error>(setting);
    if (parent) {
      // The same socket however it was spelled (relative, through a symlink): one directory.
      std::error_code ignored;
      auto socket = std::filesystem::weakly_canonical(
          std::filesystem::absolute(options_.socket_path, ignored), ignored);
      std::string directory = *parent + "/" + instance_cgroup_name(socket.string());
      // armd's only thread spawns every child, so its services can die with it.
      auto spawner =
          arm::posix::PosixSpawner::create({.kill_children_if_host_dies = true,
                                            .cgroup = directory,
                                            .output_pipes = output_pipes_.get(),
                                            .child_nofile = descriptor_limits_.for_children(),
                                            .notify = readiness_->socket()});
      if (spawner) {
        spawner_ = std::move(*spawner);
        containment_note_ = fmt::format("cgroup {}", directory);
        cgroup_directory_ = directory;
      } else if (setting != "auto" || spawner.error().error_number == EWOULDBLOCK) {
        return std::unexpected(
            fmt::format("[arm] cgroup = {}: {}", setting, spawner.error().message));
      } else {
        why_not = spawner.error().message;
      }
    } else {
      why_not = parent.error().message;
    }
  } else {
    why_not = "[arm] cgroup = \"off\"";
  }
  if (!spawner_) {
    auto spawner =
        arm::posix::PosixSpawner::create({.kill_children_if_host_dies = true,
                                          .cgroup = {},
                                          .output_pipes = output_pipes_.get(),
                                          .child_nofile = descriptor_limits_.for_children(),
                                          .notify = readiness_->socket()});
    if (!spawner) return std::unexpected(spawner.error().message);
    spawner_ = std::move(*spawner);
    containment_note_ = fmt::format(
        "process groups ({}); a process that leaves its group is not stopped with its service",
        why_not);
    // Orphans of the services come to armd rather than to init (armd reaps every child it did
    // not spawn: see run()).
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  if (options_.init || ::getpid() == 1) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  return {};
}

// The supervisor holds references to the spawner, the watcher and this Daemon (its notifier,
// which answers through the server): it goes first, whatever the members' order.
Daemon::~Daemon() {
  supervisor_.reset();
  server_.reset();
}

int Daemon::run() {
  log(Level::info, "listening on {}; {} services configured", options_.socket_path,
      supervisor_->service_count());
  log(Level::info, "containment: {}", containment_note_);
  if (descriptor_limits_.raised()) log(Level::info, "{}", descriptor_limits_.describe());
  if (metrics_http_)
    log(Level::info, "serving metrics on http://{}/metrics", metrics_http_->address());
  // Only now, holding the socket: what a SIGKILLed armd of this socket left running goes
  // before anything starts, so no service runs twice.
  // (Not after a re-exec: what the cgroups hold is this armd's own, taken over.)
  if (reexec_.resumed) {
    answer_reexec();
  } else {
    if (auto left = spawner_->kill_leftovers(); !left.empty())
      log(Level::warning, "killed what a previous armd left running in {} cgroup(s): {}",
          left.size(), fmt::join(left, ", "));
    supervisor_->start_default_services();
  }
  // Ready once the boot services' starts are issued, not once they run (service_manager.hpp).
  service_manager_.ready(fmt::format("listening on {}; {} services configured",
                                     options_.socket_path, supervisor_->service_count()));
  // Reading the configuration built a TOML tree several times the size of what is kept; hand
  // the freed pages back instead of holding them for armd's whole life.
  malloc_trim(0);

  std::vector<pollfd> fds;
  while (!supervisor_->finished()) {
    // Before every wait, never after it: the start-up lines are out before the first event,
    // and what a turn logged is out before the next wait, whatever woke it. What stderr does not
    // take now waits in the log's bounded buffer (log.hpp), polled below.
    flush_log();
    fds.clear();
    fds.push_back({signal_fd_.get(), POLLIN, 0});
    fds.push_back({spawner_->exit_fd(), POLLIN, 0});
    fds.push_back({watcher_->fd(), POLLIN, 0});
    // The log's output, while lines wait for it (-1, ignored, otherwise): flush_log() at the
    // top of the loop writes them when it wakes us.
    fds.push_back({log_poll_fd(), POLLOUT, 0});
    fds.push_back({output_pipes_->fd(), POLLIN, 0});
    fds.push_back({readiness_->fd(), POLLIN, 0});
    fds.push_back({health_->fd(), POLLIN, 0});
    fds.push_back({listeners_->fd(), POLLIN, 0});
    // A re-exec's check of the new program (two entries, ignored while there is none).
    std::size_t reexec_entries = fds.size();
    if (reexec_.check) {
      reexec_.check->add_poll_fds(fds);
    } else {
      fds.push_back({-1, 0, 0});
      fds.push_back({-1, 0, 0});
    }
    server_->add_poll_fds(fds);
    if (metrics_http_) metrics_http_->add_poll_fds(fds, clock_.now());
    slowed_.add_poll_fds(log_files_, fds);  // last: nothing reads their revents, they only wake
    int timeout = poll_timeout(supervisor_->next_deadline(), clock_.now());
    if (reexec_.check) {
      int check_timeout = poll_timeout(reexec_.check->deadline(), clock_.now());
      timeout = timeout < 0 ? check_timeout : std::min(timeout, check_timeout);
    }
    if (auto wakeup = server_->next_wakeup()) {
      int server_timeout = poll_timeout(*wakeup, clock_.now());
      timeout = timeout < 0 ? server_timeout : std::min(timeout, server_timeout);
    }
    // Only while a metrics connection is open: an idle listener asks for no wake-up.
    if (auto wakeup = metrics_http_ ? metrics_http_->next_wakeup() : std::nullopt) {
      int metrics_timeout = poll_timeout(*wakeup, clock_.now());
      timeout = timeout < 0 ? metrics_timeout : std::min(timeout, metrics_timeout);
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
      log(Level::error, "poll: {}", std::strerror(errno));
      flush_log_at_exit(std::chrono::seconds(1));
      return 1;
    }
    if (fds[0].revents & POLLIN) handle_signals();
    // Output before exits: what a process wrote is stored before its exit is reported.
    if (fds[4].revents & POLLIN)
      output_pipes_->collect([&](const arm::posix::OutputChunk& chunk) { take_output(chunk); });
    // Readiness before exits: a READY=1 sent just before exiting still counts.
    if (fds[5].revents & POLLIN) readiness_->collect(*spawner_, *supervisor_);
    if (fds[1].revents & POLLIN) {
      spawner_->collect_exits(
          [&](arm::ProcessId pid, arm::ExitStatus status) { on_exit(pid, status); },
          [&](arm::ProcessId pid, arm::ExitStatus status) {
            supervisor_->on_main_exit(pid, status);
          });
    }
    // armd spawns nothing but services, so any other child is one it adopted (as subreaper or
    // PID 1) or one a service made with CLONE_PARENT: it reaps them, so no zombie piles up.
    if (reap_adopted_) {
      reap_adopted_ = false;
      spawner_->reap_adopted([&](arm::ProcessId pid) {
        return health_->owns_process(pid) || (reexec_.check && reexec_.check->pid() == pid);
      });
    }
    if (fds[6].revents & POLLIN) health_->collect(*supervisor_);
    if (fds[7].revents & POLLIN)
      listeners_->collect(
          [&](std::string_view service) { supervisor_->on_socket_activity(service); });
    if (fds[2].revents & POLLIN) {
      watcher_->collect_changes([&](const arm::WatchedFile& file) {
        if (file.section.empty() && own_files_.contains(file.path)) own_file_changed_ = file.path;
        supervisor_->on_file_changed(file);
      });
    }
    if (own_file_changed_) {
      log(Level::info, "{} changed: reloading the configuration", *own_file_changed_);
      own_file_changed_.reset();
      reload(std::nullopt);
    }
    // Before the connections are read: on success it execs, and a request not read yet is read
    // by the new armd.
    if (reexec_.check) advance_reexec(&fds[reexec_entries]);
    server_->handle_poll(fds);
    if (metrics_http_) metrics_http_->handle_poll(fds, [&] { return metrics_text(); });
    // Every turn, not only when output came: a follower's queue may have drained.
    if (!followers_.empty()) followers_.send_news(*server_, outputs_);
    if (!subscribers_.empty()) subscribers_.send_pending(*server_);
    supervisor_->on_timer();
    log_files_.flush();  // captured lines on disk before armd waits
    slowed_.update(log_files_, *output_pipes_);
  }
  subscribers_.send_all(*server_);
  server_->flush_all(1000);
  log(Level::info, "every service is stopped; exiting");
  flush_log_at_exit(std::chrono::seconds(1));
  return 0;
}

void Daemon::take_output(const arm::posix::OutputChunk& chunk) {
  LogFiles::Writer file = log_files_.writer(chunk.service);  // once per read, not per line
  outputs_.take(chunk, std::chrono::system_clock::now(),
                [&file](const arm::OutputLineView& line) { file.write(line); });
}

void Daemon::on_exit(arm::ProcessId pid, arm::ExitStatus status) {
  std::string service =
      output_pipes_->drain(pid, [&](const arm::posix::OutputChunk& chunk) { take_output(chunk); });
  if (!service.empty()) {
    // The exit record's tail; and when the exit was not asked for, the crash's log line says
    // what the service said last.
    auto tail = outputs_.exit_tail(service);
    auto before = supervisor_->status(service);
    if (before && before->state == arm::ServiceState::running && !status.clean() && !tail.empty()) {
      log_service(Level::warning, service,
                  "exited ({}); its last {} line{} of output:", arm::describe(status), tail.size(),
                  tail.size() == 1 ? "" : "s");
      // armd's log is bounded (log.hpp): a long line is shown cut, saying how much is left out
      // (armctl logs has all of it).
      constexpr std::size_t shown = 512;
      for (const auto& line : tail) {
        if (line.text.size() <= shown)
          log_service(Level::warning, service, "| {}", loggable(line.text, shown));
        else
          log_service(Level::warning, service, "| {}... ({} more bytes)",
                      loggable(line.text, shown), line.text.size() - shown);
      }
    }
    exit_tails_[service] = std::move(tail);
  }
  readiness_->forget(pid);
  supervisor_->on_child_exit(pid, status);
}

void Daemon::handle_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    switch (info.ssi_signo) {
      case SIGTERM:
      case SIGINT:
        log(Level::info, "received {}; stopping every service",
            info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        shut_down(std::nullopt);
        break;
      case SIGHUP:
        log(Level::info, "received SIGHUP; reloading {}", options_.config_path);
        reload(std::nullopt);
        break;
      case SIGCHLD:
        reap_adopted_ = true;  // after the spawner has collected its own
        break;
      default:
        break;
    }
  }
}

// --- replies from the supervisor ---------------------------------------------------------------

void Daemon::reply(const arm::Reply& reply) {
  nlohmann::json id = take_pending_id(reply.to);
  auto connection = static_cast<ConnectionId>(reply.to.client);
  server_->send(connection, protocol::encode_reply(id, reply));
  // After shutdown the connection closes: a client waiting for EOF knows armd is done.
  if (reply.outcome == arm::Outcome::shutdown_complete) server_->close_after_flush(connection);
}

void Daemon::service_event(const arm::ServiceEvent& event) {
  ++events_handled_;  // for arm_events_total
  if (!subscribers_.empty())
    subscribers_.on_service_event(event, *supervisor_, clock_.now(), exit_tails_, *server_);
  if (event.health) return log_health_change(event);
  if (is_rejected_change(event)) return log_rejected_change(event);
  if (event.state == arm::ServiceState::starting) return;  // the running/failed line follows
  Level level = event.state == arm::ServiceState::failed    ? Level::error
                : event.state == arm::ServiceState::backoff ? Level::warning
                                                            : Level::info;
  if (event.detail.empty()) {
    log_service(level, event.service, "{}", arm::to_string(event.state));
  } else {
    log_service(level, event.service, "{} ({})", arm::to_string(event.state), event.detail);
  }
}

bool Daemon::defer(ConnectionId connection, arm::RequestRef ref, const nlohmann::json& id) {
  Client& client = clients_[connection];
  if (client.pending >= protocol::max_pending_requests) {
    server_->send(connection,
                  protocol::encode_error(
                      id, "too_many_requests",
                      fmt::format("{} requests of this connection are waiting for their answer "
                                  "already; wait for some before sending more",
                                  protocol::max_pending_requests)));
    return false;
  }
  ++client.pending;
  pending_ids_.emplace(std::pair(connection, ref.request), id);
  return true;
}

nlohmann::json Daemon::take_pending_id(arm::RequestRef request) {
  auto pending = pending_ids_.find({request.client, request.request});
  if (pending == pending_ids_.end()) return nullptr;
  nlohmann::json id = std::move(pending->second);
  pending_ids_.erase(pending);
  if (auto client = clients_.find(request.client);
      client != clients_.end() && client->second.pending)
    --client->second.pending;
  return id;
}

bool Daemon::awaiting_replies(ConnectionId connection) const {
  auto client = clients_.find(connection);
  // A subscriber that shut its write side still wants its events.
  return (client != clients_.end() && client->second.pending > 0) ||
         subscribers_.subscribed(connection);
}

void Daemon::log_bad_request(ConnectionId connection, const std::string& message) {
  std::size_t count = ++clients_[connection].bad_requests;
  if (count < logged_bad_requests_per_client) {
    log(Level::warning, "client {}: {}", connection, message);
  } else if (count == logged_bad_requests_per_client) {
    log(Level::warning,
        "client {}: {} (further bad requests of this client are counted, not logged)", connection,
        message);
  }
}

// --- requests from clients ---------------------------------------------------------------------

void Daemon::on_connect(ConnectionId connection) {
  clients_.emplace(connection, Client{});
  server_->send(connection, protocol::encode_hello_banner());
}

void Daemon::on_line(ConnectionId connection, std::string_view line) {
  if (line.empty() || line == "\r") return;  // blank lines are harmless keep-alives
  ++requests_received_;                      // for arm_requests_total
  // One Request's storage serves every line (its vector of names keeps its capacity). It is
  // taken out for the call and put back at the end, so a nested call could not overwrite it.
  protocol::Request taken = std::move(reused_request_);
  struct GiveBack {
    protocol::Request& to;
    protocol::Request& from;
    ~GiveBack() { to = std::move(from); }
  } give_back{reused_request_, taken};
  if (auto decoded = protocol::decode_request_into(line, taken); !decoded) {
    log_bad_request(connection, decoded.error().message);
    server_->send(connection, protocol::encode_error(decoded.error().id, decoded.error().outcome,
                                                     decoded.error().message));
    return;
  }
  const protocol::Request* request = &taken;
  arm::RequestRef ref{connection, next_request_++};
  using protocol::Method;
  switch (request->method) {
    case Method::hello:
      server_->send(connection, protocol::encode_hello_reply(request->id));
      return;
    case Method::status:
      answer_status(connection, request->id, request->services);
      return;
    case Method::reload:
      if (!defer(connection, ref, request->id)) return;
      reload(ref);
      return;
    case Method::start:
      if (!defer(connection, ref, request->id)) return;
      supervisor_->start(ref, request->service);
      return;
    case Method::stop:
      if (!defer(connection, ref, request->id)) return;
      if (request->force) {
        supervisor_->stop_all_references(ref, request->service);
      } else {
        supervisor_->stop(ref, request->service);
      }
      return;
    case Method::restart:
      if (!defer(connection, ref, request->id)) return;
      if (request->force) {
        supervisor_->force_restart(ref, request->service);  // no config_check (issue 14)
      } else {
        supervisor_->restart(ref, request->service);
      }
      return;
    case Method::reexec:
      reexec(connection, request->id);
      return;
    case Method::reload_service:
      if (!defer(connection, ref, request->id)) return;
      supervisor_->reload_service(ref, request->service);
      return;
    case Method::reset:
      if (!defer(connection, ref, request->id)) return;
      supervisor_->reset(ref, request->service);
      return;
    case Method::logs:
      answer_logs(connection, request->id, request->services, request->lines, request->follow,
                  request->since);
      return;
    case Method::subscribe:
      answer_subscribe(connection, request->id, request->services);
      return;
    case Method::unsubscribe:
      answer_unsubscribe(connection, request->id);
      return;
    case Method::metrics:
      server_->send(connection, protocol::encode_metrics_reply(request->id, metrics_text()));
      return;
    case Method::shutdown:
      if (!defer(connection, ref, request->id)) return;
      log(Level::info, "client {} asked for shutdown; stopping every service", connection);
      shut_down(ref);
      return;
  }
}

void Daemon::on_line_too_long(ConnectionId connection) {
  log(Level::warning, "client {}: request line longer than {} bytes; closing the connection",
      connection, protocol::max_request_line);
  server_->send(connection,
                protocol::encode_error(nullptr, "line_too_long",
                                       fmt::format("request lines are limited to {} bytes",
                                                   protocol::max_request_line)));
}

void Daemon::on_disconnect(ConnectionId connection) {
  if (auto client = clients_.find(connection); client != clients_.end()) {
    if (client->second.bad_requests > logged_bad_requests_per_client)
      log(Level::warning, "client {} disconnected; {} more bad requests of it were not logged",
          connection, client->second.bad_requests - logged_bad_requests_per_client);
    clients_.erase(client);
  }
  followers_.remove(connection);
  subscribers_.remove(connection);
  supervisor_->client_gone(connection);
  pending_ids_.erase(pending_ids_.lower_bound({connection, 0}),
                     pending_ids_.upper_bound({connection, UINT64_MAX}));
}

void Daemon::answer_status(ConnectionId connection, const nlohmann::json& id,
                           const std::vector<std::string>& names) {
  if (names.empty()) {
    std::size_t reply_bytes = 0;
    {
      std::string reply = protocol::encode_status(id, supervisor_->status(), clock_.now(),
                                                  to_string(spawner_->containment()), &exit_tails_,
                                                  &log_files_.dropped());
      reply_bytes = reply.size();
      server_->send(connection, reply);
    }
    // Building the reply for thousands of services (their statuses, then the JSON) leaves
    // freed pages in the heap's holes, ~470 bytes per service that would stay resident: hand
    // them back, as after loading the configuration. Only after large replies: a trim walks
    // the heap.
    if (reply_bytes >= large_reply_bytes) malloc_trim(0);
    return;
  }
  if (names.size() == 1) {
    answer_status_of_one(connection, id, names.front());
    return;
  }
  auto found = statuses_or_answer_unknown(connection, id, names);
  if (!found) return;
  server_->send(connection, protocol::encode_status(id, *found, clock_.now(),
                                                    to_string(spawner_->containment()),
                                                    &exit_tails_, &log_files_.dropped()));
}

std::optional<std::vector<arm::ServiceStatus>> Daemon::statuses_or_answer_unknown(
    ConnectionId connection, const nlohmann::json& id, const std::vector<std::string>& names) {
  std::vector<arm::ServiceStatus> found;
  std::vector<std::string> unknown, messages;
  for (const auto& name : names) {
    if (auto status = supervisor_->status(name)) {
      found.push_back(std::move(*status));
    } else {
      unknown.push_back(name);
      messages.push_back(supervisor_->unknown_service_message(name));
    }
  }
  if (unknown.empty()) return found;
  server_->send(connection, protocol::encode_unknown_services(id, unknown, messages));
  return std::nullopt;
}

void Daemon::answer_logs(ConnectionId connection, const nlohmann::json& id,
                         std::vector<std::string> names, std::size_t count, bool follow,
                         std::optional<arm::WallTime> since) {
  // A name given twice is one service: its lines once.
  std::set<std::string> seen;
  std::erase_if(names, [&](const std::string& name) { return !seen.insert(name).second; });
  std::vector<std::string> unknown;
  std::vector<std::string> messages;
  for (const auto& name : names) {
    if (supervisor_->status(name)) continue;
    unknown.push_back(name);
    messages.push_back(supervisor_->unknown_service_message(name));
  }
  if (!unknown.empty()) {
    server_->send(connection, protocol::encode_unknown_services(id, unknown, messages));
    return;
  }
  // The last `count` lines of each (none stamped before `since`), interleaved by time; the
  // newest `count` of those.
  std::vector<std::vector<arm::OutputLine>> kept;
  std::map<std::string, std::uint64_t> next;
  for (const auto& name : names) {
    const arm::OutputRing* ring = outputs_.ring(name);
    kept.push_back(ring ? ring->last(count) : std::vector<arm::OutputLine>{});
    if (since)
      std::erase_if(kept.back(), [&](const arm::OutputLine& line) { return line.time < *since; });
    next[name] = ring ? ring->next_sequence() : 1;
  }
  auto from_files = older_lines_from_files(names, kept, count, since);
  std::vector<protocol::ServiceLine> lines;
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (const auto& line : from_files[i]) lines.push_back({&names[i], &line.line, line.unparsed});
    for (const auto& line : kept[i]) lines.push_back({&names[i], &line});
  }
  std::ranges::stable_sort(lines, {},
                           [](const protocol::ServiceLine& line) { return line.line->time; });
  if (lines.size() > count)
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(count));
  server_->send(connection, protocol::encode_log_lines(id, lines, follow));
  if (follow) followers_.add(connection, id, std::move(next));
}

// GNUnet's configuration (issue 17): a change of any file it was read from reloads it, and the
// reload restarts the services whose digest changed, only those (a comment, or another
// service's section, restarts none). TOML's files are reloaded on request only.
void Daemon::watch_own_files(const std::vector<std::string>& files) {
  std::set<std::string> wanted(files.begin(), files.end());
  for (const std::string& path : own_files_)
    if (!wanted.contains(path)) watcher_->unwatch(arm::WatchedFile{path, {}});
  for (const std::string& path : wanted) {
    if (own_files_.contains(path)) continue;
    if (auto watched = watcher_->watch(arm::WatchedFile{path, {}}); !watched)
      log(Level::warning, "a change of {} will go unseen (reload by hand): {}", path,
          watched.error().message);
  }
  own_files_ = std::move(wanted);
}

void Daemon::shut_down(std::optional<arm::RequestRef> from) {
  service_manager_.stopping();
  supervisor_->shutdown(from);
}

void Daemon::reload(std::optional<arm::RequestRef> from) {
  // While shutting down apply_reload refuses, and the manager, told STOPPING=1, hears nothing.
  bool tell_manager = !supervisor_->shutting_down();
  if (tell_manager) service_manager_.reloading();
  apply_reload(from);
  // Applied or refused, armd runs a configuration it has checked: ready again.
  if (tell_manager)
    service_manager_.ready(fmt::format("listening on {}; {} services configured",
                                       options_.socket_path, supervisor_->service_count()));
}

const char* program_search_path() {
  const char* search_path = std::getenv("PATH");
  return search_path ? search_path : "/bin:/usr/bin";
}

std::vector<arm::Error> Daemon::programs_a_reload_would_lose(const arm::Config& next) const {
  arm::Config running = supervisor_->config();
  arm::Config changed;  // the services with a process whose program the reload changes
  changed.arm = next.arm;
  for (const auto& [name, spec] : next.services) {
    auto now = running.services.find(name);
    auto status = supervisor_->status(name);
    if (now == running.services.end() || !status || !status->pid) continue;
    if (arm::compose_argv(spec, next.arm).front() ==
        arm::compose_argv(now->second, running.arm).front())
      continue;
    arm::ServiceSpec program_only = spec;
    program_only.config_file.reset();  // a missing `config` file is the service's to report
    changed.services.emplace(name, std::move(program_only));
  }
  if (changed.services.empty()) return {};
  return arm::find_missing_files(options_.config_path, changed, program_search_path());
}

void Daemon::apply_reload(std::optional<arm::RequestRef> from) {
  nlohmann::json id = from ? take_pending_id(*from) : nlohmann::json();
  auto send = [&](const std::string& line) {
    if (from) server_->send(static_cast<ConnectionId>(from->client), line);
  };
  if (supervisor_->shutting_down()) {
    send(protocol::encode_error(id, "shutting_down", "armd is shutting down"));
    return;
  }
  std::vector<std::string> tried;
  auto loaded = options_.config_source.load(&tried);
  if (!loaded) {
    // The files that were read stay watched, and the one that failed (an @INLINE@ named but
    // missing, or broken) is watched too: fixing it reloads.
    tried.insert(tried.end(), own_files_.begin(), own_files_.end());
    watch_own_files(tried);
    std::string why = loaded.error().to_string();
    log(Level::error, "reload refused, the running configuration stays: {}", why);
    send(protocol::encode_error(id, "invalid_config", why));
    return;
  }
  for (const std::string& warning : loaded->warnings) log(Level::warning, "reload: {}", warning);
  // Until it is applied, the files of both configurations: a reload refused below (a socket
  // that cannot be bound) is tried again on a change of either.
  tried.insert(tried.end(), own_files_.begin(), own_files_.end());
  watch_own_files(tried);
  arm::Config& config = loaded->config;
  if (config.arm.socket != supervisor_->settings().socket) {
    log(Level::warning,
        "reload: [arm].socket changed; the new path takes effect when armd restarts");
  }
  // Checked before anything changes (the metrics listener below is rebound): a running service
  // whose program changes is restarted with it, and when the new program cannot be executed (a
  // typo, not installed yet) applying would take a working service down into a crash loop.
  // Refused instead, as a file that does not parse is (--check-config's verdict). The program
  // is the one armd executes, argv[0]: with a prefix, the prefix's.
  if (auto lost = programs_a_reload_would_lose(config); !lost.empty()) {
    std::string why = lost.front().to_string();
    if (lost.size() > 1) why += fmt::format(" (and {} more)", lost.size() - 1);
    log(Level::error, "reload refused, the running configuration stays: {}", why);
    send(protocol::encode_error(id, "invalid_config", why));
    return;
  }
  auto sizes = ServiceOutputs::sizes_of(config);
  auto files = LogFiles::settings_of(config);
  // A new metrics_listen is bound before anything changes: an address that cannot be bound
  // refuses the reload, as an invalid file does, and the old listener stays meanwhile.
  std::optional<arm::ListenAddress> metrics_wanted = config.arm.metrics_listen;
  bool metrics_moved = metrics_wanted != listening_for_metrics();
  std::optional<MetricsHttpServer> new_metrics;
  std::optional<arm::ListenAddress> released_metrics;  // closed for the new one, on its port
  if (metrics_moved && metrics_wanted) {
    auto listener = listen_for_metrics_reload(*metrics_wanted, released_metrics);
    if (!listener) {
      log(Level::error, "reload refused, the running configuration stays: {}", listener.error());
      send(protocol::encode_error(id, "invalid_config", listener.error()));
      return;
    }
    new_metrics.emplace(std::move(*listener));
  }
  auto applied = supervisor_->reload(std::move(config));
  if (applied) ++reloads_applied_;
  if (!applied) {
    new_metrics.reset();
    restore_metrics_listener(released_metrics);
    malloc_trim(0);  // as at start: the TOML tree is gone
    auto errors = std::move(applied.error());
    arm::locate_in_file(options_.config_path, errors);  // a socket's error: its file and line
    std::string why = errors.front().to_string();
    log(Level::error, "reload refused, the running configuration stays: {}", why);
    send(protocol::encode_error(id, "invalid_config", why));
    return;
  }
  const arm::ReloadSummary& summary = *applied;
  watch_own_files(loaded->files);  // those of this configuration only (an @INLINE@ dropped)
  if (metrics_moved) {
    metrics_http_ = std::move(new_metrics);
    log(Level::info, "reload: {}",
        metrics_http_ ? "serving metrics on http://" + metrics_http_->address() + "/metrics"
                      : "no longer serving metrics over HTTP");
  }
  outputs_.configure(std::move(sizes));
  log_files_.configure(std::move(files));
  for (const auto& name : summary.removed) {
    followers_.forget_service(name);
    outputs_.forget(name);
    log_files_.forget(name);
    exit_tails_.erase(name);
  }
  for (const auto& name : summary.added) outputs_.welcome(name);
  subscribers_.on_reload(summary, *supervisor_, clock_.now(), exit_tails_, *server_);
  // As at start, the TOML tree is gone; and so are the lines of rings made smaller or removed,
  // which the heap would otherwise keep (they sit below the newest lines).
  malloc_trim(0);
  // Which ones restarted, by name (a few): what an operator looks for after an edit.
  constexpr std::size_t named_at_most = 8;
  std::string restarted_names;
  if (!summary.restarted.empty()) {
    std::size_t shown = std::min(summary.restarted.size(), named_at_most);
    restarted_names = fmt::format(
        " ({}{})", fmt::join(summary.restarted.begin(), summary.restarted.begin() + shown, ", "),
        summary.restarted.size() > shown ? ", ..." : "");
  }
  log(Level::info, "reloaded {}: {} added, {} removed, {} restarted{}, {} updated",
      options_.config_path, summary.added.size(), summary.removed.size(), summary.restarted.size(),
      restarted_names, summary.updated.size());
  send(protocol::encode_reload(id, summary));
}

}  // namespace armd
