// Service bookkeeping: the name, pid and config-file indexes, deadlines, state changes.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "closest_name.hpp"
#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

ServiceSupervisor::Impl::Impl(Config initial, Clock& c, Spawner& s, Notifier& n, FileWatcher* w,
                              Random* r, Prober* p, Listeners* l, bool at_rest)
    : arm(std::move(initial.arm)),
      clock(c),
      spawner(s),
      notifier(n),
      watcher(w),
      random(r ? *r : own_random),
      prober(p),
      listeners(l) {
  if (auto held = hold_sockets(initial); !held) throw SocketsRefused(std::move(held.error()));
  by_name.reserve(initial.services.size());
  // Copied, not moved (StoredSpec copies what it keeps): moving freed each spec's strings while
  // the next service was being built, and a small allocation of that service kept for good (its
  // packed options) landed in the hole, one per service, which pinned the whole freed Config in
  // memory (~650 bytes a service at 10,000, docs/performance.md). Freed at once when `initial`
  // goes, the Config's pages are given back.
  for (auto& [name, spec] : initial.services) add_service(spec);
  rebuild_graph();
  if (!at_rest) return;
  // On-demand services listen from the start (no event: it is where they begin).
  for (auto& [name, service] : services) rest(*service, false);
}

Service* ServiceSupervisor::Impl::find(std::string_view name) {
  return by_name.find(name);
}

const Service* ServiceSupervisor::Impl::find(std::string_view name) const {
  return by_name.find(name);
}

Service* ServiceSupervisor::Impl::find_or_answer(std::optional<RequestRef> from,
                                                 std::string_view name) {
  Service* service = find(name);
  if (service && !service->removed()) return service;
  if (from)
    emit(Reply{
        *from, Outcome::unknown_service, std::string(name), unknown_service_message(name), {}, 0});
  return nullptr;
}

std::string ServiceSupervisor::Impl::unknown_service_message(std::string_view name) const {
  // A service a reload removed is no longer configured, even while its process exits.
  if (const Service* service = find(name); service && service->removed())
    return fmt::format(
        "unknown service '{}': removed from the configuration; its process is "
        "still stopping",
        name);
  // Only on a mistake, so the names are gathered here rather than kept in a second index.
  std::vector<std::string_view> names;
  names.reserve(services.size());
  for (const auto& [known, service] : services) {
    if (!service->removed()) names.push_back(known);
  }
  std::string_view guess = detail::closest_name(name, names);
  if (guess.empty()) return fmt::format("unknown service '{}'", name);
  return fmt::format("unknown service '{}' (did you mean '{}'?)", name, guess);
}

bool ServiceSupervisor::Impl::refused_in_shutdown(std::optional<RequestRef> from,
                                                  const Service& service) {
  if (!in_shutdown) return false;
  answer(from, service, Outcome::shutting_down, "armd is shutting down");
  return true;
}

Service& ServiceSupervisor::Impl::add_service(ServiceSpec& spec) {
  auto service = std::make_unique<Service>(detail::StoredSpec(spec, settings_pool));
  service->serial = next_serial++;
  service->history.backoff = detail::Backoff(service->settings());
  Service& added = *service;
  // A configuration's services come in name order: the hint makes each insertion O(1).
  services.emplace_hint(services.end(), added.name(), std::move(service));
  by_name.insert(&added);
  watch_config_file(added);
  return added;
}

// New settings for a service that stays: the watch follows the config file, the restart
// history keeps its progress under the new limits (read from the spec: only the backoff's
// delay needs bringing under a lower cap).
void ServiceSupervisor::Impl::replace_spec(Service& service, detail::StoredSpec spec) {
  // The new watch first: for an unchanged file the watcher's count never drops to zero, so it
  // keeps what it knows (the content's hash, a change being written right now).
  auto old_file = watched_file_of(service);
  service.spec.replace(std::move(spec));  // the map's key views the name, which stays
  service.history.backoff.retune(service.settings());
  watch_config_file(service);
  if (old_file) unwatch_file(service, *old_file);
}

std::optional<WatchedFile> ServiceSupervisor::Impl::watched_file_of(const Service& service) {
  const detail::Identity& identity = service.spec.identity();
  // A digest: the host watches the files and reloads; the digest tells what changed.
  if (!identity.config_file || identity.config_digest) return std::nullopt;
  return WatchedFile{*identity.config_file, identity.config_section.value_or("")};
}

void ServiceSupervisor::Impl::watch_config_file(Service& service) {
  auto file = watched_file_of(service);
  if (!file) return;
  by_config_file[*file].push_back(&service);
  if (!watcher) return;
  // The latest watch() of the file says whether it is watched now (a directory on its path may
  // have become readable meanwhile).
  if (auto watched = watcher->watch(*file); !watched)
    watch_errors.insert_or_assign(*file, watched.error().message);
  else
    watch_errors.erase(*file);
}

void ServiceSupervisor::Impl::unwatch_config_file(Service& service) {
  if (auto file = watched_file_of(service)) unwatch_file(service, *file);
}

// Gives back one watch of `file` by `service` (it may hold two for a moment: replace_spec).
void ServiceSupervisor::Impl::unwatch_file(Service& service, const WatchedFile& file) {
  auto it = by_config_file.find(file);
  if (it != by_config_file.end()) {
    auto& watchers = it->second;
    if (auto found = std::find(watchers.begin(), watchers.end(), &service); found != watchers.end())
      watchers.erase(found);
    if (watchers.empty()) {
      by_config_file.erase(it);
      watch_errors.erase(file);
    }
  }
  if (watcher) watcher->unwatch(file);
}

void ServiceSupervisor::Impl::forget(Service& service) {
  cancel_deadline(service);
  if (service.on_demand && service.on_demand->watched) listeners->unwatch(service.name());
  abandon_config_change(service);
  unwatch_config_file(service);
  with_waiters.erase(&service);
  deactivate(service);
  std::erase(start_queue, &service);
  std::erase(release_queue, &service);
  std::string name = service.name();  // the key must outlive the node it erases
  by_name.erase(std::string_view(name));
  services.erase(std::string_view(name));
}

void ServiceSupervisor::Impl::set_state(Service& service, ServiceState next,
                                        std::string_view detail,
                                        std::optional<Milliseconds> restart_delay) {
  ServiceState previous = service.state;
  // Probes are about a running process: one in flight is no longer wanted once it leaves.
  if (previous == ServiceState::running && next != ServiceState::running) {
    stop_health_checks(service);
    abandon_config_change(service);  // a check or reload of that process, and who waits for it
  }
  // An on-demand service at rest listens for its next client (issue 14).
  if (next == ServiceState::stopped && listens_on_demand(service) && !in_shutdown)
    next = ServiceState::listening;
  service.state = next;
  update_socket_watch(service);
  EventFacts facts{.pid = service.process.pid, .restart_delay = restart_delay};
  if (exit_being_handled && exit_being_handled->service == &service) {
    facts.pid = exit_being_handled->pid;
    facts.exit = exit_being_handled->status;
    exit_being_handled.reset();
  }
  emit_event(service, previous, detail, facts);
}

void ServiceSupervisor::Impl::schedule(Service& service, TimePoint at) {
  cancel_deadline(service);
  service.deadline = at;
  spare_deadline_nodes.emplace(deadlines, at, service.serial, &service);
}

void ServiceSupervisor::Impl::cancel_deadline(Service& service) {
  if (!service.deadline) return;
  spare_deadline_nodes.erase(deadlines,
                             Deadlines::value_type{*service.deadline, service.serial, &service});
  service.deadline.reset();
}

ARM_END_NAMESPACE
