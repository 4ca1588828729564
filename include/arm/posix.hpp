// POSIX (Linux) adapters for the supervisor's interfaces: what armd uses, and what an embedder
// links to supervise real processes. Each exposes one file descriptor for the host's event loop
// to watch, in the manner of c-ares and libcurl: when it is readable, call collect_*().
//
// In-process safety: these adapters only ever wait for the children they spawned (one pidfd
// each); they never wait for "any child" nor install a SIGCHLD handler, so they do not steal an
// embedding host's other children.
#pragma once

#include "arm/abi.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "arm/effects.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

class OutputPipes;   ///< <arm/posix/output_pipes.hpp>
class NotifySocket;  ///< <arm/posix/notify_socket.hpp>

/// Adapters report failures as arm::Error (error_number set); the old name stays usable.
using SystemError = Error;

/// Jitter from a Mersenne Twister seeded by std::random_device (getrandom(2)).
class ARM_EXPORT SystemRandom final : public Random {
 public:
  SystemRandom();
  double unit() override;

 private:
  std::mt19937_64 generator_;
};

/// std::chrono::steady_clock (CLOCK_MONOTONIC).
class ARM_EXPORT SteadyClock final : public Clock {
 public:
  TimePoint now() const override;  ///< steady_clock::now()
};

/// How a spawner finds every process of a service, to stop them all.
enum class Containment {
  /// Each service leads a process group. Signals reach the group; when the main process is
  /// reaped, what is left in its group is SIGKILLed at once. A process that leaves the group
  /// (setsid, setpgid: a daemon that forks into the background) escapes.
  process_group,
  /// Each service runs in a cgroup v2 of its own below SpawnerOptions::cgroup. Signals reach
  /// every process in it however it forked; when the main process exits while others remain,
  /// the host is told (on_main_exit) and they get a graceful stop; the service has exited when
  /// its cgroup is empty.
  cgroup
};
ARM_EXPORT std::string_view to_string(Containment containment);  ///< "process-group", "cgroup"

/// How a PosixSpawner is set up; every field's default is what a simple host wants.
struct ARM_EXPORT SpawnerOptions {
  /// Children get PR_SET_PDEATHSIG(SIGKILL): if the host dies, even by SIGKILL, its services die
  /// with it instead of running on unsupervised. The kernel sends it when the *thread* that
  /// spawned the child exits, so enable it only when that thread lives as long as the host
  /// (armd does). It reaches the main processes only: in cgroup mode, what they started stays
  /// in their cgroups until kill_leftovers() (a new host's start) ends it.
  bool kill_children_if_host_dies = false;
  /// A cgroup v2 directory for this spawner alone (created if missing; its parent must be a
  /// cgroup the host may write: its own, or a delegated subtree): each service runs in a cgroup
  /// below it. Empty: Containment::process_group.
  std::string cgroup = {};
  /// Where the pipes of services whose output goes to OutputTarget::Kind::log are read (it must
  /// outlive the spawner). Null: such output is inherited instead.
  class OutputPipes* output_pipes = nullptr;
  /// The RLIMIT_NOFILE each child gets, set between clone and exec. A host that raised its own
  /// limit to hold many services (each costs it descriptors) gives here the limit it was started
  /// with, so that programs keep what they expect: select() fails on a descriptor above 1023.
  /// Empty: the host's own, inherited. A hard limit above the host's needs CAP_SYS_RESOURCE;
  /// without it every spawn fails ("setting up the child failed: Operation not permitted").
  struct DescriptorLimit {
    std::uint64_t soft = 0;  ///< RLIM_INFINITY: unlimited
    std::uint64_t hard = 0;  ///< RLIM_INFINITY: unlimited
  };
  std::optional<DescriptorLimit> child_nofile = std::nullopt;  ///< (see DescriptorLimit)
  /// Where services tell they are ready (it must outlive the spawner): a request with
  /// readiness notify gets $NOTIFY_SOCKET set to its path, one with readiness fd a pipe on its
  /// descriptor whose read end is handed to it. Null: such requests fail to spawn, saying why.
  class NotifySocket* notify = nullptr;
};

/// This process's own cgroup v2 directory (found through /proc/self/mountinfo, so hybrid hosts
/// work), or why there is none.
ARM_EXPORT std::expected<std::string, SystemError> own_cgroup_directory();

/// Spawns with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), as posix_spawn does, so the cost
/// does not grow with the host's memory, and the pidfd comes with the child atomically. Each
/// child leads its own process group (and, in cgroup mode, its service's cgroup, joined before
/// the program runs), starts with stdin on /dev/null, stdout and stderr as its request says
/// (inherited by default; a pipe to SpawnerOptions::output_pipes for Kind::log), no other
/// descriptor (but its readiness pipe's write end on the descriptor readiness fd:N names), default
/// signal dispositions and an empty signal mask. Each child is tracked by its pidfd (and its
/// cgroup's cgroup.events), registered in one epoll set. signal_group() sends SIGTERM followed by
/// SIGCONT (a stopped process must be able to act on it), or SIGKILL. In cgroup mode SIGTERM (and
/// SIGABRT) reaches the main process at once and the rest of the cgroup at the next
/// collect_exits(), which exit_fd() asks for: reading the cgroup's member list in the signalling
/// loop held back every later service of a stop-all (main process first, as systemd does).
class ARM_EXPORT PosixSpawner final : public Spawner {
 public:
  /// A spawner whose children are kept in `options`' way.
  ///
  /// Fails when this process's SIGCHLD is ignored (SIG_IGN) or has SA_NOCLDWAIT: the kernel
  /// would reap every child before any exit status could be read, so the error says what the host
  /// must change. In cgroup mode, fails when SpawnerOptions::cgroup's parent is not on a cgroup v2
  /// file system, cannot be made, is in use by another spawner (flock), or cannot be written; and
  /// when the epoll set cannot be made (errno in Error::error_number).
  static std::expected<std::unique_ptr<PosixSpawner>, SystemError> create(
      SpawnerOptions options = {});
  /// Kills (SIGKILL) and reaps every child still alive, so nothing is left behind; in cgroup
  /// mode, everything in the services' cgroups, which it then removes.
  ~PosixSpawner() override;

  std::expected<ProcessId, SpawnError> spawn(const SpawnRequest& request) override;
  void signal_group(ProcessId leader, StopSignal signal) override;
  /// kill(pid, signal) to the main process alone (a reload signal), unless it was reaped.
  void signal_process(ProcessId pid, ReloadSignal signal) override;

  /// cgroup when SpawnerOptions::cgroup is set, else process_group
  Containment containment() const;
  /// cgroup mode: SIGKILLs whatever a previous host left in the cgroups below
  /// SpawnerOptions::cgroup (it was SIGKILLed, its services' children lived on) and removes them.
  /// Call before spawning anything. Returns the names of the cgroups that still held processes.
  std::vector<std::string> kill_leftovers();

  /// Readable (POLLIN) when at least one child has exited (or, in cgroup mode, a service's
  /// cgroup has emptied, or a stop signal is due to the rest of a service's cgroup).
  int exit_fd() const;
  /// Sends the stop signals due to the rest of services' cgroups (see signal_group()), then
  /// reaps every child that has exited, calling `on_exit` for each. Never blocks. A child that
  /// the host reaped behind our back (a wait on any child, or SIGCHLD set to SIG_IGN after
  /// create()) is reported as ExitStatus::lost(): its real status is gone, but so is it. In cgroup
  /// mode a service whose main process exited is reported once its cgroup is empty: when
  /// `on_main_exit` is given, it is called at once (forward it to
  /// ServiceSupervisor::on_main_exit) and the rest get the supervisor's graceful stop; without
  /// it, they are SIGKILLed at once, as in process_group mode.
  std::size_t collect_exits(const std::function<void(ProcessId, ExitStatus)>& on_exit,
                            const std::function<void(ProcessId, ExitStatus)>& on_main_exit = {});
  /// children spawned (or adopted) and not yet reported as exited
  std::size_t live_children() const;

  /// The main process of the service `pid` belongs to, or nullopt: `pid` itself when it is a
  /// main process; in cgroup mode, the main process of the service whose cgroup (or one below
  /// it) holds `pid`; in process_group mode, the main process leading `pid`'s process group.
  /// How a host tells whether an sd_notify datagram comes from a service (a child of it may
  /// send READY=1) or is forged. A process that has already exited is not found.
  std::optional<ProcessId> main_pid_of(ProcessId pid) const;

  /// For a host that is PID 1 or a child subreaper (PR_SET_CHILD_SUBREAPER): reaps, without
  /// blocking, the exited children it adopted — processes it did not spawn. Never touches a
  /// child it spawned, nor one `also_ours` claims (the host's other children, such as
  /// PosixProber's exec probes, reaped through their own pidfds). Returns how many it reaped.
  std::size_t reap_adopted(const std::function<bool(ProcessId)>& also_ours = {});

  /// Live re-exec (issue 15). A host that execs a new binary of itself keeps its children (exec
  /// keeps the pid, so they are still its own); the new host's spawner takes them over with
  /// adopt(). `cgroup` is the name of the child's cgroup below SpawnerOptions::cgroup (empty in
  /// process_group mode).
  struct AdoptableChild {
    ProcessId pid = 0;  ///< its pid
    /// its cgroup's name below SpawnerOptions::cgroup; empty in process_group mode
    std::string cgroup;
  };
  /// Every child not yet reported as exited, for the handover to a new host. Call
  /// send_due_signals() first: signals due to the rest of a cgroup are not handed over.
  std::vector<AdoptableChild> adoptable_children() const;
  /// Sends now what collect_exits() would send first: a graceful stop signal due to the processes
  /// of a service's cgroup other than its main process (see signal_group()). For a host about to
  /// hand its children over (exec); collect_exits() calls it itself.
  void send_due_signals();
  /// Tracks `pid`, a child of this process that another spawner of it (before an exec) spawned,
  /// as if spawned here: its exit is reported by collect_exits, signals reach its group (its
  /// cgroup). One that exited meanwhile is reported at the next collect_exits. Fails, naming the
  /// pid, when it is not a child of this process (or no longer exists).
  std::expected<void, Error> adopt(const AdoptableChild& child);

  struct Impl;

 private:
  explicit PosixSpawner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Watches files with inotify and reports a change only when the content changed: it keeps a
/// 64-bit FNV-1a hash of each watched file (or of its section), taken at watch(), and compares
/// after events. A `touch` or a rewrite with the same bytes is not a change; a file that is
/// deleted is not a change either (it keeps its last hash, so recreating it with the same
/// content is none, with other content is one).
///
/// It watches directories, not files: the file's directory for its name (so replacement by
/// rename is seen), each directory on the path for its removal, each symbolic link on the path
/// for its replacement (a Kubernetes ConfigMap's atomic `..data` swap), and, while the file's
/// directory does not exist, the nearest existing ancestor for the missing name, re-arming down
/// the path as directories appear and up as they vanish.
///
/// A file being written is reported once complete: at IN_CLOSE_WRITE, at a rename into place,
/// or after `quiet_period` without further writes (a truncate(2), a writer that keeps the file
/// open). A writer that pauses longer than that between writes may be seen half-way.
class ARM_EXPORT InotifyWatcher final : public FileWatcher {
 public:
  /// how long a write must pause before the file is read
  static constexpr std::chrono::milliseconds quiet_period{1000};

  /// A watcher with its inotify instance, timer and epoll set; fails (errno in Error::error_number)
  /// when one of them cannot be made (EMFILE: inotify's fs.inotify.max_user_instances).
  static std::expected<std::unique_ptr<InotifyWatcher>, SystemError> create();
  ~InotifyWatcher() override;

  /// A relative path is taken from the current directory at the time of the call. Fails when
  /// a directory the path needs watched cannot be (inotify_add_watch: EACCES, ENOSPC when
  /// fs.inotify.max_user_watches is reached, ENOMEM), naming the file, the directory and why; the
  /// call still counts (unwatch it as usual), and changes of the file may go unseen. A file or
  /// directory that does not exist is no failure: it is watched for.
  std::expected<void, Error> watch(const WatchedFile& file) override;
  /// Gives back one watch() of `file`; the last one ends its watch. An unknown file is ignored.
  void unwatch(const WatchedFile& file) override;

  /// Readable (POLLIN) when a watched file may have changed or a quiet period has ended.
  int fd() const;
  /// Reads pending notifications and calls `on_change` once per watched file (path and section,
  /// as passed to watch()) whose content changed. Never blocks.
  std::size_t collect_changes(const std::function<void(const WatchedFile& file)>& on_change);

  struct Impl;

 private:
  explicit InotifyWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace posix
ARM_END_NAMESPACE
