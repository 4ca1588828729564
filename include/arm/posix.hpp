// POSIX (Linux) adapters for the supervisor's interfaces: what armd uses, and what an embedder
// links to supervise real processes. Each exposes one file descriptor for the host's event loop
// to watch, in the manner of c-ares and libcurl: when it is readable, call collect_*().
//
// In-process safety: these adapters only ever wait for the children they spawned (one pidfd
// each); they never wait for "any child" nor install a SIGCHLD handler, so they do not steal an
// embedding host's other children.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "arm/effects.hpp"

namespace arm::posix {

// Adapters report failures as arm::Error (error_number set); the old name stays usable.
using SystemError = Error;

// Jitter from a Mersenne Twister seeded by std::random_device (getrandom(2)).
class SystemRandom final : public Random {
 public:
  SystemRandom();
  double unit() override;

 private:
  std::mt19937_64 generator_;
};

// std::chrono::steady_clock (CLOCK_MONOTONIC).
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override;
};

struct SpawnerOptions {
  // Children get PR_SET_PDEATHSIG(SIGKILL): if the host dies, even by SIGKILL, its services die
  // with it instead of running on unsupervised. The kernel sends it when the *thread* that
  // spawned the child exits, so enable it only when that thread lives as long as the host
  // (armd does).
  bool kill_children_if_host_dies = false;
};

// Spawns with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), as posix_spawn does, so the cost
// does not grow with the host's memory, and the pidfd comes with the child atomically. Each
// child leads its own process group, starts with stdin on /dev/null, stdout and stderr
// inherited, no other descriptor, default signal dispositions and an empty signal mask. Each
// child is tracked by its pidfd, registered in one epoll set.
//
// When a group leader is reaped, whatever remains of its process group is SIGKILLed: a
// service's processes do not outlive it (compare systemd's KillMode=control-group).
class PosixSpawner final : public Spawner {
 public:
  static std::expected<std::unique_ptr<PosixSpawner>, SystemError> create(
      SpawnerOptions options = {});
  // Kills (SIGKILL) and reaps every child still alive, so nothing is left behind.
  ~PosixSpawner() override;

  std::expected<ProcessId, SpawnError> spawn(const SpawnRequest& request) override;
  void signal_group(ProcessId leader, StopSignal signal) override;

  // Readable (POLLIN) when at least one child has exited.
  int exit_fd() const;
  // Reaps every child that has exited, calling `on_exit` for each. Never blocks. A child that
  // the host reaped behind our back (SIGCHLD set to SIG_IGN, or a wait on any child) is
  // reported as exit code 255: its real status is lost, but it is gone.
  std::size_t collect_exits(const std::function<void(ProcessId, ExitStatus)>& on_exit);
  std::size_t live_children() const;

  struct Impl;

 private:
  explicit PosixSpawner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Watches files with inotify. It watches the file's directory and filters by name, so a file
// replaced by rename (as editors and config-management tools do) keeps being watched.
class InotifyWatcher final : public FileWatcher {
 public:
  static std::expected<std::unique_ptr<InotifyWatcher>, SystemError> create();
  ~InotifyWatcher() override;

  void watch(const std::string& path) override;
  void unwatch(const std::string& path) override;

  // Readable (POLLIN) when a watched file may have changed.
  int fd() const;
  // Reads pending notifications and calls `on_change` once per changed watched path (several
  // writes to one file in one batch are reported once). Never blocks.
  std::size_t collect_changes(const std::function<void(const std::string& path)>& on_change);

  struct Impl;

 private:
  explicit InotifyWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace arm::posix
