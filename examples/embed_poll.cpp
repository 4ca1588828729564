// Embedding libarm in your own program's poll(2) loop: the whole glue is below. The same
// shape fits epoll, libuv (uv_poll_t on the two fds, uv_timer_t for next_deadline) or asio
// (posix::stream_descriptor + steady_timer).
//
//   embed_poll CONFIG.toml     supervises CONFIG's default services until Ctrl-C
#include <poll.h>
#include <signal.h>

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "arm/config.hpp"
#include "arm/posix.hpp"
#include "arm/supervisor.hpp"

namespace {

volatile sig_atomic_t interrupted = 0;

// Where replies and state changes go. A real host would route replies to whoever asked.
class PrintingNotifier final : public arm::Notifier {
 public:
  void reply(const arm::Reply& reply) override {
    fmt::print("reply: {} {} {}\n", reply.service, arm::to_string(reply.outcome), reply.message);
  }
  void service_event(const arm::ServiceEvent& event) override {
    fmt::print("{}: {} {}\n", event.service, arm::to_string(event.state), event.detail);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} CONFIG.toml\n", argv[0]);
    return 2;
  }
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
  ::signal(SIGINT, [](int) { interrupted = 1; });

  supervisor.start_default_services();
  while (!supervisor.finished()) {
    if (interrupted && !supervisor.shutting_down()) supervisor.shutdown(std::nullopt);
    pollfd fds[] = {{(*spawner)->exit_fd(), POLLIN, 0}, {(*watcher)->fd(), POLLIN, 0}};
    int timeout = -1;
    if (auto deadline = supervisor.next_deadline()) {
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(*deadline - clock.now()).count();
      timeout = static_cast<int>(std::max<long long>(wait, 0));
    }
    ::poll(fds, 2, interrupted ? 100 : timeout);
    (*spawner)->collect_exits(
        [&](arm::ProcessId pid, arm::ExitStatus status) { supervisor.on_child_exit(pid, status); });
    (*watcher)->collect_changes(
        [&](const arm::WatchedFile& file) { supervisor.on_file_changed(file); });
    supervisor.on_timer();
  }
  return 0;
}
