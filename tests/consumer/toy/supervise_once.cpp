// The toy parent's program: supervises one real child with arm::ServiceSupervisor and the POSIX
// adapters. The child appends a line to MARKER and fails; libarm restarts it once
// (restart = "on-failure", max_restarts = 1), then it is failed. Prints what it saw; exits 0
// when the child ran twice and the library's version is the headers'.
//
//   supervise_once MARKER
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <arm/config.hpp>
#include <arm/posix.hpp>
#include <arm/supervisor.hpp>
#include <arm/version.hpp>

namespace {

class CountingNotifier final : public arm::Notifier {
 public:
  void reply(const arm::Reply&) override {}
  void service_event(const arm::ServiceEvent& event) override {
    std::printf("%s: %s -> %s %s\n", event.service.c_str(),
                std::string(arm::to_string(event.previous)).c_str(),
                std::string(arm::to_string(event.state)).c_str(), event.detail.c_str());
    if (event.state == arm::ServiceState::running && event.previous != event.state) ++runs;
    if (event.state == arm::ServiceState::failed) failed = true;
  }
  int runs = 0;
  bool failed = false;
};

int lines_in(const char* path) {
  std::ifstream in(path);
  return static_cast<int>(
      std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: supervise_once MARKER\n");
    return 2;
  }
  if (arm::version() != ARM_VERSION) {
    std::fprintf(stderr, "library %.*s, headers %s\n", static_cast<int>(arm::version().size()),
                 arm::version().data(), ARM_VERSION);
    return 1;
  }
  const std::string toml = std::string("[arm]\ndefault_services = [\"once\"]\n") +
                           "[services.once]\nbinary = \"/bin/sh\"\n" +
                           "options = [\"-c\", \"echo ran >> \\\"$0\\\"; exit 3\", \"" + argv[1] +
                           "\"]\nrestart = \"on-failure\"\nmax_restarts = 1\n" +
                           "backoff_initial = \"10ms\"\n";
  auto config = arm::parse_config(toml, "toy.toml");
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().to_string().c_str());
    return 1;
  }
  auto spawner = arm::posix::PosixSpawner::create();
  if (!spawner) {
    std::fprintf(stderr, "spawner: %s\n", spawner.error().to_string().c_str());
    return 1;
  }
  arm::posix::SteadyClock clock;
  CountingNotifier notifier;
  auto supervisor = arm::ServiceSupervisor::create(std::move(*config), clock, **spawner, notifier);
  if (!supervisor) {
    std::fprintf(stderr, "supervisor: %s\n", supervisor.error().front().to_string().c_str());
    return 1;
  }
  arm::ServiceSupervisor& arm_supervisor = **supervisor;
  arm_supervisor.start_default_services();
  const auto give_up = clock.now() + std::chrono::seconds(60);
  while (!arm_supervisor.finished() && clock.now() < give_up) {
    if (notifier.failed && !arm_supervisor.shutting_down()) arm_supervisor.shutdown(std::nullopt);
    pollfd fds[] = {{(*spawner)->exit_fd(), POLLIN, 0}};
    int timeout = 100;
    if (auto deadline = arm_supervisor.next_deadline()) {
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(*deadline - clock.now()).count();
      timeout = static_cast<int>(std::clamp<long long>(wait, 0, 100));
    }
    ::poll(fds, 1, timeout);
    (*spawner)->collect_exits([&](arm::ProcessId pid, arm::ExitStatus status) {
      arm_supervisor.on_child_exit(pid, status);
    });
    arm_supervisor.on_timer();
  }
  const int lines = lines_in(argv[1]);
  std::printf("runs seen: %d, lines written: %d, failed: %s, finished: %s\n", notifier.runs, lines,
              notifier.failed ? "yes" : "no", arm_supervisor.finished() ? "yes" : "no");
  return notifier.runs == 2 && lines == 2 && notifier.failed && arm_supervisor.finished() ? 0 : 1;
}
