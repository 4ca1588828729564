#include "reexec_check.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace armd {

namespace {

// What the check printed is its reason; more than this is not read.
constexpr std::size_t most_output = 16 * 1024;

}  // namespace

std::expected<std::unique_ptr<ReexecCheck>, std::string> ReexecCheck::start(
    const std::string& program, const std::string& config_path, int state_fd) {
  std::unique_ptr<ReexecCheck> check(new ReexecCheck());
  check->program_ = program;
  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0)
    return std::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  check->output_.reset(output[0]);
  arm::posix::UniqueFd write_end(output[1]);
  // armd's end only: the program's stderr blocks as any does.
  ::fcntl(check->output_.get(), F_SETFL, O_NONBLOCK);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
  posix_spawn_file_actions_adddup2(&actions, state_fd, 3);
  // armd blocks the signals its signalfd reads: the program starts with none blocked.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> words{program, "--handover-check", "3", "--config", config_path};
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  int spawned =
      ::posix_spawn(&check->pid_, program.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    check->pid_ = 0;
    return std::unexpected(fmt::format("cannot run {}: {}", program, std::strerror(spawned)));
  }
  // Our own unreaped child: its number cannot be reused meanwhile.
  check->pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, check->pid_, 0)));
  if (!check->pidfd_) return std::unexpected(fmt::format("pidfd_open: {}", std::strerror(errno)));
  check->deadline_ = std::chrono::steady_clock::now() + timeout;
  return check;
}

ReexecCheck::~ReexecCheck() {
  if (pid_ == 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

void ReexecCheck::add_poll_fds(std::vector<pollfd>& fds) const {
  fds.push_back({pidfd_.get(), POLLIN, 0});
  fds.push_back({output_ ? output_.get() : -1, POLLIN, 0});
}

std::optional<std::expected<void, std::string>> ReexecCheck::advance(const pollfd* entries) {
  if (output_ && entries[1].revents) {
    char buffer[4096];
    for (;;) {
      ssize_t got = ::read(output_.get(), buffer, sizeof buffer);
      if (got > 0) {
        if (said_.size() < most_output)
          said_.append(buffer, std::min(static_cast<std::size_t>(got), most_output - said_.size()));
        continue;
      }
      if (got == 0) output_.reset();
      break;
    }
  }
  bool exited = entries[0].revents & POLLIN;
  if (!exited) {
    if (std::chrono::steady_clock::now() < deadline_) return std::nullopt;
    ::kill(pid_, SIGKILL);
  }
  int status = 0;
  ::waitpid(std::exchange(pid_, 0), &status, 0);
  if (!exited)
    return std::unexpected(
        fmt::format("{} did not read the state within {} s", program_, timeout.count()));
  return verdict(status);
}

std::expected<void, std::string> ReexecCheck::verdict(int status) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  // What is left in the pipe is its last words.
  if (output_) {
    char buffer[4096];
    ssize_t got;
    while (said_.size() < most_output && (got = ::read(output_.get(), buffer, sizeof buffer)) > 0)
      said_.append(buffer, std::min(static_cast<std::size_t>(got), most_output - said_.size()));
  }
  while (!said_.empty() && (said_.back() == '\n' || said_.back() == '\r')) said_.pop_back();
  std::string how = WIFEXITED(status) ? fmt::format("exit code {}", WEXITSTATUS(status))
                                      : fmt::format("signal {}", WTERMSIG(status));
  return std::unexpected(
      fmt::format("{} cannot take over: {}", program_, said_.empty() ? how : said_));
}

}  // namespace armd
