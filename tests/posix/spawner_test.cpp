// PosixSpawner with real processes and real signals. Waits are bounded by generous deadlines.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "arm/posix.hpp"
#include "descriptor_shortage.hpp"
#include "in_forked_process.hpp"

using namespace arm;
using arm::posix::PosixSpawner;

// Failed checks print "exit code 3" or "signal 9" rather than "{?}".
template <>
struct doctest::StringMaker<ExitStatus> {
  static doctest::String convert(const ExitStatus& status) { return describe(status).c_str(); }
};

namespace {

// Every child these tests start inherits the tag, so CI (scripts/check-leftovers.sh) notices one
// that outlives the suite.
[[maybe_unused]] const bool tagged = [] {
  return ::setenv("ARMD_TEST_TAG", "posix-tests", 1) == 0;
}();

std::unique_ptr<PosixSpawner> make_spawner() {
  auto spawner = PosixSpawner::create();
  REQUIRE(spawner);
  return std::move(*spawner);
}

SpawnRequest shell(std::string script) {
  SpawnRequest request;
  request.service = "test";
  request.argv = {"/bin/sh", "-c", std::move(script)};
  return request;
}

// Waits (up to 30 s) for `pid` to be reported by the spawner and returns its status.
std::optional<ExitStatus> wait_exit(PosixSpawner& spawner, ProcessId pid) {
  std::map<ProcessId, ExitStatus> seen;
  for (int waited = 0; waited < 30'000; waited += 10) {
    pollfd fd{spawner.exit_fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    spawner.collect_exits([&](ProcessId exited, ExitStatus status) { seen[exited] = status; });
    if (seen.contains(pid)) return seen[pid];
  }
  return std::nullopt;
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string scratch(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("arm-posix-" + name + "-" + std::to_string(::getpid())))
      .string();
}

bool wait_until(const std::function<bool()>& condition) {
  for (int waited = 0; waited < 30'000; waited += 10) {
    if (condition()) return true;
    ::usleep(10'000);
  }
  return false;
}

}  // namespace

TEST_CASE("exit codes and signals are reported for the spawned child") {
  auto spawner = make_spawner();
  auto clean = spawner->spawn({"t", {"/bin/true"}, {}, {}, {}, {}, {}, {}, {}});
  REQUIRE(clean);
  CHECK(wait_exit(*spawner, *clean) == ExitStatus::exited(0));

  auto three = spawner->spawn(shell("exit 3"));
  REQUIRE(three);
  CHECK(wait_exit(*spawner, *three) == ExitStatus::exited(3));

  auto sleeper =
      spawner->spawn({"t", {"sleep", "1000"}, {}, {}, {}, {}, {}, {}, {}});  // found through PATH
  REQUIRE(sleeper);
  spawner->signal_group(*sleeper, StopSignal::kill);
  CHECK(wait_exit(*spawner, *sleeper) == ExitStatus::signaled(SIGKILL));
  CHECK(spawner->live_children() == 0);
}

TEST_CASE("each child leads its own process group") {
  auto spawner = make_spawner();
  auto pid = spawner->spawn({"t", {"sleep", "1000"}, {}, {}, {}, {}, {}, {}, {}});
  REQUIRE(pid);
  CHECK(::getpgid(*pid) == *pid);
  spawner->signal_group(*pid, StopSignal::terminate);
  CHECK(wait_exit(*spawner, *pid) == ExitStatus::signaled(SIGTERM));
}

TEST_CASE("the child gets /dev/null as stdin and no descriptor beyond 0, 1 and 2") {
  auto spawner = make_spawner();
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(leaked >= 3);
  std::string out = scratch("fds");
  auto pid =
      spawner->spawn(shell("ls /proc/self/fd > " + out + ".tmp; readlink /proc/self/fd/0 >> " +
                           out + ".tmp; mv " + out + ".tmp " + out));
  REQUIRE(pid);
  CHECK(wait_exit(*spawner, *pid) == ExitStatus::exited(0));
  ::close(leaked);
  std::string listing = read_file(out);
  std::filesystem::remove(out);
  // 0, 1, 2, and the descriptor ls itself opens to read /proc/self/fd (3): had the test's
  // descriptor leaked through, ls's own would have been 4 or more.
  CHECK(listing == "0\n1\n2\n3\n/dev/null\n");
}

TEST_CASE("environment additions and the working directory reach the child") {
  auto spawner = make_spawner();
  std::string out = scratch("env");
  SpawnRequest request = shell("echo \"$ARM_TEST_VALUE $(pwd)\" > " + out);
  request.environment = {{"ARM_TEST_VALUE", "forty-two"}};
  request.working_directory = "/usr";
  auto pid = spawner->spawn(request);
  REQUIRE(pid);
  CHECK(wait_exit(*spawner, *pid) == ExitStatus::exited(0));
  CHECK(read_file(out) == "forty-two /usr\n");
  std::filesystem::remove(out);
}

TEST_CASE("child_nofile is the descriptor limit each child gets; without it, the host's") {
  rlimit host{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &host) == 0);
  REQUIRE(host.rlim_max >= 200);
  std::string out = scratch("nofile");
  SpawnRequest request = shell("echo \"$(ulimit -Sn) $(ulimit -Hn)\" > " + out);

  auto limited = PosixSpawner::create({.child_nofile = {{.soft = 100, .hard = 200}}});
  REQUIRE(limited);
  auto pid = (*limited)->spawn(request);
  REQUIRE(pid);
  CHECK(wait_exit(**limited, *pid) == ExitStatus::exited(0));
  CHECK(read_file(out) == "100 200\n");
  rlimit after{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
  CHECK(after.rlim_cur == host.rlim_cur);  // the host's own is untouched
  CHECK(after.rlim_max == host.rlim_max);

  auto plain = make_spawner();
  pid = plain->spawn(request);
  REQUIRE(pid);
  CHECK(wait_exit(*plain, *pid) == ExitStatus::exited(0));
  auto text = [](rlim_t value) {
    return value == RLIM_INFINITY ? std::string("unlimited") : std::to_string(value);
  };
  CHECK(read_file(out) == text(host.rlim_cur) + " " + text(host.rlim_max) + "\n");
  std::filesystem::remove(out);
}

TEST_CASE("stdout and stderr go to /dev/null or are appended to files, as requested") {
  auto spawner = make_spawner();
  std::string out = scratch("stdout");
  { std::ofstream(out) << "already there\n"; }
  SpawnRequest request = shell("echo to-stdout; echo to-stderr >&2");
  request.standard_output = {OutputTarget::Kind::file, out};
  request.standard_error = {OutputTarget::Kind::null, {}};
  auto pid = spawner->spawn(request);
  REQUIRE(pid);
  CHECK(wait_exit(*spawner, *pid) == ExitStatus::exited(0));
  CHECK(read_file(out) == "already there\nto-stdout\n");

  std::string err = scratch("stderr");
  request.standard_output = {OutputTarget::Kind::null, {}};
  request.standard_error = {OutputTarget::Kind::file, err};  // created
  pid = spawner->spawn(request);
  REQUIRE(pid);
  CHECK(wait_exit(*spawner, *pid) == ExitStatus::exited(0));
  CHECK(read_file(err) == "to-stderr\n");
  CHECK((std::filesystem::status(err).permissions() & std::filesystem::perms::others_all) ==
        std::filesystem::perms::none);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
}

TEST_CASE("an output file that cannot be opened fails the spawn, naming the file") {
  auto spawner = make_spawner();
  SpawnRequest request{"t", {"/bin/true"}, {}, {}, {}, {}, {}, {}, {}};
  request.standard_error = {OutputTarget::Kind::file, "/no/such/dir/err.log"};
  auto failed = spawner->spawn(request);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message ==
        "cannot open /no/such/dir/err.log for stderr: No such file or directory");
  CHECK(spawner->live_children() == 0);
}

TEST_CASE("spawn failures name what failed") {
  auto spawner = make_spawner();
  auto missing = spawner->spawn({"t", {"/no/such/binary"}, {}, {}, {}, {}, {}, {}, {}});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "cannot execute /no/such/binary: No such file or directory");

  SpawnRequest bad_directory{"t", {"/bin/true"}, {}, "/no/such/dir", {}, {}, {}, {}, {}};
  auto failed = spawner->spawn(bad_directory);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message ==
        "cannot change directory to /no/such/dir: No such file or directory");

  SpawnRequest missing_config{"t", {"/bin/true"}, {}, {}, {"/no/such.conf"}, {}, {}, {}, {}};
  auto refused = spawner->spawn(missing_config);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message == "config file /no/such.conf: No such file or directory");
  CHECK(spawner->live_children() == 0);
}

TEST_CASE("what a service leaves in its process group is killed when it is reaped") {
  auto spawner = make_spawner();
  std::string out = scratch("grandchild");
  auto pid =
      spawner->spawn(shell("sh -c 'trap \"\" TERM; exec sleep 1000' & echo $! > " + out +
                           ".tmp; mv " + out + ".tmp " + out + "; trap 'exit 0' TERM; wait"));
  REQUIRE(pid);
  REQUIRE(wait_until([&] { return std::filesystem::exists(out); }));
  pid_t grandchild = std::stoi(read_file(out));
  std::filesystem::remove(out);
  CHECK(alive(grandchild));
  spawner->signal_group(*pid, StopSignal::terminate);
  CHECK(wait_exit(*spawner, *pid).has_value());
  // The grandchild ignored SIGTERM, but its group was SIGKILLed when the leader was reaped; it
  // was reparented, so whoever reaps orphans here (init) collects it.
  CHECK(wait_until([&] {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string text;
    std::getline(stat, text);
    return text.empty() || text.find(") Z") != std::string::npos;
  }));
}

TEST_CASE("the spawner never reaps children it did not spawn") {
  auto spawner = make_spawner();
  pid_t own = 0;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  REQUIRE(::posix_spawn(&own, "/bin/true", nullptr, nullptr, argv, nullptr) == 0);
  auto ours = spawner->spawn({"t", {"/bin/true"}, {}, {}, {}, {}, {}, {}, {}});
  REQUIRE(ours);
  CHECK(wait_exit(*spawner, *ours) == ExitStatus::exited(0));
  int status = -1;
  CHECK(::waitpid(own, &status, 0) == own);  // still there for its owner to reap
  CHECK(WIFEXITED(status));
}

TEST_CASE("signal_group leaves alone a process the spawner did not spawn") {
  auto spawner = make_spawner();
  pid_t own = 0;
  posix_spawnattr_t attributes;
  ::posix_spawnattr_init(&attributes);
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);  // a group of its own too
  char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("1000"), nullptr};
  REQUIRE(::posix_spawnp(&own, "sleep", nullptr, &attributes, argv, environ) == 0);
  ::posix_spawnattr_destroy(&attributes);
  spawner->signal_group(own, StopSignal::kill);
  CHECK(alive(own));
  ::kill(own, SIGKILL);
  CHECK(::waitpid(own, nullptr, 0) == own);
}

// How the spawner reports `argv`'s exit, or why it could not say.
std::string reported_exit(PosixSpawner& spawner, std::vector<std::string> argv) {
  SpawnRequest request;
  request.service = "t";
  request.argv = std::move(argv);
  auto pid = spawner.spawn(request);
  if (!pid) return "spawn failed: " + pid.error().message;
  auto status = wait_exit(spawner, *pid);
  if (!status) return "no exit reported";
  if (spawner.live_children() != 0) return "still counted as live";
  return describe(*status);
}

const std::string lost_text = describe(ExitStatus::lost());

TEST_CASE("a spawner cannot be created while SIGCHLD is ignored, and says what to fix") {
  std::string said = in_forked_process([] {
    ::signal(SIGCHLD, SIG_IGN);
    auto spawner = PosixSpawner::create();
    return spawner ? std::string("created") : spawner.error().message;
  });
  CHECK(said.starts_with("SIGCHLD is ignored (SIG_IGN), so the kernel reaps every child"));
  CHECK(said.find("restore SIGCHLD to SIG_DFL") != std::string::npos);
}

TEST_CASE("a spawner cannot be created while SIGCHLD has SA_NOCLDWAIT, and says what to fix") {
  std::string said = in_forked_process([] {
    struct sigaction no_zombies {};
    no_zombies.sa_handler = SIG_DFL;
    no_zombies.sa_flags = SA_NOCLDWAIT;
    ::sigaction(SIGCHLD, &no_zombies, nullptr);
    auto spawner = PosixSpawner::create();
    return spawner ? std::string("created") : spawner.error().message;
  });
  CHECK(said.starts_with("SIGCHLD has SA_NOCLDWAIT set"));
  CHECK(said.find("without SA_NOCLDWAIT") != std::string::npos);
}

TEST_CASE("a child the host reaps with its own waitpid(-1) is reported as lost, not as a code") {
  // What a host's SIGCHLD handler that waits for any child does, which no spawner can see
  // coming: the status goes to the host, the spawner only learns the child is gone.
  std::string said = in_forked_process([] {
    auto spawner = PosixSpawner::create();
    if (!spawner) return "create failed: " + spawner.error().message;
    SpawnRequest request;
    request.service = "t";
    request.argv = {"/bin/sh", "-c", "exit 3"};
    auto pid = (*spawner)->spawn(request);
    if (!pid) return "spawn failed: " + pid.error().message;
    int host_status = 0;
    if (::waitpid(-1, &host_status, 0) != *pid) return std::string("the host reaped another");
    auto status = wait_exit(**spawner, *pid);
    if (!status) return std::string("no exit reported");
    return describe(*status) + ((*spawner)->live_children() == 0 ? "" : " (still live)");
  });
  CHECK(said == lost_text);
}

TEST_CASE("a child reaped after SIGCHLD was set to SIG_IGN behind the spawner is lost, not hung") {
  // Ignored after the spawner was created: the kernel reaps the child, the pidfd still becomes
  // readable, and collect_exits must neither spin nor stay silent.
  std::string said = in_forked_process([] {
    auto spawner = PosixSpawner::create();
    if (!spawner) return "create failed: " + spawner.error().message;
    ::signal(SIGCHLD, SIG_IGN);
    return reported_exit(**spawner, {"/bin/true"});
  });
  CHECK(said == lost_text);
}

TEST_CASE("a script without #! run with a very long argument list gets all its arguments") {
  // glibc's execvpe runs such a script with /bin/sh, copying argv onto the child's stack: the
  // stack must be sized for it.
  auto spawner = make_spawner();
  std::string script = scratch("script");
  std::string out = scratch("script-out");
  {
    std::ofstream file(script);
    file << "echo $# > " << out << ".tmp; mv " << out << ".tmp " << out << "\n";
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  SpawnRequest request{"t", {script}, {}, {}, {}, {}, {}, {}, {}};
  request.argv.resize(100'001, "x");
  auto pid = spawner->spawn(request);
  REQUIRE(pid);
  CHECK(wait_exit(*spawner, *pid) == ExitStatus::exited(0));
  CHECK(read_file(out) == "100000\n");
  std::filesystem::remove(script);
  std::filesystem::remove(out);
}

TEST_CASE("destroying the spawner leaves no child behind") {
  pid_t pid = 0;
  {
    auto spawner = make_spawner();
    auto spawned = spawner->spawn({"t", {"sleep", "1000"}, {}, {}, {}, {}, {}, {}, {}});
    REQUIRE(spawned);
    pid = *spawned;
    CHECK(alive(pid));
  }
  CHECK_FALSE(alive(pid));  // killed and reaped, not even a zombie
}

TEST_CASE("with kill_children_if_host_dies, children die with a host killed by SIGKILL") {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  pid_t host = ::fork();
  REQUIRE(host >= 0);
  if (host == 0) {  // the host: spawns a service, reports its pid, waits to be killed
    auto spawner = PosixSpawner::create({.kill_children_if_host_dies = true});
    if (!spawner) ::_exit(1);
    auto child = (*spawner)->spawn({"t", {"sleep", "1000"}, {}, {}, {}, {}, {}, {}, {}});
    pid_t pid = child ? *child : -1;
    if (::write(pipe_fds[1], &pid, sizeof pid) != sizeof pid) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(pipe_fds[1]);
  pid_t service = -1;
  REQUIRE(::read(pipe_fds[0], &service, sizeof service) == sizeof service);
  ::close(pipe_fds[0]);
  REQUIRE(service > 0);
  CHECK(alive(service));
  ::kill(host, SIGKILL);
  ::waitpid(host, nullptr, 0);
  CHECK(wait_until([&] {
    std::ifstream stat("/proc/" + std::to_string(service) + "/stat");
    std::string text;
    std::getline(stat, text);
    return text.empty() || text.find(") Z") != std::string::npos;
  }));
}

// ---- cgroup mode ------------------------------------------------------------------------------

namespace {

// A cgroup directory for one test below this process's own cgroup, or nullopt where this
// process may not make cgroups (then the cgroup tests are skipped, and say so).
std::optional<std::string> test_cgroup(const std::string& name) {
  auto own = arm::posix::own_cgroup_directory();
  if (!own || ::access((*own + "/cgroup.procs").c_str(), W_OK) != 0) return std::nullopt;
  return *own + "/arm-posix-" + name + "-" + std::to_string(::getpid());
}

std::unique_ptr<PosixSpawner> make_contained_spawner(const std::string& directory) {
  auto spawner = PosixSpawner::create({.kill_children_if_host_dies = false, .cgroup = directory});
  REQUIRE(spawner);
  return std::move(*spawner);
}

struct Exits {
  std::map<ProcessId, ExitStatus> main;
  std::map<ProcessId, ExitStatus> all;
};

bool collect_until(PosixSpawner& spawner, Exits& exits, const std::function<bool()>& done) {
  for (int waited = 0; waited < 30'000; waited += 10) {
    pollfd fd{spawner.exit_fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    spawner.collect_exits([&](ProcessId pid, ExitStatus status) { exits.all[pid] = status; },
                          [&](ProcessId pid, ExitStatus status) { exits.main[pid] = status; });
    if (done()) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("in cgroup mode, a service's processes are all in its cgroup, whatever they do") {
  auto directory = test_cgroup("members");
  if (!directory) {
    MESSAGE("skipped: no writable cgroup v2 here");
    return;
  }
  std::string out = scratch("escapee");
  {
    auto spawner = make_contained_spawner(*directory);
    CHECK(spawner->containment() == arm::posix::Containment::cgroup);
    // The escapee tells its pid once it ignores SIGTERM, not before.
    auto request = shell("setsid sh -c 'trap \"\" TERM; echo $$ > " + out + ".tmp; mv " + out +
                         ".tmp " + out + "; exec sleep 1000' & exec sleep 1000");
    request.service = "web";
    auto pid = spawner->spawn(request);
    REQUIRE(pid);
    REQUIRE(wait_until([&] { return std::filesystem::exists(out); }));
    pid_t escapee = std::stoi(read_file(out));
    std::filesystem::remove(out);
    std::string procs = read_file(*directory + "/web.service/cgroup.procs");
    CHECK(procs.find(std::to_string(*pid)) != std::string::npos);
    CHECK(procs.find(std::to_string(escapee)) != std::string::npos);

    // SIGTERM reaches both; the escapee ignores it and keeps the service alive.
    spawner->signal_group(*pid, StopSignal::terminate);
    Exits exits;
    REQUIRE(collect_until(*spawner, exits, [&] { return exits.main.contains(*pid); }));
    CHECK(exits.main[*pid] == ExitStatus::signaled(SIGTERM));
    CHECK_FALSE(exits.all.contains(*pid));
    CHECK(alive(escapee));
    // SIGKILL to the cgroup ends it; the service is reported gone with its main process's
    // status, and its cgroup is removed.
    spawner->signal_group(*pid, StopSignal::kill);
    REQUIRE(collect_until(*spawner, exits, [&] { return exits.all.contains(*pid); }));
    CHECK(exits.all[*pid] == ExitStatus::signaled(SIGTERM));
    CHECK_FALSE(std::filesystem::exists(*directory + "/web.service"));
    CHECK(spawner->live_children() == 0);
  }
  CHECK_FALSE(std::filesystem::exists(*directory));  // the spawner removes its directory
}

TEST_CASE(
    "in cgroup mode, SIGTERM reaches the main process at once and the rest of the cgroup "
    "at the next collect_exits, each process once") {
  auto directory = test_cgroup("main-first");
  if (!directory) {
    MESSAGE("skipped: no writable cgroup v2 here");
    return;
  }
  std::string out = scratch("main-first");
  std::string ready = out + ".ready";
  auto spawner = make_contained_spawner(*directory);
  // Both survive SIGTERM and note it: the main process, and a helper in a session of its own
  // (out of the main's process group, so only the cgroup finds it).
  // The main process sets its trap before it starts the helper, so `ready` means both are set.
  auto request = shell("trap 'echo main >> " + out +
                       "' TERM; setsid sh -c 'trap \"echo helper >> " + out + "\" TERM; touch " +
                       ready + "; while :; do sleep 0.05; done' & while :; do sleep 0.05; done");
  auto pid = spawner->spawn(request);
  REQUIRE(pid);
  REQUIRE(wait_until([&] { return std::filesystem::exists(ready); }));
  auto count = [&](const std::string& word) {
    std::istringstream lines(read_file(out));
    int n = 0;
    for (std::string line; std::getline(lines, line);) n += line == word;
    return n;
  };

  spawner->signal_group(*pid, StopSignal::terminate);
  // No process exits, yet the exit descriptor says there is work for collect_exits.
  pollfd fd{spawner->exit_fd(), POLLIN, 0};
  REQUIRE(::poll(&fd, 1, 30'000) == 1);
  REQUIRE(wait_until([&] { return count("main") == 1; }));
  Exits exits;
  SUBCASE("collect_exits sends what is due") {
    REQUIRE(collect_until(*spawner, exits, [&] { return count("helper") == 1; }));
  }
  SUBCASE("send_due_signals sends it (a host about to exec)") {
    spawner->send_due_signals();
    REQUIRE(wait_until([&] { return count("helper") == 1; }));
  }
  // Nothing more is due: the descriptor is quiet again, and no one got the signal twice.
  collect_until(*spawner, exits, [] { return true; });
  CHECK(::poll(&fd, 1, 0) == 0);
  ::usleep(200'000);
  CHECK(count("main") == 1);
  CHECK(count("helper") == 1);

  spawner->signal_group(*pid, StopSignal::kill);
  REQUIRE(collect_until(*spawner, exits, [&] { return exits.all.contains(*pid); }));
  CHECK(spawner->live_children() == 0);
  std::filesystem::remove(out);
  std::filesystem::remove(ready);
}

TEST_CASE("in cgroup mode, without on_main_exit what a main process left is killed at once") {
  auto directory = test_cgroup("at-once");
  if (!directory) {
    MESSAGE("skipped: no writable cgroup v2 here");
    return;
  }
  auto spawner = make_contained_spawner(*directory);
  auto pid = spawner->spawn(shell("sleep 1000 & exit 4"));
  REQUIRE(pid);
  CHECK(wait_exit(*spawner, *pid) == ExitStatus::exited(4));
  CHECK(spawner->live_children() == 0);
}

TEST_CASE("kill_leftovers ends what a previous spawner left in its cgroups") {
  auto directory = test_cgroup("leftovers");
  if (!directory) {
    MESSAGE("skipped: no writable cgroup v2 here");
    return;
  }
  // A predecessor that died without cleaning up: a cgroup of its, with a process in it.
  REQUIRE(std::filesystem::create_directories(*directory + "/old.service"));
  pid_t orphan = 0;
  char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("1000"), nullptr};
  REQUIRE(::posix_spawnp(&orphan, "sleep", nullptr, nullptr, argv, environ) == 0);
  {
    std::ofstream procs(*directory + "/old.service/cgroup.procs");
    procs << orphan;
  }
  auto spawner = make_contained_spawner(*directory);
  auto killed = spawner->kill_leftovers();
  REQUIRE(killed.size() == 1);
  CHECK(killed[0] == "old.service");
  int status = 0;
  CHECK(::waitpid(orphan, &status, 0) == orphan);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK_FALSE(std::filesystem::exists(*directory + "/old.service"));
}

TEST_CASE("a cgroup directory serves one spawner at a time") {
  auto directory = test_cgroup("lock");
  if (!directory) {
    MESSAGE("skipped: no writable cgroup v2 here");
    return;
  }
  auto first = make_contained_spawner(*directory);
  auto second = PosixSpawner::create({.kill_children_if_host_dies = false, .cgroup = *directory});
  REQUIRE_FALSE(second);
  CHECK(second.error().message.find("in use by another process") != std::string::npos);
}

TEST_CASE("reap_adopted reaps children the spawner did not spawn, never its own") {
  auto spawner = make_spawner();
  pid_t adopted = 0;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  REQUIRE(::posix_spawn(&adopted, "/bin/true", nullptr, nullptr, argv, nullptr) == 0);
  auto ours = spawner->spawn({"t", {"/bin/true"}, {}, {}, {}, {}, {}, {}, {}});
  REQUIRE(ours);
  // Both exit; ours is collect_exits' to report, the other is reaped by reap_adopted.
  // Looked at without reaping (WNOWAIT): only reap_adopted may have reaped it.
  REQUIRE(wait_until([&] {
    spawner->reap_adopted();
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(adopted), &info, WEXITED | WNOHANG | WNOWAIT) != 0 &&
           errno == ECHILD;
  }));
  CHECK(wait_exit(*spawner, *ours) == ExitStatus::exited(0));
}

TEST_CASE("naming a descriptor shortage takes no descriptor another thread could need") {
  // A host with threads: while one thread's start fails with EMFILE and the message is made,
  // another's open() must not fail because the message took the last free descriptors.
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = 64;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> filler;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  REQUIRE(filler.size() >= 2);
  for (int i = 0; i < 2; ++i) {  // two free: one for the other thread, one to spare
    ::close(filler.back());
    filler.pop_back();
  }
  std::string alone = arm::posix::describe_descriptor_shortage(EMFILE);
  CHECK(alone.find(" holds 62 of its limit of 64;") != std::string::npos);

  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::atomic<int> opened{0};
  std::thread other([&] {
    while (!stop) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE) ++refused;
      } else {
        ++opened;
        ::close(fd);
      }
    }
  });
  while (opened == 0) std::this_thread::yield();
  for (int i = 0; i < 200000 && refused == 0; ++i)
    (void)arm::posix::describe_descriptor_shortage(EMFILE);
  stop = true;
  other.join();
  for (int fd : filler) ::close(fd);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(refused == 0);
}
