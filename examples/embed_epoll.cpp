// Embedding libarm in an epoll(7) loop: the whole glue is below. One epoll set watches the
// spawner's and the watcher's fds, a timerfd armed at the supervisor's next deadline, and a
// signalfd for SIGINT and SIGTERM. It supervises CONFIG's default services (examples/embed.toml:
// one that keeps crashing, one that runs), prints one line per event, and on SIGINT or SIGTERM
// stops every service and exits 0 once all are reaped.
//
//   embed_epoll CONFIG.toml
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <fmt/format.h>
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

  // SIGINT and SIGTERM are blocked and read from a signalfd instead (children start with an
  // empty signal mask all the same). Non-blocking fds: a read finds nothing when the timer was
  // re-armed between epoll_wait() and the read.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  const int signals = ::signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  // steady_clock is CLOCK_MONOTONIC: a deadline is an absolute time on the timerfd's clock.
  const int timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  if (signals < 0 || timer < 0 || epoll < 0) {
    std::perror("cannot set up");
    return 1;
  }
  for (int fd : {(*spawner)->exit_fd(), (*watcher)->fd(), timer, signals}) {
    epoll_event interest = {};
    interest.events = EPOLLIN;
    interest.data.fd = fd;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &interest);
  }
  // The supervisor calls this whenever its next deadline changes (and once now).
  supervisor.set_deadline_listener([timer](std::optional<arm::TimePoint> deadline) {
    itimerspec when = {};  // all zero: disarmed
    if (deadline) {
      auto since_boot = deadline->time_since_epoch();
      auto seconds = std::chrono::floor<std::chrono::seconds>(since_boot);
      when.it_value = {seconds.count(), std::chrono::nanoseconds(since_boot - seconds).count()};
    }
    ::timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, nullptr);
  });

  supervisor.start_default_services();
  while (!supervisor.finished()) {
    epoll_event ready[4];
    const int count = ::epoll_wait(epoll, ready, 4, -1);
    for (int i = 0; i < count; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == (*spawner)->exit_fd()) {
        (*spawner)->collect_exits([&](arm::ProcessId pid, arm::ExitStatus status) {
          supervisor.on_child_exit(pid, status);
        });
      } else if (fd == (*watcher)->fd()) {
        (*watcher)->collect_changes(
            [&](const arm::WatchedFile& file) { supervisor.on_file_changed(file); });
      } else if (fd == timer) {
        std::uint64_t expirations;
        [[maybe_unused]] auto ignored = ::read(timer, &expirations, sizeof expirations);
        supervisor.on_timer();
      } else if (fd == signals) {
        signalfd_siginfo signal;
        [[maybe_unused]] auto ignored = ::read(signals, &signal, sizeof signal);
        if (!supervisor.shutting_down()) supervisor.shutdown(std::nullopt);
      }
    }
  }
  supervisor.set_deadline_listener({});  // before its timerfd is closed
  for (int fd : {epoll, timer, signals}) ::close(fd);
  fmt::print("every service stopped\n");
  return 0;
}
