// The floor: the least any supervisor could do on this machine, run the same way as the
// supervisors it is compared with. It spawns N markers with posix_spawn, waits on a pidfd per
// child (epoll), spawns a replacement the moment one dies, and on SIGTERM stops them all with
// SIGTERM, reaps them and exits. No configuration, no logging, no control socket, no backoff.
//
//   floor MARKER LOGFILE N
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Child {
  pid_t pid = 0;
  int pidfd = -1;
};

// The floor keeps SIGTERM blocked (it reads it from a signalfd); its children start with none
// blocked.
posix_spawnattr_t* unblocked_attributes() {
  static posix_spawnattr_t attributes;
  static bool ready = false;
  if (!ready) {
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
    ready = true;
  }
  return &attributes;
}

Child spawn(const std::string& marker, const std::string& name, const std::string& log) {
  std::string argv0 = marker, argv1 = name, argv2 = log;
  char* argv[] = {argv0.data(), argv1.data(), argv2.data(), nullptr};
  Child child;
  if (posix_spawn(&child.pid, marker.c_str(), nullptr, unblocked_attributes(), argv, environ) != 0)
    std::exit(1);
  child.pidfd = static_cast<int>(syscall(SYS_pidfd_open, child.pid, 0));
  if (child.pidfd < 0) std::exit(1);
  return child;
}

void reap(Child& child) {
  siginfo_t info{};
  waitid(P_PIDFD, static_cast<id_t>(child.pidfd), &info, WEXITED);
  close(child.pidfd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  std::string marker = argv[1], log = argv[2];
  int n = std::atoi(argv[3]);

  sigset_t terminate;
  sigemptyset(&terminate);
  sigaddset(&terminate, SIGTERM);
  sigprocmask(SIG_BLOCK, &terminate, nullptr);
  int signal_fd = signalfd(-1, &terminate, SFD_CLOEXEC);
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{EPOLLIN, {.u64 = static_cast<std::uint64_t>(n)}};  // n: the signal
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, signal_fd, &event);

  std::vector<Child> children;
  for (int i = 0; i < n; ++i) children.push_back(spawn(marker, "s" + std::to_string(i), log));
  for (int i = 0; i < n; ++i) {
    epoll_event watch{EPOLLIN, {.u64 = static_cast<std::uint64_t>(i)}};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, children[static_cast<std::size_t>(i)].pidfd, &watch);
  }

  std::vector<epoll_event> ready(64);
  for (;;) {
    int count = epoll_wait(epoll_fd, ready.data(), static_cast<int>(ready.size()), -1);
    for (int k = 0; k < count; ++k) {
      auto index = ready[static_cast<std::size_t>(k)].data.u64;
      if (index == static_cast<std::uint64_t>(n)) {
        for (auto& child : children) kill(child.pid, SIGTERM);
        for (auto& child : children) reap(child);
        return 0;
      }
      Child& child = children[index];
      reap(child);
      child = spawn(marker, "s" + std::to_string(index), log);
      epoll_event watch{EPOLLIN, {.u64 = index}};
      epoll_ctl(epoll_fd, EPOLL_CTL_ADD, child.pidfd, &watch);
    }
  }
}
