// armsim: runs seeded simulations of the supervisor and reports the first failure, shrunk.
//
//   armsim [--seeds N] [--sanitized-seeds N] [--first-seed S] [--steps N] [--services N]
//          [--keep-going]
//   armsim --replay SEED [--steps N]       one seed, with its shrunk step list on failure
//
// --sanitized-seeds N replaces --seeds when the run is sanitized: ARM_SANITIZED is set in the
// environment (scripts/sanitize.sh sets it) or this program was built with AddressSanitizer.
// A sanitized step costs about 20 plain ones, so the sanitizer run does fewer seeds.
// --keep-going reports the first failure of every failing seed, unshrunk, instead of stopping
// at the first failing seed: the way to survey a core that fails a known way.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "simulation.hpp"

namespace {

bool sanitized_run() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#else
  const char* flag = std::getenv("ARM_SANITIZED");
  return flag && *flag && std::string_view(flag) != "0";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 100;
  std::optional<std::uint64_t> sanitized_seeds;
  std::size_t steps = 2000;
  std::size_t services = 200;
  bool keep_going = false;
  bool replay = false;
  for (int i = 1; i < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--keep-going") {
      keep_going = true;
      --i;
      continue;
    }
    if (i + 1 == argc) {
      fmt::print(stderr, "armsim: {} needs a value\n", flag);
      return 2;
    }
    auto value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--seeds")
      seeds = value;
    else if (flag == "--sanitized-seeds")
      sanitized_seeds = value;
    else if (flag == "--first-seed")
      first_seed = value;
    else if (flag == "--steps")
      steps = value;
    else if (flag == "--services")
      services = value;
    else if (flag == "--replay")
      first_seed = value, replay = true;
    else {
      fmt::print(stderr, "armsim: unknown option {}\n", flag);
      return 2;
    }
  }

  if (sanitized_seeds && sanitized_run()) seeds = *sanitized_seeds;
  if (replay) seeds = 1;

  auto began = std::chrono::steady_clock::now();
  std::uint64_t total_steps = 0;
  std::uint64_t failed = 0;
  for (std::uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    auto scenario = arm::sim::generate(seed, steps, services);
    auto failure = arm::sim::run(scenario, scenario.steps);
    total_steps += scenario.steps.size();
    if (!failure) continue;
    fmt::print("seed {} FAILED after step {}: {}\n", seed, failure->step_index, failure->what);
    if (keep_going) {
      ++failed;
      continue;
    }
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
  if (failed != 0) {
    fmt::print("{} of {} seeds FAILED; {} steps in {:.1f} s\n", failed, seeds, total_steps,
               seconds);
    return 1;
  }
  fmt::print("{} seeds, {} steps, no invariant broken, in {:.1f} s ({:.0f} steps/s)\n", seeds,
             total_steps, seconds, total_steps / seconds);
  return 0;
}
