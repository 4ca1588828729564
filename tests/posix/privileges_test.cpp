// ExecutionSettings (issue 15) applied by PosixSpawner to real children: each setting read back
// from /proc/PID/{status,limits,stat,oom_score_adj,environ} of the running program, and each
// failure reported as a spawn error naming the setting. Identity changes need root: those cases
// say so and check nothing else when run without it. Failures a root host cannot provoke are
// provoked in a forked copy of the test that has become `nobody`.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../config/temporary_directory.hpp"
#include "arm/posix.hpp"

using namespace arm;
using arm::posix::PosixSpawner;

namespace {

[[maybe_unused]] const bool tagged = [] {
  return ::setenv("ARMD_TEST_TAG", "posix-tests", 1) == 0;
}();

constexpr std::uint32_t nobody = 65534;  // Debian's nobody and nogroup

std::unique_ptr<PosixSpawner> make_spawner() {
  auto spawner = PosixSpawner::create();
  REQUIRE(spawner);
  return std::move(*spawner);
}

SpawnRequest sleeper(ExecutionSettings execution) {
  SpawnRequest request;
  request.service = "privileged";
  request.argv = {"sleep", "1000"};
  request.standard_output = {OutputTarget::Kind::null, {}};
  request.standard_error = {OutputTarget::Kind::null, {}};
  request.execution = std::move(execution);
  return request;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The value of `field` in /proc/PID/status ("Uid" -> "65534\t65534\t65534\t65534").
std::string status_field(ProcessId pid, std::string_view field) {
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(std::string(field) + ":")) {
      auto value = line.substr(field.size() + 1);
      auto first = value.find_first_not_of(" \t");
      auto last = value.find_last_not_of(" \t");
      return first == std::string::npos ? std::string() : value.substr(first, last - first + 1);
    }
  }
  return "(no " + std::string(field) + ")";
}

// The line of /proc/PID/limits that starts with `name` ("Max open files"), blanks squeezed.
std::string limits_line(ProcessId pid, std::string_view name) {
  std::istringstream limits(read_file("/proc/" + std::to_string(pid) + "/limits"));
  std::string line;
  while (std::getline(limits, line)) {
    if (!line.starts_with(name)) continue;
    std::istringstream words(line.substr(name.size()));
    std::string word, squeezed;
    while (words >> word) squeezed += (squeezed.empty() ? "" : " ") + word;
    return squeezed;
  }
  return "(none)";
}

// Field 19 of /proc/PID/stat: the nice value.
int nice_of(ProcessId pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  for (int number = 3; fields >> field; ++number)
    if (number == 19) return std::stoi(field);
  return 99;
}

std::vector<std::string> environ_of(ProcessId pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/environ");
  std::vector<std::string> entries;
  std::istringstream split(text);
  std::string entry;
  while (std::getline(split, entry, '\0'))
    if (!entry.empty()) entries.push_back(entry);
  return entries;
}

// spawn() returns once the kernel has replaced the child's memory, but before exec has finished
// (the ambient capabilities are computed, the environment laid out, a moment later): waits
// until `sleep` runs, asleep in nanosleep, so what /proc shows is the program's.
void wait_until_asleep(ProcessId pid) {
  for (int waited = 0; waited < 30'000; waited += 5) {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close != std::string::npos && stat.find("(sleep)") != std::string::npos &&
        stat.compare(close + 2, 1, "S") == 0)
      return;
    ::usleep(5'000);
  }
  FAIL("the spawned sleep never went to sleep");
}

void stop(PosixSpawner& spawner, ProcessId pid) {
  spawner.signal_group(pid, StopSignal::kill);
  for (int waited = 0; waited < 30'000 && spawner.live_children() > 0; waited += 10) {
    pollfd fd{spawner.exit_fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    spawner.collect_exits([](ProcessId, ExitStatus) {});
  }
}

// Whether this process holds `capability` in its effective set.
bool holds(unsigned capability) {
  std::istringstream status(read_file("/proc/self/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("CapEff:"))
      return (std::stoull(line.substr(7), nullptr, 16) >> capability) & 1;
  }
  return false;
}

bool is_root() {
  return ::geteuid() == 0;
}

// Runs `body` in a forked copy of this process that has become nobody:nogroup with no
// supplementary groups (and so no capabilities); returns what it wrote to its pipe.
std::string as_nobody(const std::function<std::string()>& body) {
  int ends[2];
  REQUIRE(::pipe(ends) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(ends[0]);
    std::string result;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(nobody, nobody, nobody) != 0 ||
        ::setresuid(nobody, nobody, nobody) != 0) {
      result = "could not become nobody";
    } else {
      result = body();
    }
    (void)!::write(ends[1], result.data(), result.size());
    ::_exit(0);
  }
  ::close(ends[1]);
  std::string result;
  char buffer[512];
  ssize_t got;
  while ((got = ::read(ends[0], buffer, sizeof buffer)) > 0)
    result.append(buffer, static_cast<std::size_t>(got));
  ::close(ends[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return result;
}

}  // namespace

TEST_CASE("user, group, supplementary_groups and umask are those of the running program") {
  if (!is_root()) {
    MESSAGE("skipped: changing a process's user needs root");
    return;
  }
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.user = nobody;
  execution.group = nobody;
  execution.supplementary_groups = std::vector<std::uint32_t>{1, nobody};
  execution.umask = 027;
  auto pid = spawner->spawn(sleeper(execution));
  REQUIRE(pid);
  wait_until_asleep(*pid);
  CHECK(status_field(*pid, "Uid") == "65534\t65534\t65534\t65534");
  CHECK(status_field(*pid, "Gid") == "65534\t65534\t65534\t65534");
  CHECK(status_field(*pid, "Groups") == "1 65534");
  CHECK(status_field(*pid, "Umask") == "0027");
  // A non-root user keeps no capability it was not given.
  CHECK(status_field(*pid, "CapEff") == "0000000000000000");
  CHECK(status_field(*pid, "CapPrm") == "0000000000000000");
  stop(*spawner, *pid);
}

TEST_CASE("a capability is ambient, permitted and effective for a non-root user") {
  if (!is_root()) {
    MESSAGE("skipped: changing a process's user needs root");
    return;
  }
  REQUIRE(holds(10));  // CAP_NET_BIND_SERVICE
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.user = nobody;
  execution.group = nobody;
  execution.supplementary_groups = std::vector<std::uint32_t>{};
  execution.capabilities = 1ULL << 10;
  execution.no_new_privileges = true;
  auto pid = spawner->spawn(sleeper(execution));
  REQUIRE(pid);
  wait_until_asleep(*pid);
  CHECK(status_field(*pid, "Uid") == "65534\t65534\t65534\t65534");
  CHECK(status_field(*pid, "CapAmb") == "0000000000000400");
  CHECK(status_field(*pid, "CapPrm") == "0000000000000400");
  CHECK(status_field(*pid, "CapEff") == "0000000000000400");
  CHECK(status_field(*pid, "NoNewPrivs") == "1");
  stop(*spawner, *pid);
}

TEST_CASE("limits, nice and oom_score_adj are the running program's; the host's are untouched") {
  rlimit host{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &host) == 0);
  REQUIRE(host.rlim_max >= 200);
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.limits = {{ResourceLimit::nofile, 100, 200},
                      {ResourceLimit::core, 0, ExecutionSettings::unlimited},
                      {ResourceLimit::nproc, 5000, 6000}};
  execution.nice = 7;
  execution.oom_score_adj = 500;
  auto pid = spawner->spawn(sleeper(execution));
  REQUIRE(pid);
  wait_until_asleep(*pid);
  CHECK(limits_line(*pid, "Max open files") == "100 200 files");
  CHECK(limits_line(*pid, "Max core file size") == "0 unlimited bytes");
  CHECK(limits_line(*pid, "Max processes") == "5000 6000 processes");
  CHECK(nice_of(*pid) == 7);
  CHECK(read_file("/proc/" + std::to_string(*pid) + "/oom_score_adj") == "500\n");
  CHECK(status_field(*pid, "NoNewPrivs") == "0");
  rlimit after{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
  CHECK(after.rlim_cur == host.rlim_cur);
  CHECK(::getpriority(PRIO_PROCESS, 0) != 7);
  stop(*spawner, *pid);
}

TEST_CASE("clear_environment leaves only the service's own variables and its environment_file's") {
  TemporaryDirectory directory;
  auto file = directory.write("web.env",
                              "# a comment\n\n  FROM_FILE = spaced  \nQUOTED=\"a # b\"\n"
                              "OVERRIDDEN=by-file\n");
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.clear_environment = true;
  execution.environment_file = file.string();
  SpawnRequest request = sleeper(execution);
  request.environment = {{"OWN", "1"}, {"OVERRIDDEN", "by-environment"}};
  request.readiness.kind = Readiness::Kind::exec;
  auto pid = spawner->spawn(request);
  REQUIRE(pid);
  wait_until_asleep(*pid);
  CAPTURE(fmt::format("{}", fmt::join(environ_of(*pid), " ")));
  CHECK(environ_of(*pid) == std::vector<std::string>{"FROM_FILE=spaced", "OVERRIDDEN=by-file",
                                                     "OWN=1", "QUOTED=a # b"});
  stop(*spawner, *pid);

  // Without clear_environment armd's own come too; the file is read again at each start.
  directory.write("web.env", "FROM_FILE=changed\n");
  execution.clear_environment = false;
  pid = spawner->spawn(sleeper(execution));
  REQUIRE(pid);
  wait_until_asleep(*pid);
  auto environment = environ_of(*pid);
  CHECK(std::ranges::count(environment, "FROM_FILE=changed") == 1);
  CHECK(std::ranges::count(environment, "ARMD_TEST_TAG=posix-tests") == 1);
  stop(*spawner, *pid);
}

TEST_CASE("a user with a passwd entry gets USER, LOGNAME and HOME") {
  if (!is_root()) {
    MESSAGE("skipped: changing a process's user needs root");
    return;
  }
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.user = nobody;
  execution.user_name = "nobody";
  execution.user_home = "/nonexistent";
  execution.group = nobody;
  execution.supplementary_groups = std::vector<std::uint32_t>{};
  execution.clear_environment = true;
  auto pid = spawner->spawn(sleeper(execution));
  REQUIRE(pid);
  wait_until_asleep(*pid);
  CAPTURE(fmt::format("{}", fmt::join(environ_of(*pid), " ")));
  CHECK(environ_of(*pid) ==
        std::vector<std::string>{"HOME=/nonexistent", "LOGNAME=nobody", "USER=nobody"});
  stop(*spawner, *pid);
}

TEST_CASE("a missing or bad environment_file fails the spawn, naming the file and the line") {
  TemporaryDirectory directory;
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.environment_file = (directory.path() / "missing.env").string();
  auto missing = spawner->spawn(sleeper(execution));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "cannot start privileged: environment_file: " +
                                       execution.environment_file + ": No such file or directory");
  execution.environment_file = directory.write("bad.env", "A=1\n# fine\nexport B=2\n").string();
  auto bad = spawner->spawn(sleeper(execution));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message ==
        "cannot start privileged: environment_file: " + execution.environment_file +
            ":3: 'export B' is not a variable name (letters, digits and _, not starting with a "
            "digit)");
  // An environment file holds secrets: a bad line's value never goes into the error, which
  // armd logs and armctl shows; nor does a line without '=' (the rest of a multi-line value).
  execution.environment_file = directory.write("secret.env", "export PASSWORD=hunter2\n").string();
  auto secret = spawner->spawn(sleeper(execution));
  REQUIRE_FALSE(secret);
  CHECK(secret.error().message.find("hunter2") == std::string::npos);
  CHECK(secret.error().message.find("'export PASSWORD'") != std::string::npos);
  execution.environment_file =
      directory.write("multiline.env", "KEY=\"first\nsecond-secret\"\n").string();
  auto multiline = spawner->spawn(sleeper(execution));
  REQUIRE_FALSE(multiline);
  CHECK(multiline.error().message ==
        "cannot start privileged: environment_file: " + execution.environment_file +
            ":2: expected KEY=VALUE, found a line without '=' (a value cannot span lines)");
  execution.environment_file = directory.path().string();
  auto directory_given = spawner->spawn(sleeper(execution));
  REQUIRE_FALSE(directory_given);
  CHECK(directory_given.error().message.ends_with(": not a regular file"));
  CHECK(spawner->live_children() == 0);
}

TEST_CASE("a limit the kernel refuses fails the spawn, naming the limit") {
  // Above fs.nr_open even root may not raise the descriptor limit.
  unsigned long nr_open = std::stoul(read_file("/proc/sys/fs/nr_open"));
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.limits = {{ResourceLimit::core, 0, 0},
                      {ResourceLimit::nofile, nr_open + 1, nr_open + 1}};
  auto failed = spawner->spawn(sleeper(execution));
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message ==
        fmt::format("cannot start sleep: limits.nofile: setrlimit(soft {0}, hard {0}): Operation "
                    "not permitted",
                    nr_open + 1));
  CHECK(spawner->live_children() == 0);
}

TEST_CASE("a negative oom_score_adj needs CAP_SYS_RESOURCE: without it the spawn fails") {
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.oom_score_adj = -1000;
  auto result = spawner->spawn(sleeper(execution));
  if (holds(24)) {  // CAP_SYS_RESOURCE
    REQUIRE(result);
    wait_until_asleep(*result);
    CHECK(read_file("/proc/" + std::to_string(*result) + "/oom_score_adj") == "-1000\n");
    stop(*spawner, *result);
    // Without it, as nobody:
    CHECK(as_nobody([] {
            auto spawner = PosixSpawner::create();
            ExecutionSettings execution;
            execution.oom_score_adj = -1000;
            auto failed = (*spawner)->spawn(sleeper(execution));
            return failed ? std::string("spawned") : failed.error().message;
          }) ==
          "cannot start sleep: oom_score_adj: writing -1000 to /proc/self/oom_score_adj: "
          "Permission denied");
  } else {
    REQUIRE_FALSE(result);
    CHECK(result.error().message ==
          "cannot start sleep: oom_score_adj: writing -1000 to /proc/self/oom_score_adj: "
          "Permission denied");
  }
  CHECK(spawner->live_children() == 0);
}

TEST_CASE("without the rights, user, group, groups, nice and capabilities each fail naming it") {
  if (!is_root()) {
    MESSAGE("skipped: becoming nobody to lose the rights needs root");
    return;
  }
  auto attempt = [](ExecutionSettings execution) {
    return as_nobody([execution] {
      auto spawner = PosixSpawner::create();
      if (!spawner) return spawner.error().message;
      auto failed = (*spawner)->spawn(sleeper(execution));
      if (failed) {
        (*spawner)->signal_group(*failed, StopSignal::kill);
        return std::string("spawned");
      }
      return failed.error().message;
    });
  };
  ExecutionSettings user;
  user.user = 0;
  user.group = nobody;
  user.supplementary_groups = std::vector<std::uint32_t>{};
  CHECK(attempt(user) == "cannot start sleep: user: setresuid(0): Operation not permitted");
  ExecutionSettings group;
  group.group = 0;
  CHECK(attempt(group) == "cannot start sleep: group: setresgid(0): Operation not permitted");
  ExecutionSettings groups;
  groups.supplementary_groups = std::vector<std::uint32_t>{0};
  CHECK(attempt(groups) ==
        "cannot start sleep: supplementary_groups: setgroups([0]): Operation not permitted");
  ExecutionSettings nice;
  nice.nice = -5;
  CHECK(attempt(nice) == "cannot start sleep: nice: setpriority(-5): Permission denied");
  ExecutionSettings capabilities;
  capabilities.capabilities = 1ULL << 10;
  CHECK(attempt(capabilities) ==
        "cannot start sleep: capabilities: CAP_NET_BIND_SERVICE: Operation not permitted (armd "
        "does not hold it, or it is outside the bounding set)");
  // Its own identity asked of a non-root host is no change, and no error.
  ExecutionSettings own;
  own.user = nobody;
  own.group = nobody;
  own.supplementary_groups = std::vector<std::uint32_t>{};
  CHECK(attempt(own) == "spawned");
}

TEST_CASE("output files are opened before the switch: a service may write where it cannot open") {
  if (!is_root()) {
    MESSAGE("skipped: changing a process's user needs root");
    return;
  }
  TemporaryDirectory directory;  // 0700, root's
  std::string out = (directory.path() / "out.log").string();
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.user = nobody;
  execution.group = nobody;
  execution.supplementary_groups = std::vector<std::uint32_t>{};
  SpawnRequest request;
  request.service = "writer";
  request.argv = {"/bin/sh", "-c", "id -u; : > " + directory.path().string() + "/own || true"};
  request.standard_output = {OutputTarget::Kind::file, out};
  request.standard_error = {OutputTarget::Kind::null, {}};
  request.execution = execution;
  auto pid = spawner->spawn(request);
  REQUIRE(pid);
  for (int waited = 0; waited < 30'000 && spawner->live_children() > 0; waited += 10) {
    pollfd fd{spawner->exit_fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    spawner->collect_exits([](ProcessId, ExitStatus) {});
  }
  CHECK(read_file(out) == "65534\n");
  // ... but what it opens itself, it opens as its user.
  CHECK_FALSE(std::filesystem::exists(directory.path() / "own"));

  // The working directory is entered as the service's user.
  request.argv = {"/bin/true"};
  request.working_directory = directory.path().string();
  auto refused = spawner->spawn(request);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "cannot change directory to " + directory.path().string() + ": Permission denied");
}

TEST_CASE("kill_children_if_host_dies holds for a service switched to another user") {
  // The kernel clears a process's parent-death signal when its effective uid or gid changes
  // (commit_creds): set before the switch, it would be lost, and the service outlive armd.
  if (!is_root()) {
    MESSAGE("skipped: changing a process's user needs root");
    return;
  }
  int ends[2];
  REQUIRE(::pipe(ends) == 0);
  pid_t host = ::fork();
  REQUIRE(host >= 0);
  if (host == 0) {  // the host: spawns the service as nobody, reports its pid, waits to be killed
    ::close(ends[0]);
    auto spawner = PosixSpawner::create({.kill_children_if_host_dies = true});
    if (!spawner) ::_exit(1);
    ExecutionSettings execution;
    execution.user = nobody;
    execution.group = nobody;
    execution.supplementary_groups = std::vector<std::uint32_t>{};
    auto child = (*spawner)->spawn(sleeper(execution));
    pid_t pid = child ? *child : -1;
    if (::write(ends[1], &pid, sizeof pid) != sizeof pid) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ends[1]);
  pid_t service = -1;
  REQUIRE(::read(ends[0], &service, sizeof service) == sizeof service);
  ::close(ends[0]);
  REQUIRE(service > 0);
  ::kill(host, SIGKILL);
  ::waitpid(host, nullptr, 0);
  auto gone = [service] {
    std::string stat = read_file("/proc/" + std::to_string(service) + "/stat");
    return stat.empty() || stat.find(") Z") != std::string::npos;
  };
  bool died = false;
  for (int waited = 0; waited < 30'000 && !(died = gone()); waited += 10) ::usleep(10'000);
  if (!died) ::kill(service, SIGKILL);  // not left behind by a failing test
  CHECK(died);
}

TEST_CASE("a service switched to another user leaves the host dumpable") {
  // The child shares the host's memory until exec (CLONE_VM), and the kernel marks a process's
  // memory not dumpable (fs.suid_dumpable, 0 by default) when its ids change: the host's
  // memory, here. The host would lose its core dumps and its /proc files would become root's.
  if (!is_root()) {
    MESSAGE("skipped: changing a process's user needs root");
    return;
  }
  int before = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  REQUIRE(before == 1);
  if (read_file("/proc/sys/fs/suid_dumpable") == "1\n")
    MESSAGE("fs.suid_dumpable is 1: the kernel leaves dumpability alone, this checks nothing");
  auto spawner = make_spawner();
  ExecutionSettings execution;
  execution.user = nobody;
  execution.group = nobody;
  execution.supplementary_groups = std::vector<std::uint32_t>{};
  execution.capabilities = 1ULL << 10;  // CAP_NET_BIND_SERVICE
  auto pid = spawner->spawn(sleeper(execution));
  REQUIRE(pid);
  CHECK(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == before);
  wait_until_asleep(*pid);
  stop(*spawner, *pid);
}
