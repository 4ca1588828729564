// Embedding libarm in your own program's poll(2) loop: the whole glue is below. It supervises
// CONFIG's default services (examples/embed.toml: one that keeps crashing, one that runs),
// prints one line per event, and on SIGINT or SIGTERM stops every service and exits 0 once all
// are reaped. embed_epoll.cpp, embed_libuv.cpp and embed_asio.cpp do the same in other loops.
//
//   embed_poll CONFIG.toml
#include <poll.h>
#include <signal.h>

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "arm/config.hpp"
#include "arm/posix.hpp"
#include "arm/supervisor.hpp"

namespace {

volatile sig_atomic_t stop_requested = 0;

// Where replies and state changes go. A real host would route replies to whoever asked.
class PrintingNotifier final : public arm::Notifier {
 public:
  void reply(const arm::Reply& reply) override {
    fmt::print("reply: {} {} {}\n", reply.service, arm::to_string(reply.outcome), reply.message);
  }
  void service_event(const arm::ServiceEvent& event) override {
    fmt::print("{}: {} -> {}{}{}\n", event.service, arm::to_string(event.previous),
               arm::to_string(event.state), event.detail.empty() ? "" : " ", event.detail);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} CONFIG.toml\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line per event, even into a pipe
  auto config = arm::load_config_file(argv[1]);
  if (!config) {
    fmt::print(stderr, "{}\n", config.error().to_string());
    return 2;
  }
  auto spawner = arm::posix::PosixSpawner::create();
  auto watcher = arm::posix::InotifyWatcher::create();
  if (!spawner || !watcher) {
    fmt::print(stderr, "cannot set up: {}\n",
               !spawner ? spawner.error().message : watcher.error().message);
    return 1;
  }
  arm::posix::SteadyClock clock;
  PrintingNotifier notifier;
  arm::ServiceSupervisor supervisor(std::move(*config), clock, **spawner, notifier, watcher->get());

  // SIGINT and SIGTERM stay blocked but inside ppoll(), which unblocks them atomically: one that
  // arrives while we work interrupts the next wait instead of slipping in before it.
  sigset_t stop_signals, while_waiting;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, &while_waiting);
  struct sigaction on_stop = {};
  on_stop.sa_handler = [](int) { stop_requested = 1; };
  sigaction(SIGINT, &on_stop, nullptr);
  sigaction(SIGTERM, &on_stop, nullptr);

  supervisor.start_default_services();
  while (!supervisor.finished()) {
    pollfd fds[] = {{(*spawner)->exit_fd(), POLLIN, 0}, {(*watcher)->fd(), POLLIN, 0}};
    std::optional<timespec> timeout;  // none: until an fd or a signal wakes us
    if (auto deadline = supervisor.next_deadline()) {
      auto wait = std::max(*deadline - clock.now(), arm::Duration::zero());
      auto seconds = std::chrono::floor<std::chrono::seconds>(wait);
      timeout = timespec{seconds.count(), std::chrono::nanoseconds(wait - seconds).count()};
    }
    ::ppoll(fds, 2, timeout ? &*timeout : nullptr, &while_waiting);
    if (stop_requested && !supervisor.shutting_down()) supervisor.shutdown(std::nullopt);
    (*spawner)->collect_exits(
        [&](arm::ProcessId pid, arm::ExitStatus status) { supervisor.on_child_exit(pid, status); });
    (*watcher)->collect_changes(
        [&](const arm::WatchedFile& file) { supervisor.on_file_changed(file); });
    supervisor.on_timer();
  }
  fmt::print("every service stopped\n");
  return 0;
}
