#include "daemon.hpp"

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log.hpp"
#include "protocol/protocol.hpp"

namespace armd {

namespace {

// Milliseconds until `deadline`, rounded up so we never wake before it is due.
int poll_timeout(std::optional<arm::TimePoint> deadline, arm::TimePoint now) {
  if (!deadline) return -1;
  if (*deadline <= now) return 0;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now).count();
  return static_cast<int>(std::min<long long>(wait, 24LL * 3600 * 1000));
}

}  // namespace

std::expected<std::unique_ptr<Daemon>, std::string> Daemon::create(DaemonOptions options,
                                                                   arm::Config config) {
  // SIGTERM, SIGINT and SIGHUP arrive through a signalfd and are handled in the loop, like any
  // other event. Children get a clean mask back from the spawner.
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &handled, nullptr) != 0)
    return std::unexpected(fmt::format("sigprocmask: {}", std::strerror(errno)));
  ::signal(SIGPIPE, SIG_IGN);
  arm::posix::UniqueFd signal_fd(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd) return std::unexpected(fmt::format("signalfd: {}", std::strerror(errno)));

  std::unique_ptr<Daemon> daemon(new Daemon(std::move(options), std::move(signal_fd)));
  // armd's only thread spawns every child, so its services can die with it (see SpawnerOptions).
  auto spawner = arm::posix::PosixSpawner::create({.kill_children_if_host_dies = true});
  if (!spawner) return std::unexpected(spawner.error().message);
  daemon->spawner_ = std::move(*spawner);
  auto watcher = arm::posix::InotifyWatcher::create();
  if (!watcher) return std::unexpected(watcher.error().message);
  daemon->watcher_ = std::move(*watcher);
  auto server =
      ControlServer::listen(daemon->options_.socket_path, protocol::max_request_line, *daemon);
  if (!server) return std::unexpected(server.error());
  daemon->server_.emplace(std::move(*server));
  daemon->supervisor_ =
      std::make_unique<arm::ServiceSupervisor>(std::move(config), daemon->clock_, *daemon->spawner_,
                                               *daemon, daemon->watcher_.get(), &daemon->random_);
  return daemon;
}

Daemon::Daemon(DaemonOptions options, arm::posix::UniqueFd signal_fd)
    : options_(std::move(options)), signal_fd_(std::move(signal_fd)) {}

// The supervisor holds references to the spawner, the watcher and this Daemon (its notifier,
// which answers through the server): it goes first, whatever the members' order.
Daemon::~Daemon() {
  supervisor_.reset();
  server_.reset();
}

int Daemon::run() {
  buffer_log();
  log("listening on {}; {} services configured", options_.socket_path,
      supervisor_->service_count());
  supervisor_->start_default_services();
  // Reading the configuration built a TOML tree several times the size of what is kept; hand
  // the freed pages back instead of holding them for armd's whole life.
  malloc_trim(0);

  std::vector<pollfd> fds;
  while (!supervisor_->finished()) {
    fds.clear();
    fds.push_back({signal_fd_.get(), POLLIN, 0});
    fds.push_back({spawner_->exit_fd(), POLLIN, 0});
    fds.push_back({watcher_->fd(), POLLIN, 0});
    server_->add_poll_fds(fds);
    int timeout = poll_timeout(supervisor_->next_deadline(), clock_.now());
    if (auto wakeup = server_->next_wakeup()) {
      int server_timeout = poll_timeout(*wakeup, clock_.now());
      timeout = timeout < 0 ? server_timeout : std::min(timeout, server_timeout);
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
      log("poll: {}", std::strerror(errno));
      flush_log();
      return 1;
    }
    if (fds[0].revents & POLLIN) handle_signals();
    if (fds[1].revents & POLLIN) {
      spawner_->collect_exits([&](arm::ProcessId pid, arm::ExitStatus status) {
        supervisor_->on_child_exit(pid, status);
      });
    }
    if (fds[2].revents & POLLIN) {
      watcher_->collect_changes(
          [&](const arm::WatchedFile& file) { supervisor_->on_file_changed(file); });
    }
    server_->handle_poll(fds);
    supervisor_->on_timer();
    flush_log();
  }
  server_->flush_all(1000);
  log("every service is stopped; exiting");
  flush_log();
  return 0;
}

void Daemon::handle_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    switch (info.ssi_signo) {
      case SIGTERM:
      case SIGINT:
        log("received {}; stopping every service",
            info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        supervisor_->shutdown(std::nullopt);
        break;
      case SIGHUP:
        log("received SIGHUP; reloading {}", options_.config_path);
        reload(std::nullopt);
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
  if (event.state == arm::ServiceState::starting) return;  // the running/failed line follows
  if (event.detail.empty()) {
    log("{}: {}", event.service, arm::to_string(event.state));
  } else {
    log("{}: {} ({})", event.service, arm::to_string(event.state), event.detail);
  }
}

nlohmann::json Daemon::take_pending_id(arm::RequestRef request) {
  auto pending = pending_ids_.find({request.client, request.request});
  if (pending == pending_ids_.end()) return nullptr;
  nlohmann::json id = std::move(pending->second);
  pending_ids_.erase(pending);
  return id;
}

// --- requests from clients ---------------------------------------------------------------------

void Daemon::on_connect(ConnectionId connection) {
  server_->send(connection, protocol::encode_hello_banner());
}

void Daemon::on_line(ConnectionId connection, std::string_view line) {
  if (line.empty() || line == "\r") return;  // blank lines are harmless keep-alives
  auto request = protocol::decode_request(line);
  if (!request) {
    log("client {}: {}", connection, request.error().message);
    server_->send(connection, protocol::encode_error(request.error().id, request.error().outcome,
                                                     request.error().message));
    return;
  }
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
      pending_ids_.emplace(std::pair(connection, ref.request), request->id);
      reload(ref);
      return;
    case Method::start:
      pending_ids_.emplace(std::pair(connection, ref.request), request->id);
      supervisor_->start(ref, request->service);
      return;
    case Method::stop:
      pending_ids_.emplace(std::pair(connection, ref.request), request->id);
      supervisor_->stop(ref, request->service);
      return;
    case Method::restart:
      pending_ids_.emplace(std::pair(connection, ref.request), request->id);
      supervisor_->restart(ref, request->service);
      return;
    case Method::reset:
      pending_ids_.emplace(std::pair(connection, ref.request), request->id);
      supervisor_->reset(ref, request->service);
      return;
    case Method::shutdown:
      log("client {} asked for shutdown; stopping every service", connection);
      pending_ids_.emplace(std::pair(connection, ref.request), request->id);
      supervisor_->shutdown(ref);
      return;
  }
}

void Daemon::on_line_too_long(ConnectionId connection) {
  log("client {}: request line longer than {} bytes; closing the connection", connection,
      protocol::max_request_line);
  server_->send(connection,
                protocol::encode_error(nullptr, "line_too_long",
                                       fmt::format("request lines are limited to {} bytes",
                                                   protocol::max_request_line)));
}

void Daemon::on_disconnect(ConnectionId connection) {
  supervisor_->client_gone(connection);
  pending_ids_.erase(pending_ids_.lower_bound({connection, 0}),
                     pending_ids_.upper_bound({connection, UINT64_MAX}));
}

void Daemon::answer_status(ConnectionId connection, const nlohmann::json& id,
                           const std::vector<std::string>& names) {
  if (names.empty()) {
    server_->send(connection, protocol::encode_status(id, supervisor_->status(), clock_.now()));
    return;
  }
  std::vector<arm::ServiceStatus> found;
  std::vector<std::string> unknown;
  for (const auto& name : names) {
    if (auto status = supervisor_->status(name)) {
      found.push_back(std::move(*status));
    } else {
      unknown.push_back(name);
    }
  }
  if (!unknown.empty()) {
    server_->send(connection, protocol::encode_unknown_services(id, unknown));
    return;
  }
  server_->send(connection, protocol::encode_status(id, found, clock_.now()));
}

void Daemon::reload(std::optional<arm::RequestRef> from) {
  nlohmann::json id = from ? take_pending_id(*from) : nlohmann::json();
  auto send = [&](const std::string& line) {
    if (from) server_->send(static_cast<ConnectionId>(from->client), line);
  };
  if (supervisor_->shutting_down()) {
    send(protocol::encode_error(id, "shutting_down", "armd is shutting down"));
    return;
  }
  auto config = arm::load_config_file(options_.config_path);
  if (!config) {
    std::string why = config.error().to_string();
    log("reload refused, the running configuration stays: {}", why);
    send(protocol::encode_error(id, "invalid_config", why));
    return;
  }
  if (config->arm.socket != supervisor_->settings().socket) {
    log("reload: [arm].socket changed; the new path takes effect when armd restarts");
  }
  auto applied = supervisor_->reload(std::move(*config));
  malloc_trim(0);  // as at start: the TOML tree is gone
  if (!applied) {
    std::string why = applied.error().front().to_string();
    log("reload refused, the running configuration stays: {}", why);
    send(protocol::encode_error(id, "invalid_config", why));
    return;
  }
  const arm::ReloadSummary& summary = *applied;
  log("reloaded {}: {} added, {} removed, {} restarted, {} updated", options_.config_path,
      summary.added.size(), summary.removed.size(), summary.restarted.size(),
      summary.updated.size());
  send(protocol::encode_reload(id, summary));
}

}  // namespace armd
