// The fakes of <arm/testing.hpp>. They live in the core library (not in the tests) because
// they are part of the public API: embedders test their own policies with them.
#include "arm/testing.hpp"

#include <fmt/format.h>

#include <ostream>

#include <algorithm>
#include <stdexcept>

ARM_BEGIN_NAMESPACE

std::ostream& operator<<(std::ostream& out, ServiceState state) {
  return out << to_string(state);
}

std::ostream& operator<<(std::ostream& out, Outcome outcome) {
  return out << to_string(outcome);
}

std::ostream& operator<<(std::ostream& out, HealthState state) {
  return out << to_string(state);
}

ARM_END_NAMESPACE

ARM_BEGIN_NAMESPACE
namespace testing {

std::expected<ProcessId, SpawnError> FakeSpawner::spawn(const SpawnRequest& request) {
  if (next_failure_) {
    auto error = *std::exchange(next_failure_, std::nullopt);
    return std::unexpected(std::move(error));
  }
  if (auto failing = failing_services_.find(request.service); failing != failing_services_.end())
    return std::unexpected(failing->second);
  ProcessId pid = next_pid_++;
  FakeProcess process{pid,   request, true, ignoring_terminate_.contains(request.service),
                      false, {},      {}};
  processes_.emplace(pid, std::move(process));
  latest_[request.service] = pid;
  return pid;
}

void FakeSpawner::signal_process(ProcessId pid, ReloadSignal signal) {
  auto it = processes_.find(pid);
  if (it == processes_.end() || !it->second.alive) {
    ++signals_after_exit_;
    return;
  }
  it->second.reload_signals.push_back(signal);  // a reload signal ends nothing
}

void FakeSpawner::signal_group(ProcessId leader, StopSignal signal) {
  auto it = processes_.find(leader);
  if (it == processes_.end() || !it->second.alive) {
    ++signals_after_exit_;
    return;
  }
  FakeProcess& process = it->second;
  process.signals.push_back(signal);
  if (signal == StopSignal::kill) {
    signalled_exits_.emplace_back(leader, ExitStatus::signaled(9));
  } else if (signal == StopSignal::abort) {
    signalled_exits_.emplace_back(leader, ExitStatus::signaled(6));
  } else if (!process.ignores_terminate) {
    signalled_exits_.emplace_back(leader, ExitStatus::signaled(15));
  }
}

void FakeSpawner::fail_next_spawn(SpawnError error) {
  next_failure_ = std::move(error);
}

void FakeSpawner::fail_service(std::string service, SpawnError error) {
  failing_services_[std::move(service)] = std::move(error);
}

void FakeSpawner::allow_service(const std::string& service) {
  failing_services_.erase(service);
}

void FakeSpawner::ignore_terminate(std::string service) {
  ignoring_terminate_[std::move(service)] = true;
}

const FakeProcess* FakeSpawner::process(ProcessId pid) const {
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : &it->second;
}

const FakeProcess* FakeSpawner::latest(std::string_view service) const {
  auto it = latest_.find(service);
  return it == latest_.end() ? nullptr : process(it->second);
}

std::vector<ProcessId> FakeSpawner::live() const {
  std::vector<ProcessId> pids;
  for (const auto& [pid, process] : processes_) {
    if (process.alive) pids.push_back(pid);
  }
  return pids;
}

bool FakeSpawner::mark_exited(ProcessId pid) {
  auto it = processes_.find(pid);
  if (it == processes_.end() || !it->second.alive) return false;
  it->second.alive = false;
  return true;
}

void FakeSpawner::mark_main_exited(ProcessId pid) {
  auto it = processes_.find(pid);
  if (it != processes_.end()) it->second.main_exited = true;
}

std::vector<std::pair<ProcessId, ExitStatus>> FakeSpawner::take_signalled_exits() {
  return std::exchange(signalled_exits_, {});
}

std::vector<Reply> RecordingNotifier::replies_to(ClientId client) const {
  std::vector<Reply> found;
  std::copy_if(replies.begin(), replies.end(), std::back_inserter(found),
               [&](const Reply& r) { return r.to.client == client; });
  return found;
}

std::optional<Reply> RecordingNotifier::reply_to(RequestRef request) const {
  auto it =
      std::find_if(replies.begin(), replies.end(), [&](const Reply& r) { return r.to == request; });
  if (it == replies.end()) return std::nullopt;
  return *it;
}

std::size_t RecordingNotifier::replies_count_for(RequestRef request) const {
  return static_cast<std::size_t>(std::count_if(replies.begin(), replies.end(),
                                                [&](const Reply& r) { return r.to == request; }));
}

std::expected<void, Error> FakeFileWatcher::watch(const WatchedFile& file) {
  ++watch_counts[file];
  if (!refused.contains(file.path)) return {};
  Error refusal;
  refusal.message = "cannot watch " + file.path + " for changes: Permission denied";
  return std::unexpected(std::move(refusal));
}

void FakeFileWatcher::unwatch(const WatchedFile& file) {
  auto it = watch_counts.find(file);
  if (it == watch_counts.end()) return;
  if (--it->second <= 0) watch_counts.erase(it);
}

bool FakeFileWatcher::watching(const std::string& path, const std::string& section) const {
  return watch_counts.contains(WatchedFile{path, section});
}

ServiceSpec service(std::string name) {
  ServiceSpec spec;
  spec.binary = "/usr/bin/" + name;
  spec.name = std::move(name);
  return spec;
}

Config config_with(std::initializer_list<ServiceSpec> services) {
  Config config;
  for (const auto& spec : services) config.services.emplace(spec.name, spec);
  return config;
}

void FakeProber::start(const ProbeRequest& request) {
  ++started;
  running.push_back({request.id, std::string(request.service), request.check.kind, request.main_pid,
                     request.purpose, request.check.command});
}

void FakeProber::cancel(ProbeId id) {
  cancelled.push_back(id);
  answered(id);
}

std::optional<FakeProber::Probe> FakeProber::in_flight(std::string_view service,
                                                       ProbePurpose purpose) const {
  auto found = std::ranges::find_if(running, [&](const Probe& probe) {
    return probe.service == service && probe.purpose == purpose;
  });
  if (found == running.end()) return std::nullopt;
  return *found;
}

void FakeProber::answered(ProbeId id) {
  std::erase_if(running, [id](const Probe& probe) { return probe.id == id; });
}

std::expected<void, Error> FakeListeners::hold(std::string_view service, const ServiceSpec& spec) {
  std::vector<std::string> sockets;
  for (const auto& socket : spec.listen) {
    std::string text = to_string(socket);
    if (!open.contains(text) && refused.contains(text))
      return std::unexpected(
          Error::at("", 0, 0, fmt::format("services.{}.listen", service),
                    fmt::format("cannot listen on {}: Address already in use", text)));
    sockets.push_back(std::move(text));
  }
  for (const auto& text : sockets) {
    if (!open.contains(text)) open.emplace(text, next_descriptor_++);
  }
  if (sockets.empty()) {
    drop(service);
  } else {
    held[std::string(service)] = std::move(sockets);
  }
  return {};
}

void FakeListeners::drop(std::string_view service) {
  if (auto found = held.find(service); found != held.end()) held.erase(found);
  unwatch(service);  // as PosixListeners: a service without sockets has nothing to watch
}

void FakeListeners::release_unheld() {
  std::erase_if(open, [&](const auto& entry) {
    return std::ranges::none_of(held, [&](const auto& holder) {
      return std::ranges::find(holder.second, entry.first) != holder.second.end();
    });
  });
}

void FakeListeners::descriptors(std::string_view service, std::vector<int>& out) const {
  out.clear();
  auto found = held.find(service);
  if (found == held.end()) return;
  for (const auto& text : found->second) out.push_back(open.at(text));
}

void FakeListeners::watch(std::string_view service) {
  ++watch_calls;
  watched.emplace(service);
}

void FakeListeners::unwatch(std::string_view service) {
  if (auto found = watched.find(service); found != watched.end()) watched.erase(found);
}

SupervisorRig::SupervisorRig(Config config)
    : supervisor(std::move(config), clock, spawner, notifier, &watcher, &random, &prober,
                 &listeners) {}

SupervisorRig::SupervisorRig(Config config, Notifier& also_notify)
    : notifier(),
      supervisor(std::move(config), clock, spawner, notifier, &watcher, &random, &prober,
                 &listeners) {
  notifier.forward_to = &also_notify;
}

bool SupervisorRig::connect(std::string_view service) {
  auto found = listeners.watched.find(service);
  if (found == listeners.watched.end()) return false;
  listeners.watched.erase(found);
  return supervisor.on_socket_activity(service);
}

RequestRef SupervisorRig::request(ClientId client) {
  return {client, next_request_++};
}

void SupervisorRig::exit(std::string_view service, ExitStatus status) {
  auto pid = pid_of(service);
  if (!pid)
    throw std::logic_error("SupervisorRig::exit: " + std::string(service) + " has no process");
  spawner.mark_exited(*pid);
  supervisor.on_child_exit(*pid, status);
}

void SupervisorRig::exit_leaving_processes(std::string_view service, ExitStatus status) {
  auto pid = pid_of(service);
  if (!pid)
    throw std::logic_error("SupervisorRig::exit_leaving_processes: " + std::string(service) +
                           " has no process");
  spawner.mark_main_exited(*pid);
  supervisor.on_main_exit(*pid, status);
}

bool SupervisorRig::notify(std::string_view service, const ServiceNotification& notification) {
  auto pid = pid_of(service);
  if (!pid)
    throw std::logic_error("SupervisorRig::notify: " + std::string(service) + " has no process");
  return supervisor.on_notify(*pid, notification);
}

bool SupervisorRig::probe(std::string_view service, bool healthy, std::string detail) {
  auto probe = prober.in_flight(service);
  if (!probe)
    throw std::logic_error("SupervisorRig::probe: no probe of " + std::string(service) +
                           " in flight");
  prober.answered(probe->id);
  return supervisor.on_probe_result(probe->id, {healthy, std::move(detail)});
}

bool SupervisorRig::command_ends(std::string_view service, ProbePurpose purpose, bool passed,
                                 std::string detail, std::string output) {
  auto command = prober.in_flight(service, purpose);
  if (!command)
    throw std::logic_error("SupervisorRig::command_ends: no command of " + std::string(service) +
                           " in flight");
  prober.answered(command->id);
  ProbeResult result{passed, std::move(detail)};
  result.output = std::move(output);
  return supervisor.on_probe_result(command->id, result);
}

void SupervisorRig::settle() {
  // Exits can cause new spawns and new signals (a restart): loop until quiet.
  for (auto exits = spawner.take_signalled_exits(); !exits.empty();
       exits = spawner.take_signalled_exits()) {
    for (const auto& [pid, status] : exits) {
      if (spawner.mark_exited(pid)) supervisor.on_child_exit(pid, status);
    }
  }
}

void SupervisorRig::advance(Duration by, Exits exits) {
  TimePoint until = clock.now() + by;
  if (exits == Exits::delivered) settle();
  for (auto due = supervisor.next_deadline(); due && *due <= until;
       due = supervisor.next_deadline()) {
    if (*due > clock.now()) clock.set(*due);
    supervisor.on_timer();
    if (exits == Exits::delivered) settle();
  }
  clock.set(until);
}

std::optional<ProcessId> SupervisorRig::pid_of(std::string_view service) const {
  auto status = supervisor.status(service);
  return status ? status->pid : std::nullopt;
}

ServiceState SupervisorRig::state_of(std::string_view service) const {
  auto status = supervisor.status(service);
  if (!status)
    throw std::logic_error("SupervisorRig::state_of: no service " + std::string(service));
  return status->state;
}

}  // namespace testing
ARM_END_NAMESPACE
