#include "log_blocking.hpp"

#include <fcntl.h>

#include <algorithm>

#include "log.hpp"

namespace armd {

// LogFiles' pieces for files that would block, kept here so that log_files.cpp stays about
// regular files.

void LogFiles::keep_unwritten(File& file, std::string_view rest) {
  std::size_t written = file.pending.size() - rest.size();
  file.pending_lines -= static_cast<std::uint64_t>(
      std::count(file.pending.begin(), file.pending.begin() + written, '\n'));
  file.pending.erase(0, written);
  file.blocked = true;
}

// A FIFO nobody reads yet (ENXIO for a write-only, non-blocking open): opened read-write, which
// Linux allows for a FIFO and never waits for; lines wait in it (64 KiB) until a reader comes,
// then in armd once it is full.
arm::posix::UniqueFd LogFiles::open_fifo_without_reader(const File& file) {
  return arm::posix::UniqueFd(
      ::open(file.setting.path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NONBLOCK));
}

void LogFiles::drop_unwritten(const std::string& service, File& file) {
  if (file.pending.empty()) return;
  log_service(Level::warning, service,
              "its log_file {} is closed by a reload while it did not take lines; {} line{} it "
              "held {} dropped from it",
              file.setting.path, file.pending_lines, file.pending_lines == 1 ? "" : "s",
              file.pending_lines == 1 ? "is" : "are");
  file.pending.clear();
  file.pending_lines = 0;
}

std::vector<LogFiles::Blocked> LogFiles::blocked() const {
  std::vector<Blocked> files;
  for (const auto& [service, file] : files_)
    if (file.blocked && file.fd) files.push_back({service, file.fd.get()});
  return files;
}

void SlowedServices::add_poll_fds(const LogFiles& files, std::vector<pollfd>& fds) const {
  if (paused_.empty()) return;
  for (const auto& file : files.blocked()) fds.push_back({file.fd, POLLOUT, 0});
}

void SlowedServices::update(const LogFiles& files, arm::posix::OutputPipes& pipes) {
  auto blocked = files.blocked();
  if (blocked.empty() && paused_.empty()) return;
  std::set<std::string, std::less<>> now;
  for (const auto& file : blocked) now.emplace(file.service);
  for (const auto& service : now) {
    if (paused_.contains(service)) continue;
    pipes.pause(service);
    log_service(Level::warning, service,
                "its log_file does not take lines now; its output is not read until it does "
                "(the service is slowed, nothing is lost: log_overflow = \"block\")");
  }
  for (const auto& service : paused_) {
    if (now.contains(service)) continue;
    pipes.resume(service);
    log_service(Level::info, service, "its log_file takes lines again; its output is read again");
  }
  paused_ = std::move(now);
}

}  // namespace armd
