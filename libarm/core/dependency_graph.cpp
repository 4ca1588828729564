// The dependency graph: edges, activation, the start and release queues, and what a service
// leaving for good does to its dependents. The verbs are defined in supervisor_impl.hpp.
#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

// Resolves every service's edges from its spec and recounts what depends on the edges.
// O(services + edges); run on construction and reload.
void ServiceSupervisor::Impl::rebuild_graph() {
  bool any_edge = false;
  for (auto& [name, service] : services) {
    service->graph.edges.reset();
    any_edge = any_edge || !service->spec.depends_on().empty() || !service->spec.wants().empty();
  }
  if (!any_edge) {
    recount();
    return;
  }
  // The edges name their ends: found through the name index, not the ordered map (thousands
  // of services with a few edges each spent most of a rebuild comparing names; issue 9's core
  // benchmark).
  for (auto& [name, owned] : services) {
    Service& service = *owned;
    if (service.removed()) continue;
    auto resolve = [&](const detail::WordList& names, auto dependencies, auto dependents) {
      if (!names.empty()) (service.graph.edges_to_fill().*dependencies).reserve(names.size());
      for (std::string_view dependency_name : names) {
        Service* dependency = by_name.find(dependency_name);
        // check_config() rules unknown names out; a removed service has no future.
        if (!dependency || dependency->removed() || dependency == &service) continue;
        (service.graph.edges_to_fill().*dependencies).push_back(dependency);
        (dependency->graph.edges_to_fill().*dependents).push_back(&service);
      }
    };
    resolve(service.spec.depends_on(), &Service::Edges::hard_dependencies,
            &Service::Edges::hard_dependents);
    resolve(service.spec.wants(), &Service::Edges::soft_dependencies,
            &Service::Edges::soft_dependents);
  }
  recount();
}

// `holders` and `leaving_dependents` are derived from the edges: counted again from scratch.
void ServiceSupervisor::Impl::recount() {
  for (auto& [name, service] : services) {
    service->references.holders = 0;
    service->stop.leaving_dependents = 0;
  }
  for (auto& [name, service] : services) {
    if (service->references.active)
      for (Service* dependency : service->graph.hard_dependencies())
        ++dependency->references.holders;
    if (service->leaving())
      for_each_dependency(*service, [](Service& d) { ++d.stop.leaving_dependents; });
  }
}

void ServiceSupervisor::Impl::enqueue_start(Service& service) {
  if (service.graph.in_start_queue) return;
  service.graph.in_start_queue = true;
  start_queue.push_back(&service);
}

void ServiceSupervisor::Impl::enqueue_waiting_dependents(Service& service) {
  for (Service* dependent : service.graph.hard_dependents())
    if (dependent->state == ServiceState::waiting) enqueue_start(*dependent);
}

// Every service this wakes is queued for a start check in post-order, dependencies before their
// dependents, so each is checked once.
void ServiceSupervisor::Impl::activate(Service& root) {
  if (root.references.active) {
    enqueue_start(root);
    return;
  }
  mark_active(root);
  struct Frame {
    Service* service;
    std::size_t next_edge;
  };
  std::vector<Frame> stack{{&root, 0}};
  while (!stack.empty()) {
    Service& service = *stack.back().service;
    std::size_t edge = stack.back().next_edge++;
    const auto& graph = service.graph;
    std::size_t hard = graph.hard_dependencies().size();
    if (edge == hard + graph.soft_dependencies().size()) {
      enqueue_start(service);
      stack.pop_back();
      continue;
    }
    bool is_hard = edge < hard;
    Service& dependency =
        is_hard ? *graph.hard_dependencies()[edge] : *graph.soft_dependencies()[edge - hard];
    if (is_hard) ++dependency.references.holders;
    if (take_interest(dependency, !is_hard)) stack.push_back({&dependency, 0});
  }
}

// `dependency` is now wanted by a dependent. Returns true when it must be activated.
bool ServiceSupervisor::Impl::take_interest(Service& dependency, bool soft) {
  switch (dependency.state) {
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::failed:
      if (!dependency.dormant()) return false;  // already activated, waiting in the queue
      if (soft) ++dependency.references.requests;
      mark_active(dependency);
      return true;
    case ServiceState::stopping:
      // On its way out: it comes back once reaped.
      if (!dependency.coming_back()) {
        if (soft) ++dependency.references.requests;
        revive(dependency);
      }
      return false;
    case ServiceState::waiting:
    case ServiceState::starting:
    case ServiceState::running:
    case ServiceState::backoff:
      return false;
  }
  return false;
}

void ServiceSupervisor::Impl::revive(Service& root) {
  std::vector<Service*> walk{&root};
  while (!walk.empty()) {
    Service& service = *walk.back();
    walk.pop_back();
    if (service.state != ServiceState::stopping || service.coming_back() || service.removed())
      continue;
    service.after_exit = AfterExit::start_again;
    service.stop_reason.clear();
    for (Service* dependency : service.graph.hard_dependencies()) {
      if (dependency->state == ServiceState::stopping) {
        walk.push_back(dependency);
      } else if (dependency->dormant()) {
        activate(*dependency);  // gone already: started again (the edge is still counted)
      }
    }
  }
}

// `dependency` of a wanted service must come up: started if stopped, revived if stopping.
void ServiceSupervisor::Impl::ensure_interest(Service& dependency) {
  if (dependency.state == ServiceState::stopping) {
    revive(dependency);
  } else if (dependency.dormant()) {
    activate(dependency);
  }
}

void ServiceSupervisor::Impl::mark_active(Service& service) {
  service.references.active = true;
  if (service.state == ServiceState::stopped || service.state == ServiceState::listening ||
      service.state == ServiceState::failed) {
    cancel_deadline(service);  // a pending re-arm: it is starting now anyway
    service.history.intensity.reset();
    service.history.restarts = 0;
    service.history.backoff.reset(service.settings());
    service.history.attempt = detail::Attempt::first;
  }
}

void ServiceSupervisor::Impl::deactivate(Service& service) {
  if (!service.references.active) return;
  service.references.active = false;
  for (Service* dependency : service.graph.hard_dependencies()) {
    if (dependency->references.holders > 0) --dependency->references.holders;
    if (!dependency->wanted()) release_queue.push_back(dependency);
  }
}

void ServiceSupervisor::Impl::drain() {
  while (!release_queue.empty() || !start_queue.empty()) {
    if (!release_queue.empty()) {
      Service* service = release_queue.front();
      release_queue.pop_front();
      release_if_unwanted(*service);
      continue;
    }
    Service* service = start_queue.front();
    start_queue.pop_front();
    service->graph.in_start_queue = false;
    check_start(*service);
  }
}

void ServiceSupervisor::Impl::check_start(Service& service) {
  if (!service.references.active || service.process.pid || in_shutdown) return;
  switch (service.state) {
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::failed:
    case ServiceState::waiting:
      try_start_now(service);
      return;
    case ServiceState::backoff:  // waits out its own delay
    case ServiceState::starting:
    case ServiceState::running:
    case ServiceState::stopping:
      return;
  }
}

// Spawns the service if every hard dependency runs; waits if one is on its way; fails if one
// has failed or stopped for good.
void ServiceSupervisor::Impl::try_start_now(Service& service) {
  Service* blocker = nullptr;
  for (Service* dependency : service.graph.hard_dependencies()) {
    if (dependency->state == ServiceState::running) continue;
    if (!dependency->references.active && !dependency->rearm_pending()) {
      fail_for_dependency(service, *dependency);
      return;
    }
    if (!blocker) blocker = dependency;
  }
  if (blocker) {
    service.waiting_for = blocker->name();  // status shows its state as it is then
    if (service.state != ServiceState::waiting)
      set_state(service, ServiceState::waiting,
                fmt::format("waiting for dependency {} ({})", blocker->name(),
                            to_string(blocker->state)));
    return;
  }
  service.waiting_for.clear();
  if (spawn(service)) {
    service.history.attempt = detail::Attempt::retry;
    // One not ready at exec tells its dependents when it is (become_ready).
    if (service.state == ServiceState::running) enqueue_waiting_dependents(service);
  } else {
    after_failure_to_run(service, service.last_error);
  }
}

void ServiceSupervisor::Impl::release_if_unwanted(Service& service) {
  if (service.wanted() || in_shutdown) return;
  switch (service.state) {
    case ServiceState::starting:
    case ServiceState::running:
      service.after_exit = AfterExit::settle_stopped;
      stop_group({&service}, "no longer needed by its dependents");
      return;
    case ServiceState::stopping:
      if (service.automatic_after_exit()) {
        service.after_exit = AfterExit::settle_stopped;
        fail_start_waiters(service, Outcome::start_failed, "no longer needed");
      }
      return;
    case ServiceState::waiting:
    case ServiceState::backoff:
      become_inactive(service, ServiceState::stopped, "no longer needed by its dependents");
      return;
    case ServiceState::stopped:
    case ServiceState::listening:
    case ServiceState::failed:
      deactivate(service);  // activated but never started
      return;
  }
}

// Visits each hard dependent of `root` that holds it, transitively, once; `visit` returns
// whether to go on through that dependent to its own dependents.
template <class Visit>
void ServiceSupervisor::Impl::for_each_holding_dependent(Service& root, Visit&& visit) {
  std::vector<Service*> walk{&root};
  root.graph.visited = ++epoch;
  while (!walk.empty()) {
    Service& service = *walk.back();
    walk.pop_back();
    for (Service* dependent : service.graph.hard_dependents()) {
      if (dependent->graph.visited == epoch || !dependent->references.active) continue;
      dependent->graph.visited = epoch;
      if (visit(*dependent)) walk.push_back(dependent);
    }
  }
}

// Every hard dependent of `root` that is wanted stops, transitively, dependents first: they
// cannot run without it. They end stopped or failed as `root` did, and say why.
std::vector<std::string> ServiceSupervisor::Impl::take_down_dependents(Service& root,
                                                                       ServiceState root_state) {
  if (root.graph.hard_dependents().empty()) return {};  // the common case: nothing to walk
  bool failed = root_state == ServiceState::failed;
  std::string why =
      failed ? fmt::format("dependency {} failed: {}", root.name(), root.last_error.str())
             : fmt::format("dependency {} stopped", root.name());
  std::vector<std::string> names;
  std::vector<Service*> to_stop;
  std::vector<Service*> without_process;
  for_each_holding_dependent(root, [&](Service& dependent) {
    names.push_back(dependent.name());
    dependent.after_exit = failed ? AfterExit::settle_failed : AfterExit::settle_stopped;
    dependent.stop_reason = why;
    fail_start_waiters(dependent, Outcome::start_failed, why);
    dependent.references.requests = 0;
    (dependent.process.pid ? to_stop : without_process).push_back(&dependent);
    return true;
  });
  stop_group(to_stop, why);
  for (Service* service : without_process)
    settle_inactive(*service, failed ? ServiceState::failed : ServiceState::stopped, why);
  return names;
}

// The hard dependents of `root` restart after it (a group restart), transitively through those
// that restart; those with restart_with_dependencies = false keep running, unless `everyone`
// (the dependency is gone for a long while).
void ServiceSupervisor::Impl::restart_dependents(Service& root, bool everyone) {
  if (root.graph.hard_dependents().empty()) return;
  std::vector<Service*> group;
  for_each_holding_dependent(root, [&](Service& dependent) {
    if (!everyone && !dependent.settings().restart_with_dependencies) return false;
    if (dependent.state == ServiceState::running || dependent.state == ServiceState::starting) {
      dependent.after_exit = AfterExit::start_again;
      group.push_back(&dependent);
      return true;
    }
    // Restarting already, or stopping for good: as decided. Its dependents follow it.
    return dependent.state == ServiceState::stopping;
  });
  if (!group.empty())
    stop_group(group, fmt::format("restarting after its dependency {}", root.name()));
}

ARM_END_NAMESPACE
