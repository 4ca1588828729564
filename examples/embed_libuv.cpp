// Embedding libarm in a libuv loop: the whole glue is below. A uv_poll_t on each of the spawner's
// and the watcher's fds, a uv_timer_t re-armed whenever the supervisor's next deadline changes,
// and a uv_signal_t each for SIGINT and SIGTERM. It supervises CONFIG's default services
// (examples/embed.toml: one that keeps crashing, one that runs), prints one line per event, and
// on SIGINT or SIGTERM stops every service and exits 0 once all are reaped.
//
//   embed_libuv CONFIG.toml
#include <uv.h>

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>

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

// What libuv's callbacks reach through each handle's `data`.
struct Host {
  arm::ServiceSupervisor& supervisor;
  arm::posix::PosixSpawner& spawner;
  arm::posix::InotifyWatcher& watcher;
  uv_loop_t* loop;
  uv_timer_t timer;
};

// Once every process is reaped, close every handle: uv_run() then returns.
void close_when_finished(Host& host) {
  if (!host.supervisor.finished()) return;
  uv_walk(
      host.loop,
      [](uv_handle_t* handle, void*) {
        if (!uv_is_closing(handle)) uv_close(handle, nullptr);
      },
      nullptr);
}

void on_timer(uv_timer_t* timer);

// libuv counts whole milliseconds from a cached time, so a timer may fire up to 1 ms before the
// deadline; on_timer() then finds nothing due and the deadline stays: on_timer re-arms it.
void arm_timer(Host& host, std::optional<arm::TimePoint> deadline) {
  if (!deadline) {
    uv_timer_stop(&host.timer);
    return;
  }
  uv_update_time(host.loop);
  auto wait =
      std::chrono::ceil<std::chrono::milliseconds>(*deadline - arm::TimePoint::clock::now());
  uv_timer_start(&host.timer, on_timer,
                 static_cast<std::uint64_t>(std::max<long long>(wait.count(), 0)), 0);
}

void on_timer(uv_timer_t* timer) {
  Host& host = *static_cast<Host*>(timer->data);
  host.supervisor.on_timer();
  arm_timer(host, host.supervisor.next_deadline());
  close_when_finished(host);
}

void on_exits(uv_poll_t* poll, int, int) {
  Host& host = *static_cast<Host*>(poll->data);
  host.spawner.collect_exits([&](arm::ProcessId pid, arm::ExitStatus status) {
    host.supervisor.on_child_exit(pid, status);
  });
  close_when_finished(host);
}

void on_changes(uv_poll_t* poll, int, int) {
  Host& host = *static_cast<Host*>(poll->data);
  host.watcher.collect_changes(
      [&](const arm::WatchedFile& file) { host.supervisor.on_file_changed(file); });
}

void on_stop_signal(uv_signal_t* signal, int) {
  Host& host = *static_cast<Host*>(signal->data);
  if (!host.supervisor.shutting_down()) host.supervisor.shutdown(std::nullopt);
  close_when_finished(host);
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

  uv_loop_t loop;
  uv_loop_init(&loop);
  Host host{supervisor, **spawner, **watcher, &loop, {}};
  uv_poll_t exits, changes;
  uv_signal_t interrupt, terminate;
  uv_timer_init(&loop, &host.timer);
  uv_poll_init(&loop, &exits, (*spawner)->exit_fd());
  uv_poll_init(&loop, &changes, (*watcher)->fd());
  uv_signal_init(&loop, &interrupt);
  uv_signal_init(&loop, &terminate);
  host.timer.data = exits.data = changes.data = interrupt.data = terminate.data = &host;
  uv_poll_start(&exits, UV_READABLE, on_exits);
  uv_poll_start(&changes, UV_READABLE, on_changes);
  uv_signal_start(&interrupt, on_stop_signal, SIGINT);
  uv_signal_start(&terminate, on_stop_signal, SIGTERM);
  // The supervisor calls this whenever its next deadline changes (and once now).
  supervisor.set_deadline_listener(
      [&host](std::optional<arm::TimePoint> deadline) { arm_timer(host, deadline); });

  supervisor.start_default_services();
  uv_run(&loop, UV_RUN_DEFAULT);  // until close_when_finished() has closed every handle
  supervisor.set_deadline_listener({});
  uv_loop_close(&loop);
  fmt::print("every service stopped\n");
  return 0;
}
