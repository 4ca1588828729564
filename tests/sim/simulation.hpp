// Deterministic simulation of the supervisor: a seeded generator produces a configuration and a
// list of steps (requests from several clients, crashes, signals taking effect, file changes,
// reloads, spawn failures, disconnects, time passing, shutdown, readiness and watchdog
// notifications); a runner replays any list of
// steps against the real ServiceSupervisor wired to the fakes, checking invariants after every
// step. Steps refer to services and processes by index modulo what exists, so any subsequence
// of a list is itself a valid list: that is what lets a failure be shrunk.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/config.hpp"

namespace arm::sim {

enum class Action {
  start,
  stop,
  restart,
  status,
  crash,          // a live process dies (exit code or signal)
  settle,         // processes that were signalled act on it
  advance_small,  // time moves by up to a second
  advance_large,  // time jumps by up to an hour
  file_changed,
  reload,        // a mutated configuration
  fail_spawns,   // spawns of one service start failing
  allow_spawns,  // ... and work again
  client_gone,
  reset,  // a request to clear a service's failure
  shutdown,
  main_exit,  // a live main process dies, leaving other processes of its service running
  notify,     // sd_notify from a process (READY=1, WATCHDOG=1, ...), or from a stale or unknown pid
  probe,   // a health probe in flight ends (healthy or not), or a result for a stale or unknown one
  connect  // a client connects to a service's listening socket (issue 14)
};

struct Step {
  Action action = Action::status;
  std::uint32_t a = 0;  // meaning depends on the action: service, client, process index...
  std::uint32_t b = 0;
  std::uint32_t c = 0;
};

struct Scenario {
  std::uint64_t seed = 0;
  Config config;
  std::vector<std::string> config_files;
  std::vector<Step> steps;
};

// A reproducible scenario for `seed`: 10..max_services services and `step_count` steps.
Scenario generate(std::uint64_t seed, std::size_t step_count, std::size_t max_services = 200);

struct Failure {
  std::size_t step_index = 0;  // the step after which an invariant broke
  std::string what;
};

// Replays `steps` of `scenario` (a subsequence of scenario.steps, or all of them), checking
// every invariant after each step, and then winds down: shutdown, time passing until every
// process is reaped, final checks. Returns the first broken invariant.
std::optional<Failure> run(const Scenario& scenario, const std::vector<Step>& steps);

// The shortest step list (greedy delta debugging) that still fails.
std::vector<Step> shrink(const Scenario& scenario, std::vector<Step> steps);

std::string_view action_name(Action action);
std::string describe(const Step& step);

}  // namespace arm::sim
