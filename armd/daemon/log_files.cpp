#include "log_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  // Non-blocking in drop mode: opening a FIFO nobody reads fails at once (ENXIO) instead of
  // waiting for a reader.
  int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (file.setting.drop ? O_NONBLOCK : 0);
  file.fd.reset(::open(file.setting.path.c_str(), flags, 0640));
  struct stat info {};
  if (!file.fd || ::fstat(file.fd.get(), &info) != 0) {
    if (file.failed_lines == 0)
      log("{}: cannot open its log_file {}: {}; its lines are dropped from the file until it can",
          service, file.setting.path, std::strerror(errno));
    file.fd.reset();
    return false;
  }
  file.regular = S_ISREG(info.st_mode);
  file.size = static_cast<std::uint64_t>(info.st_size);
  file.unfinished.clear();
  return true;
}

void LogFiles::rotate(const std::string& service, File& file) {
  file.fd.reset();
  for (const auto& [from, to] : file.setting.rotation.renames(file.setting.path)) {
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
      log("{}: rotating its log_file: rename {} to {}: {}", service, from, to,
          std::strerror(errno));
  }
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
    log("{}: writing its log_file {}: {}; lines are dropped from the file until it works", service,
        file.setting.path, std::strerror(errno));
  ++file.failed_lines;
  file.fd.reset();  // reopened at the next line
}

void LogFiles::drop(const std::string& service, File& file) {
  if (file.dropped_lines == 0)
    log("{}: its log_file {} does not keep up; lines it cannot take at once are dropped from it "
        "(log_overflow = \"drop\")",
        service, file.setting.path);
  ++file.dropped_lines;
  ++dropped_[service];
}

void LogFiles::write_waiting(const std::string& service, File& file, std::string_view text) {
  while (!text.empty()) {
    auto written = write_some(file, text);
    if (!written || *written == 0) {  // 0: a non-blocking file someone else opened; an error here
      if (written) errno = EAGAIN;
      failed(service, file);
      return;
    }
    text.remove_prefix(*written);
  }
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
    log("{}: its log_file {} takes lines again; {} line{} dropped from it ({} since armd started)",
        service, file.setting.path, file.dropped_lines, file.dropped_lines == 1 ? "" : "s",
        dropped_[service]);
    file.dropped_lines = 0;
  }
}

void LogFiles::write(const std::string& service, const arm::OutputLine& line) {
  auto found = files_.find(service);
  if (found == files_.end()) return;
  File& file = found->second;
  std::string text = arm::format_log_file_line(line);
  if (!file.fd && !open(service, file)) {
    ++file.failed_lines;
    return;
  }
  if (file.regular && file.setting.rotation.due(file.size, text.size())) {
    rotate(service, file);
    if (!open(service, file)) {
      ++file.failed_lines;
      return;
    }
  }
  if (file.setting.drop)
    write_or_drop(service, file, std::move(text));
  else
    write_waiting(service, file, text);
  if (file.fd && file.failed_lines) {
    log("{}: its log_file {} works again; {} line{} could not be written to it", service,
        file.setting.path, file.failed_lines, file.failed_lines == 1 ? "" : "s");
    file.failed_lines = 0;
  }
}

}  // namespace armd
