// Reload: a new, checked configuration applied in named steps. Only what changed is touched.
#include <algorithm>
#include <map>
#include <set>

#include "launch.hpp"
#include "supervisor_impl.hpp"

ARM_BEGIN_NAMESPACE

struct ServiceSupervisor::Impl::ReloadPlan {
  Config next;
  ArmSettings old_arm;
  std::set<std::string> old_defaults;
  // Soft edges give a reference once, when they appear: the old ones, to tell new from old.
  std::map<std::string, detail::WordList, std::less<>> old_wants;
  std::vector<Service*> launch_changed_running;
  std::vector<std::string> new_boot_services;  // start = boot, and not before this reload
  ReloadSummary summary;
};

// Step 1: services the new configuration drops. Their edges go first (others may point at
// services forgotten in this step); rebuild_graph() recounts from the new configuration.
void ServiceSupervisor::Impl::drop_removed(ReloadPlan& plan) {
  std::vector<Service*> gone;
  for (auto& [name, owned] : services) {
    if (!plan.next.services.contains(std::string(name)) && !owned->removed())
      gone.push_back(owned.get());
  }
  for (Service* service : gone) {
    service->references.active = false;
    if (auto& edges = service->graph.edges) {
      edges->hard_dependencies.clear();
      edges->soft_dependencies.clear();
    }
  }
  for (Service* service : gone) {
    plan.summary.removed.push_back(service->name());
    if (listeners && !service->settings().listen.empty()) listeners->drop(service->name());
    service->references.requests = 0;
    fail_start_waiters(*service, Outcome::start_failed, "removed from the configuration");
    switch (service->state) {
      case ServiceState::starting:
      case ServiceState::running:
        service->after_exit = AfterExit::forget;
        stop_group({service}, "removed from the configuration");
        break;
      case ServiceState::stopping:
        service->after_exit = AfterExit::forget;  // whatever was decided before
        break;
      case ServiceState::waiting:
      case ServiceState::backoff:
      case ServiceState::stopped:
      case ServiceState::listening:
      case ServiceState::failed:
        forget(*service);
        break;
    }
  }
}

// Step 2: added services appear; changed ones take their new settings. A running service whose
// launch changed is restarted in step 4.
void ServiceSupervisor::Impl::apply_specs(ReloadPlan& plan) {
  for (auto& [name, service] : services) plan.old_wants.emplace(name, service->spec.wants());
  arm = plan.next.arm;
  // The specs are copied out of plan.next, not moved: see the constructor (registry.cpp).
  for (auto& [name, next_spec] : plan.next.services) {
    Service* service = find(name);
    if (!service) {
      rest(add_service(next_spec), true);
      plan.summary.added.push_back(name);
      continue;
    }
    detail::StoredSpec spec(next_spec, settings_pool);
    if (service->removed()) {  // dropped by an earlier reload, still stopping: it stays now
      service->after_exit = AfterExit::settle_stopped;
      bool health_changed = !(spec.settings().health == service->settings().health);
      replace_spec(*service, std::move(spec));
      // Its old probes' record goes with its old check: left, it would set its next run's deadline.
      if (health_changed) health_check_changed(*service);
      plan.summary.updated.push_back(name);
      continue;
    }
    // The sockets are part of what a process was given: other sockets, another process. So is
    // what it reads of its config file, when a loader told (config_digest).
    bool launch_changed = !detail::same_launch(detail::make_launch(service->spec, plan.old_arm),
                                               detail::make_launch(spec, arm)) ||
                          spec.settings().listen != service->settings().listen ||
                          spec.identity().config_digest != service->spec.identity().config_digest;
    if (!launch_changed && spec == service->spec) continue;
    bool health_changed = !(spec.settings().health == service->settings().health);
    replace_spec(*service, std::move(spec));
    if (health_changed) health_check_changed(*service);
    rest(*service, true);           // start = on-demand added or removed
    update_socket_watch(*service);  // idle_stop added or removed
    // A re-arm pending under the old settings goes when the new ones have none.
    if (service->state == ServiceState::failed && !service->settings().retry_failed_after)
      cancel_deadline(*service);
    if (launch_changed &&
        (service->state == ServiceState::running || service->state == ServiceState::starting)) {
      plan.summary.restarted.push_back(name);
      plan.launch_changed_running.push_back(service);
    } else {
      plan.summary.updated.push_back(name);
    }
  }
}

// Step 3: new edges. What a wanted service now depends on is started; what no one holds any
// more is released; a stop that waited for a dependent it no longer has goes on.
void ServiceSupervisor::Impl::follow_new_edges(ReloadPlan& plan) {
  rebuild_graph();
  for (auto& [name, owned] : services) {
    Service& service = *owned;
    if (!service.references.active) continue;
    for (Service* dependency : service.graph.hard_dependencies()) ensure_interest(*dependency);
    auto previous = plan.old_wants.find(name);
    for (Service* wanted : service.graph.soft_dependencies()) {
      bool is_new = previous == plan.old_wants.end() ||
                    std::ranges::find(previous->second, wanted->name()) == previous->second.end();
      if (is_new && wanted->dormant()) {
        ++wanted->references.requests;
        activate(*wanted);
      }
    }
  }
  recount();  // activation counted the holders of the new edges again
  for (auto& [name, owned] : services) {
    send_term_when_clear(*owned);
    if (owned->state == ServiceState::waiting) enqueue_start(*owned);
    if (owned->references.active && !owned->wanted()) release_queue.push_back(owned.get());
  }
}

// Step 4: changed services restart, their dependents after the A running service that gained
// a hard dependency which is not up (yet) stops and waits for it, as after a crash of that
// dependency: order holds.
void ServiceSupervisor::Impl::restart_changed(ReloadPlan& plan) {
  for (Service* service : plan.launch_changed_running)
    restart_with_fresh_backoff(*service, "configuration reloaded");
  drain();
  for (auto& [name, owned] : services) {
    Service& service = *owned;
    // A starting one too: it would otherwise become running, once ready, without it.
    bool up = service.state == ServiceState::running || service.state == ServiceState::starting;
    if (!up || !service.settings().restart_with_dependencies) continue;
    bool dependency_down =
        std::ranges::any_of(service.graph.hard_dependencies(),
                            [](const Service* d) { return d->state != ServiceState::running; });
    if (dependency_down) restart_with_fresh_backoff(service, "a new dependency is not running");
  }
  drain();
}

// Step 5: services that became default services start.
void ServiceSupervisor::Impl::start_new_defaults(const ReloadPlan& plan) {
  for (const auto& name : arm.default_services) {
    if (!plan.old_defaults.contains(name)) start_request(std::nullopt, name);
  }
  for (const auto& name : plan.new_boot_services) {
    if (!plan.old_defaults.contains(name)) start_request(std::nullopt, name);
  }
}

ReloadSummary ServiceSupervisor::Impl::apply(Config next) {
  ReloadPlan plan;
  plan.old_arm = arm;
  plan.old_defaults.insert(arm.default_services.begin(), arm.default_services.end());
  plan.next = std::move(next);
  for (const auto& [name, spec] : plan.next.services) {
    const Service* before = find(name);
    if (spec.start == StartMode::boot &&
        (!before || before->removed() || before->settings().start != StartMode::boot))
      plan.new_boot_services.push_back(name);
  }
  drop_removed(plan);
  apply_specs(plan);
  follow_new_edges(plan);
  restart_changed(plan);
  start_new_defaults(plan);
  if (listeners) listeners->release_unheld();  // the sockets no service lists any more
  return std::move(plan.summary);
}

ARM_END_NAMESPACE
