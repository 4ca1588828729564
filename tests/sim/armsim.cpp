// armsim: runs seeded simulations of the supervisor and reports the first failure, shrunk.
//
//   armsim [--seeds N] [--first-seed S] [--steps N] [--services N]
//   armsim --replay SEED [--steps N]       one seed, with its shrunk step list on failure
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <string_view>

#include "simulation.hpp"

int main(int argc, char** argv) {
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 100;
  std::size_t steps = 2000;
  std::size_t services = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    auto value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--seeds")
      seeds = value;
    else if (flag == "--first-seed")
      first_seed = value;
    else if (flag == "--steps")
      steps = value;
    else if (flag == "--services")
      services = value;
    else if (flag == "--replay")
      first_seed = value, seeds = 1;
    else {
      fmt::print(stderr, "armsim: unknown option {}\n", flag);
      return 2;
    }
  }

  auto began = std::chrono::steady_clock::now();
  std::uint64_t total_steps = 0;
  for (std::uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    auto scenario = arm::sim::generate(seed, steps, services);
    auto failure = arm::sim::run(scenario, scenario.steps);
    total_steps += scenario.steps.size();
    if (!failure) continue;
    fmt::print("seed {} FAILED after step {}: {}\n", seed, failure->step_index, failure->what);
    auto shortest = arm::sim::shrink(scenario, scenario.steps);
    auto again = arm::sim::run(scenario, shortest);
    fmt::print("shrunk to {} steps ({}):\n", shortest.size(),
               again ? again->what : std::string("no longer fails?"));
    for (const auto& step : shortest) fmt::print("  {}\n", arm::sim::describe(step));
    if (std::getenv("ARMSIM_TRACE_SHRUNK")) {  // the shrunk steps once more, with every event
      setenv("ARMSIM_TRACE", "1", 1);
      (void)arm::sim::run(scenario, shortest);
      unsetenv("ARMSIM_TRACE");
    }
    fmt::print("replay: armsim --replay {} --steps {} --services {}\n", seed, steps, services);
    return 1;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  fmt::print("{} seeds, {} steps, no invariant broken; {:.0f} steps/s\n", seeds, total_steps,
             total_steps / seconds);
  return 0;
}
