// Embedding cost: how long a spawn takes from inside a host process holding a lot of touched
// memory, with libarm's PosixSpawner (vfork-style clone: no page tables copied) and, for
// contrast, with fork + exec (which copies the host's page tables). Each spawn is timed from the
// call until the child is executing the new program (PosixSpawner returns then; for fork, a
// close-on-exec pipe tells the parent).
//
//   embed_spawn HOST_MIB COUNT
//     prints {"host_mib":…,"libarm_ns":[…],"posix_spawn_ns":[…],"fork_ns":[…]}
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "arm/posix.hpp"

extern char** environ;

namespace {

long long now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1'000'000'000LL + t.tv_nsec;
}

// A host of `mib` MiB of private, touched memory: what a large embedding process looks like to
// fork.
void* make_host(std::size_t mib) {
  std::size_t bytes = mib << 20;
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) std::exit(1);
  std::memset(memory, 1, bytes);
  return memory;
}

long long spawn_with_libarm(arm::posix::PosixSpawner& spawner) {
  arm::SpawnRequest request;
  request.service = "true";
  request.argv = {"/bin/true"};
  long long began = now_ns();
  auto pid = spawner.spawn(request);
  long long executing = now_ns();
  if (!pid) std::exit(1);
  pollfd exited{spawner.exit_fd(), POLLIN, 0};
  while (spawner.live_children() > 0) {
    poll(&exited, 1, 1000);
    spawner.collect_exits([](arm::ProcessId, arm::ExitStatus) {});
  }
  return executing - began;
}

long long spawn_with_posix_spawn() {
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  long long began = now_ns();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) != 0) std::exit(1);
  long long returned = now_ns();  // glibc's posix_spawn also returns once the child has exec'd
  waitpid(pid, nullptr, 0);
  return returned - began;
}

long long spawn_with_fork() {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) std::exit(1);
  long long began = now_ns();
  pid_t pid = fork();
  if (pid == 0) {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    execv(argv[0], argv);
    _exit(127);
  }
  close(pipe_fds[1]);
  char byte;
  while (read(pipe_fds[0], &byte, 1) > 0) {
  }
  long long executing = now_ns();
  close(pipe_fds[0]);
  waitpid(pid, nullptr, 0);
  return executing - began;
}

void print_list(const char* name, const std::vector<long long>& values) {
  std::printf("\"%s\":[", name);
  for (std::size_t i = 0; i < values.size(); ++i) std::printf(i ? ",%lld" : "%lld", values[i]);
  std::printf("]");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  std::size_t mib = std::strtoull(argv[1], nullptr, 10);
  int count = std::atoi(argv[2]);
  void* host = make_host(mib);
  auto spawner = arm::posix::PosixSpawner::create();
  if (!spawner) return 1;
  std::vector<long long> libarm, glibc, forked;
  // One kind after the other: a fork of a large host leaves work behind (its copy of the page
  // tables is torn down when the child execs) that would land on the next measurement.
  spawn_with_libarm(**spawner);  // warm-up: the spawner's first child maps its stack
  for (int i = 0; i < count; ++i) libarm.push_back(spawn_with_libarm(**spawner));
  for (int i = 0; i < count; ++i) glibc.push_back(spawn_with_posix_spawn());
  for (int i = 0; i < count; ++i) forked.push_back(spawn_with_fork());
  std::printf("{\"host_mib\":%zu,", mib);
  print_list("libarm_ns", libarm);
  std::printf(",");
  print_list("posix_spawn_ns", glibc);
  std::printf(",");
  print_list("fork_ns", forked);
  std::printf("}\n");
  munmap(host, mib << 20);
}
