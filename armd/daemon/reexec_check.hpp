// The new program's trial run before a re-exec (issue 15): `PROGRAM --handover-check 3 --config
// FILE` with the state on descriptor 3, reading it as the exec'd armd will. It runs beside armd's
// loop, which goes on answering: armd watches its pidfd and its output, and reads the verdict.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arm/posix/unique_fd.hpp"

namespace armd {

class ReexecCheck {
 public:
  // How long the new program may take; then it is killed and the re-exec refused.
  static constexpr std::chrono::seconds timeout{10};

  // Starts it, or says why it could not be run.
  static std::expected<std::unique_ptr<ReexecCheck>, std::string> start(
      const std::string& program, const std::string& config_path, int state_fd);
  // A check still running is killed and reaped.
  ~ReexecCheck();
  ReexecCheck(const ReexecCheck&) = delete;
  ReexecCheck& operator=(const ReexecCheck&) = delete;

  pid_t pid() const { return pid_; }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  // Two entries: its pidfd, its output.
  void add_poll_fds(std::vector<pollfd>& fds) const;
  // After poll, with the two entries add_poll_fds appended: reads its output; once it has
  // exited (or its time is up: then it is killed), the verdict: nothing, or what it said.
  std::optional<std::expected<void, std::string>> advance(const pollfd* entries);

 private:
  ReexecCheck() = default;
  std::expected<void, std::string> verdict(int status);

  std::string program_;
  pid_t pid_ = 0;  // 0 once reaped
  arm::posix::UniqueFd pidfd_;
  arm::posix::UniqueFd output_;
  std::string said_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace armd
