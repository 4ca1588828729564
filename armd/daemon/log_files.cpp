#include "log_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "log.hpp"

namespace armd {

std::map<std::string, LogFiles::Setting> LogFiles::settings_of(const arm::Config& config) {
  std::map<std::string, Setting> settings;
  for (const auto& [name, spec] : config.services) {
    if (!spec.log_file) continue;
    settings.emplace(name, Setting{*spec.log_file,
                                   {spec.log_max_size, spec.log_max_files},
                                   spec.log_overflow == arm::ServiceSpec::LogOverflow::drop});
  }
  return settings;
}

void LogFiles::configure(std::map<std::string, Setting> settings) {
  for (auto it = files_.begin(); it != files_.end();) {
    auto setting = settings.find(it->first);
    if (setting == settings.end() || !(setting->second == it->second.setting)) {
      flush(it->first, it->second);
      drop_unwritten(it->first, it->second);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, setting] : settings) {
    if (!files_.contains(name)) files_[name].setting = std::move(setting);
  }
}

void LogFiles::forget(const std::string& service) {
  dropped_.erase(service);
}

bool LogFiles::open(const std::string& service, File& file) {
  // Non-blocking: opening a FIFO nobody reads fails at once (ENXIO) instead of waiting for a
  // reader, and a write it cannot take now returns instead of stalling armd's loop.
  int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK;
  file.fd.reset(::open(file.setting.path.c_str(), flags, 0640));
  if (!file.fd && errno == ENXIO && !file.setting.drop) file.fd = open_fifo_without_reader(file);
  struct stat info {};
  if (!file.fd || ::fstat(file.fd.get(), &info) != 0) {
    if (file.failed_lines == 0)
      log_service(
          Level::warning, service,
          "cannot open its log_file {}: {}; its lines are dropped from the file until it can",
          file.setting.path, std::strerror(errno));
    file.fd.reset();
    return false;
  }
  file.regular = S_ISREG(info.st_mode);
  file.blocked = false;
  file.size = static_cast<std::uint64_t>(info.st_size);
  file.unrotated = std::min(file.unrotated, file.size);  // a file replaced meanwhile
  file.unfinished.clear();
  return true;
}

bool LogFiles::rotate(const std::string& service, File& file) {
  bool moved = true;
  bool failing = file.unrotated > 0;  // said already, when this streak began
  auto renames = file.setting.rotation.renames(file.setting.path);
  // The oldest file goes first, by unlink, rather than replaced by the first rename: ext4
  // writes a file's delayed data out at once when it is renamed over another (auto_da_alloc),
  // which made armd do the disk's work of 64 MiB in its loop at each rotation. Nothing else
  // changes: the same files are left, and a failure is the rename's to report.
  ::unlink(renames.front().second.c_str());
  for (const auto& [from, to] : renames) {
    if (::rename(from.c_str(), to.c_str()) == 0 || errno == ENOENT) continue;
    if (!failing)
      log_service(Level::warning, service, "rotating its log_file: rename {} to {}: {}", from, to,
                  std::strerror(errno));
    if (from == file.setting.path) moved = false;
  }
  if (!moved) {
    if (!failing)
      log_service(Level::warning, service,
                  "its log_file {} grows past log_max_size until it can be rotated (tried again "
                  "after each log_max_size more bytes)",
                  file.setting.path);
    file.unrotated = file.size;
    return false;
  }
  if (file.unrotated)
    log_service(Level::info, service, "its log_file {} is rotated again", file.setting.path);
  file.unrotated = 0;
  file.fd.reset();
  return true;
}

std::optional<std::size_t> LogFiles::write_some(File& file, std::string_view bytes) {
  for (;;) {
    ssize_t written = ::write(file.fd.get(), bytes.data(), bytes.size());
    if (written > 0) {
      file.size += static_cast<std::uint64_t>(written);
      return static_cast<std::size_t>(written);
    }
    if (written < 0 && errno == EINTR) continue;
    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (written == 0) errno = EIO;  // a zero-byte write of a non-empty line: no progress
    return std::nullopt;
  }
}

void LogFiles::failed(const std::string& service, File& file) {
  if (file.failed_lines == 0)
    log_service(Level::warning, service,
                "writing its log_file {}: {}; lines are dropped from the file until it works",
                file.setting.path, std::strerror(errno));
  ++file.failed_lines;
  file.fd.reset();  // reopened at the next line
}

void LogFiles::drop(const std::string& service, File& file) {
  if (file.dropped_lines == 0)
    log_service(Level::warning, service,
                "its log_file {} does not keep up; lines it cannot take at once are dropped from "
                "it (log_overflow = \"drop\")",
                file.setting.path);
  ++file.dropped_lines;
  ++dropped_[service];
}

void LogFiles::write_or_drop(const std::string& service, File& file, std::string text) {
  if (!file.unfinished.empty()) {
    auto written = write_some(file, file.unfinished);
    if (!written) return failed(service, file);
    file.unfinished.erase(0, *written);
    if (!file.unfinished.empty()) return drop(service, file);
  }
  auto written = write_some(file, text);
  if (!written) return failed(service, file);
  if (*written == 0) return drop(service, file);
  file.unfinished = text.substr(*written);
  if (file.dropped_lines) {
    log_service(Level::info, service,
                "its log_file {} takes lines again; {} line{} dropped from it ({} since armd "
                "started)",
                file.setting.path, file.dropped_lines, file.dropped_lines == 1 ? "" : "s",
                dropped_[service]);
    file.dropped_lines = 0;
  }
}

void LogFiles::write(const std::string& service, const arm::OutputLineView& line) {
  writer(service).write(line);
}

LogFiles::Writer LogFiles::writer(const std::string& service) {
  auto found = files_.find(service);
  return Writer(this, &service, found == files_.end() ? nullptr : &found->second);
}

void LogFiles::write_line(const std::string& service, File& file, const arm::OutputLineView& line) {
  std::size_t size = arm::log_file_line_size(line.stream, line.text, line.continues);
  if (!file.fd && !open(service, file)) {
    ++file.failed_lines;
    return;
  }
  if (file.regular && file.setting.rotation.due(file.size - file.unrotated, size)) {
    flush(service, file);  // what is pending belongs in the file being rotated
    rotate(service, file);
    if (!file.fd && !open(service, file)) {
      ++file.failed_lines;
      return;
    }
  }
  std::string_view stamp = stamps_.stamp(line.time);
  if (file.setting.drop) {
    // Written at once, never gathered: what the file does not take now is what is dropped.
    std::string text;
    text.reserve(size);
    arm::append_log_file_line(text, stamp, line.stream, line.text, line.continues);
    write_or_drop(service, file, std::move(text));
    note_working(service, file);
    return;
  }
  // Formatted straight into what is pending: no string per line.
  arm::append_log_file_line(file.pending, stamp, line.stream, line.text, line.continues);
  ++file.pending_lines;
  file.size += size;
  if (file.pending.size() >= flush_at && !file.blocked) flush(service, file);
}

void LogFiles::note_working(const std::string& service, File& file) {
  if (!file.fd || !file.failed_lines) return;
  log_service(Level::info, service,
              "its log_file {} works again; {} line{} could not be written to it",
              file.setting.path, file.failed_lines, file.failed_lines == 1 ? "" : "s");
  file.failed_lines = 0;
}

void LogFiles::flush() {
  for (auto& [service, file] : files_) flush(service, file);
}

// Block mode: writes what write() gathered, waiting as long as the file makes it. A write that
// fails drops, and counts, every line it held.
void LogFiles::flush(const std::string& service, File& file) {
  if (file.pending.empty()) return;
  std::string_view rest = file.pending;
  bool all_written = true;
  while (!rest.empty()) {
    ssize_t written = file.fd ? ::write(file.fd.get(), rest.data(), rest.size()) : -1;
    if (written < 0 && errno == EINTR && file.fd) continue;
    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && file.fd) {
      keep_unwritten(file, rest);
      return;
    }
    if (written <= 0) {
      if (written == 0 || !file.fd) errno = EIO;
      if (file.failed_lines == 0)
        log_service(Level::warning, service,
                    "writing its log_file {}: {}; lines are dropped from the file until it works",
                    file.setting.path, std::strerror(errno));
      file.fd.reset();  // reopened at the next line
      all_written = false;
      break;
    }
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  if (!all_written) file.failed_lines += file.pending_lines;
  file.blocked = false;
  file.pending.clear();
  file.pending_lines = 0;
  if (all_written) note_working(service, file);
}

}  // namespace armd
