// libFuzzer target: any bytes as a live re-exec's handover (issue 15). resume() must return a
// supervisor or errors that name a line, never crash, never let an exception escape, and never
// call an adapter for a handover it refuses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "arm/supervisor.hpp"

namespace {

class StillClock final : public arm::Clock {
 public:
  arm::TimePoint now() const override { return arm::TimePoint{} + std::chrono::hours(1); }
};

// Counts what it is asked; resume spawns nothing, whatever the handover says.
class CountingSpawner final : public arm::Spawner {
 public:
  std::expected<arm::ProcessId, arm::SpawnError> spawn(const arm::SpawnRequest&) override {
    ++spawns;
    return 100000 + spawns;
  }
  void signal_group(arm::ProcessId, arm::StopSignal) override { ++signals; }
  void signal_process(arm::ProcessId, arm::ReloadSignal) override { ++signals; }
  int spawns = 0;
  int signals = 0;
};

class QuietNotifier final : public arm::Notifier {
 public:
  void reply(const arm::Reply&) override {}
  void service_event(const arm::ServiceEvent&) override {}
};

arm::Config two_services() {
  arm::Config config;
  for (const char* name : {"web", "db"}) {
    arm::ServiceSpec spec;
    spec.name = name;
    spec.binary = "/bin/true";
    config.services.emplace(name, spec);
  }
  config.services["web"].depends_on = {"db"};
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const arm::Config config = two_services();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  StillClock clock;
  CountingSpawner spawner;
  QuietNotifier notifier;
  auto resumed = arm::ServiceSupervisor::resume(text, config, clock, spawner, notifier);
  if (resumed) {
    if (spawner.spawns != 0 || spawner.signals != 0) std::abort();  // resume acts on nothing
    (void)(*resumed)->status("web");
    (void)(*resumed)->handover();
  } else {
    for (const auto& error : resumed.error()) {
      if (error.line < 1) std::abort();  // every refusal points at a line
      (void)error.to_string();
    }
  }
  return 0;
}
