// The pure core's speed under a do-nothing spawner (Google Benchmark): how many events per
// second arm::ServiceSupervisor handles when the kernel costs nothing. The figures are
// `items_per_second`, one item being one input (a request, an exit, a timer).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "arm/supervisor.hpp"

namespace {

class StillClock final : public arm::Clock {
 public:
  arm::TimePoint now() const override { return now_; }
  void advance(arm::Duration by) { now_ += by; }

 private:
  arm::TimePoint now_ = arm::TimePoint{} + std::chrono::hours(1);
};

// Hands out pids and forgets them: nothing grows however long the benchmark runs.
class CountingSpawner final : public arm::Spawner {
 public:
  std::expected<arm::ProcessId, arm::SpawnError> spawn(const arm::SpawnRequest&) override {
    return ++last_pid;
  }
  void signal_group(arm::ProcessId, arm::StopSignal) override {}
  void signal_process(arm::ProcessId, arm::ReloadSignal) override {}
  arm::ProcessId last_pid = 1000;
};

class QuietNotifier final : public arm::Notifier {
 public:
  void reply(const arm::Reply&) override { ++replies; }
  void service_event(const arm::ServiceEvent&) override {}
  std::uint64_t replies = 0;
};

arm::Config services(int count, int edges_per_service = 0) {
  arm::Config config;
  for (int i = 0; i < count; ++i) {
    arm::ServiceSpec spec;
    spec.name = fmt::format("s{}", i);
    spec.binary = "/bin/x";
    spec.backoff_initial = arm::Milliseconds(0);
    for (int e = 1; e <= edges_per_service && i - e >= 0; ++e)
      spec.depends_on.push_back(fmt::format("s{}", (i - e * 7) >= 0 ? i - e * 7 : i - e));
    std::ranges::sort(spec.depends_on);
    spec.depends_on.erase(std::unique(spec.depends_on.begin(), spec.depends_on.end()),
                          spec.depends_on.end());
    config.services.emplace(spec.name, spec);
  }
  return config;
}

// A supervisor wired to the do-nothing effects.
struct Rig {
  explicit Rig(const arm::Config& config) : supervisor(config, clock, spawner, notifier) {}
  StillClock clock;
  CountingSpawner spawner;
  QuietNotifier notifier;
  arm::ServiceSupervisor supervisor;
};

// A running service crashes and is restarted (backoff 0): two inputs, an exit and a timer.
void crash_and_restart(benchmark::State& state) {
  int count = static_cast<int>(state.range(0));
  Rig rig(services(count));
  auto& [clock, spawner, notifier, supervisor] = rig;
  std::vector<arm::ProcessId> pids(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    supervisor.start(std::nullopt, fmt::format("s{}", i));
    pids[static_cast<std::size_t>(i)] = spawner.last_pid;
  }
  std::size_t next = 0;
  for (auto _ : state) {
    // A second between crashes: each service's crashes are `count` seconds apart, so restart
    // intensity (5 in 60 s by default) never gives up and backoff resets to 0 each time; on a
    // clock that stood still, every restart after the fifth was refused and not measured.
    clock.advance(std::chrono::seconds(1));
    supervisor.on_child_exit(pids[next], arm::ExitStatus::signaled(9));
    supervisor.on_timer();
    pids[next] = spawner.last_pid;
    next = (next + 1) % pids.size();
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(crash_and_restart)->Arg(100)->Arg(10'000);

// A client starts a service, stops it, and the process is reaped: three inputs.
void start_stop_reap(benchmark::State& state) {
  int count = static_cast<int>(state.range(0));
  Rig rig(services(count));
  auto& [clock, spawner, notifier, supervisor] = rig;
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back(fmt::format("s{}", i));
  std::uint64_t request = 0;
  std::size_t next = 0;
  for (auto _ : state) {
    supervisor.start(arm::RequestRef{1, ++request}, names[next]);
    arm::ProcessId pid = spawner.last_pid;
    supervisor.stop(arm::RequestRef{1, ++request}, names[next]);
    supervisor.on_child_exit(pid, arm::ExitStatus::signaled(15));
    next = (next + 1) % names.size();
  }
  state.SetItemsProcessed(state.iterations() * 3);
}
BENCHMARK(start_stop_reap)->Arg(100)->Arg(10'000);

// `status NAME`: one query.
void status_of_one(benchmark::State& state) {
  Rig rig(services(1000));
  auto& supervisor = rig.supervisor;
  supervisor.start(std::nullopt, "s500");
  for (auto _ : state) benchmark::DoNotOptimize(supervisor.status("s500"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(status_of_one);

// Starting every service of a dependency graph, then shutting it down and reaping every
// process: items are services (each with up to 5 hard dependencies).
void graph_start_and_shutdown(benchmark::State& state) {
  int count = static_cast<int>(state.range(0));
  arm::Config config = services(count, 5);
  for (auto _ : state) {
    Rig rig(config);
    auto& [clock, spawner, notifier, supervisor] = rig;
    arm::ProcessId first = spawner.last_pid + 1;
    supervisor.start(std::nullopt, fmt::format("s{}", count - 1));
    for (int i = 0; i < count; ++i) supervisor.start(std::nullopt, fmt::format("s{}", i));
    supervisor.shutdown(std::nullopt);
    // Reaping in spawn order: leaves first would be the kind order; this is the unkind one.
    for (arm::ProcessId pid = first; pid <= spawner.last_pid; ++pid)
      supervisor.on_child_exit(pid, arm::ExitStatus::signaled(15));
    if (!supervisor.finished()) state.SkipWithError("shutdown did not finish");
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(graph_start_and_shutdown)->Arg(1'000)->Arg(10'000)->Unit(benchmark::kMillisecond);

// A live re-exec's two halves in the core (issue 15): writing every running service's state,
// and a new supervisor resuming from that text. The re-exec's unavailable time includes both.
void handover_write(benchmark::State& state) {
  int count = static_cast<int>(state.range(0));
  Rig rig(services(count));
  for (int i = 0; i < count; ++i) rig.supervisor.start(std::nullopt, fmt::format("s{}", i));
  for (auto _ : state) benchmark::DoNotOptimize(rig.supervisor.handover());
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(handover_write)->Arg(1'000)->Unit(benchmark::kMillisecond);

void handover_resume(benchmark::State& state) {
  int count = static_cast<int>(state.range(0));
  arm::Config config = services(count);
  Rig rig(config);
  for (int i = 0; i < count; ++i) rig.supervisor.start(std::nullopt, fmt::format("s{}", i));
  std::string text = rig.supervisor.handover();
  StillClock clock;
  CountingSpawner spawner;
  QuietNotifier notifier;
  for (auto _ : state) {
    auto resumed = arm::ServiceSupervisor::resume(text, config, clock, spawner, notifier);
    if (!resumed) state.SkipWithError("resume failed");
    benchmark::DoNotOptimize(resumed);
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(handover_resume)->Arg(1'000)->Unit(benchmark::kMillisecond);

// What a re-exec's new armd parses besides: the configuration of as many services.
void config_parse(benchmark::State& state) {
  int count = static_cast<int>(state.range(0));
  std::string text;
  for (int i = 0; i < count; ++i)
    text += fmt::format("[services.s{}]\nbinary = \"/bin/x\"\nstart = \"boot\"\n\n", i);
  for (auto _ : state) {
    auto config = arm::parse_config(text, "bench.toml");
    if (!config) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(config);
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(config_parse)->Arg(1'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
