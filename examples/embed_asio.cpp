// Embedding libarm in a standalone asio loop (not Boost's): the whole glue is below. A
// posix::stream_descriptor waits on each of the spawner's and the watcher's fds, a steady_timer
// is re-armed whenever the supervisor's next deadline changes, and a signal_set takes SIGINT and
// SIGTERM. It supervises CONFIG's default services (examples/embed.toml: one that keeps
// crashing, one that runs), prints one line per event, and on SIGINT or SIGTERM stops every
// service and exits 0 once all are reaped.
//
//   embed_asio CONFIG.toml
#include <unistd.h>

#include <fmt/format.h>
#include <asio.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <optional>
#include <system_error>

#include "arm/config.hpp"
#include "arm/posix.hpp"
#include "arm/supervisor.hpp"

namespace {

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

// Calls on_ready() each time `fd` is readable, until the loop stops. asio's waits are one-shot
// and edge-triggered: the next wait is started *before* on_ready() collects, so that what becomes
// ready while it runs wakes that wait instead of going unnoticed.
void watch(asio::posix::stream_descriptor& fd, std::function<void()> on_ready) {
  fd.async_wait(asio::posix::stream_descriptor::wait_read, [&fd, on_ready](std::error_code error) {
    if (error) return;  // the loop is going away
    watch(fd, on_ready);
    on_ready();
  });
}

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

  asio::io_context io;
  // A stream_descriptor closes its fd when destroyed: give it a copy, the adapters keep theirs.
  asio::posix::stream_descriptor exits(io, ::dup((*spawner)->exit_fd()));
  asio::posix::stream_descriptor changes(io, ::dup((*watcher)->fd()));
  asio::steady_timer timer(io);  // steady_clock: arm::TimePoint's clock
  asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  auto stop_when_finished = [&] {
    if (supervisor.finished()) io.stop();
  };

  watch(exits, [&] {
    (*spawner)->collect_exits(
        [&](arm::ProcessId pid, arm::ExitStatus status) { supervisor.on_child_exit(pid, status); });
    stop_when_finished();
  });
  watch(changes, [&] {
    (*watcher)->collect_changes(
        [&](const arm::WatchedFile& file) { supervisor.on_file_changed(file); });
  });
  stop_signals.async_wait([&](std::error_code error, int) {
    if (error) return;
    supervisor.shutdown(std::nullopt);
    stop_when_finished();
  });
  // The supervisor calls this whenever its next deadline changes (and once now).
  supervisor.set_deadline_listener([&](std::optional<arm::TimePoint> deadline) {
    timer.cancel();
    if (!deadline) return;
    timer.expires_at(*deadline);
    timer.async_wait([&](std::error_code error) {
      if (error) return;  // cancelled: a newer deadline replaced this one
      supervisor.on_timer();
      stop_when_finished();
    });
  });

  supervisor.start_default_services();
  io.run();  // until stop_when_finished() stops it
  supervisor.set_deadline_listener({});
  fmt::print("every service stopped\n");
  return 0;
}
