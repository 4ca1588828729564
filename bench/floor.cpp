// The floor: the least any supervisor could do on this machine. Spawns N markers with
// posix_spawn, reaps them through pidfds, restarts a killed one at once, stops all with
// SIGTERM. Prints one JSON object of timings (nanoseconds) for bench/run.py.
//
//   floor MARKER LOGDIR N KILLS
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace {

long long now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1'000'000'000LL + t.tv_nsec;
}

struct Child {
  pid_t pid;
  int pidfd;
};

Child spawn(const std::string& marker, const std::string& name, const std::string& log) {
  std::vector<std::string> args = {marker, name, log};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, marker.c_str(), nullptr, nullptr, argv.data(), environ) != 0) std::exit(1);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return {pid, pidfd};
}

// Lines written so far to `log` (each marker writes one).
std::vector<std::pair<std::string, long long>> read_log(const std::string& log) {
  std::vector<std::pair<std::string, long long>> lines;
  std::ifstream file(log);
  std::string name;
  long long pid = 0, ns = 0;
  while (file >> name >> pid >> ns) lines.emplace_back(name, ns);
  return lines;
}

void wait_lines(const std::string& log, std::size_t count) {
  while (read_log(log).size() < count) usleep(1000);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  std::string marker = argv[1], dir = argv[2];
  int n = std::atoi(argv[3]), kills = std::atoi(argv[4]);
  std::string log = dir + "/floor.log";
  unlink(log.c_str());

  long long began = now_ns();
  std::vector<Child> children;
  for (int i = 0; i < n; ++i) children.push_back(spawn(marker, "s" + std::to_string(i), log));
  wait_lines(log, static_cast<std::size_t>(n));
  long long last = 0;
  for (auto& [name, ns] : read_log(log)) last = std::max(last, ns);
  long long start_all = last - began;

  sleep(2);  // "up for more than 2 s"
  std::vector<long long> restarts;
  for (int k = 0; k < kills; ++k) {
    int victim = k % n;
    std::string name = "s" + std::to_string(victim);
    std::size_t before = read_log(log).size();
    long long killed_at = now_ns();
    kill(children[victim].pid, SIGKILL);
    pollfd fd{children[victim].pidfd, POLLIN, 0};
    poll(&fd, 1, -1);
    siginfo_t info{};
    waitid(P_PIDFD, static_cast<id_t>(children[victim].pidfd), &info, WEXITED);
    close(children[victim].pidfd);
    children[victim] = spawn(marker, name, log);
    wait_lines(log, before + 1);
    restarts.push_back(read_log(log).back().second - killed_at);
  }

  // Stop-all ends when the last process has exited (its pidfd is readable), as bench/run.py
  // measures the supervisors; reaping follows.
  long long stop_began = now_ns();
  for (auto& child : children) kill(child.pid, SIGTERM);
  for (auto& child : children) {
    pollfd fd{child.pidfd, POLLIN, 0};
    poll(&fd, 1, -1);
  }
  long long stop_all = now_ns() - stop_began;
  for (auto& child : children) {
    siginfo_t info{};
    waitid(P_PIDFD, static_cast<id_t>(child.pidfd), &info, WEXITED);
    close(child.pidfd);
  }

  std::printf("{\"start_all_ns\": %lld, \"stop_all_ns\": %lld, \"restart_ns\": [", start_all,
              stop_all);
  for (std::size_t i = 0; i < restarts.size(); ++i)
    std::printf("%s%lld", i ? ", " : "", restarts[i]);
  std::printf("]}\n");
}
