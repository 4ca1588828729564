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
    settings.emplace(name, Setting{*spec.log_file, {spec.log_max_size, spec.log_max_files}});
  }
  return settings;
}

void LogFiles::configure(std::map<std::string, Setting> settings) {
  for (auto it = files_.begin(); it != files_.end();) {
    auto setting = settings.find(it->first);
    if (setting == settings.end() || !(setting->second == it->second.setting)) {
      flush(it->first, it->second);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, setting] : settings) {
    if (!files_.contains(name)) files_[name].setting = std::move(setting);
  }
}

bool LogFiles::open(const std::string& service, File& file) {
  file.fd.reset(::open(file.setting.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  struct stat info {};
  if (!file.fd || ::fstat(file.fd.get(), &info) != 0) {
    if (file.failed_lines == 0)
      log("{}: cannot open its log_file {}: {}; its lines are dropped from the file until it can",
          service, file.setting.path, std::strerror(errno));
    file.fd.reset();
    return false;
  }
  file.size = static_cast<std::uint64_t>(info.st_size);
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

void LogFiles::write(const std::string& service, const arm::OutputLine& line) {
  auto found = files_.find(service);
  if (found == files_.end()) return;
  File& file = found->second;
  std::string text = arm::format_log_file_line(line);
  if (!file.fd && !open(service, file)) {
    ++file.failed_lines;
    return;
  }
  if (file.setting.rotation.due(file.size, text.size())) {
    flush(service, file);
    rotate(service, file);
    if (!open(service, file)) {
      ++file.failed_lines;
      return;
    }
  }
  file.pending += text;
  ++file.pending_lines;
  file.size += text.size();
  if (file.pending.size() >= flush_at) flush(service, file);
}

void LogFiles::flush() {
  for (auto& [service, file] : files_) flush(service, file);
}

void LogFiles::flush(const std::string& service, File& file) {
  if (file.pending.empty()) return;
  std::string_view rest = file.pending;
  while (!rest.empty()) {
    ssize_t written = ::write(file.fd.get(), rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      if (file.failed_lines == 0)
        log("{}: writing its log_file {}: {}; lines are dropped from the file until it works",
            service, file.setting.path, std::strerror(errno));
      file.failed_lines += file.pending_lines;
      file.pending.clear();
      file.pending_lines = 0;
      file.fd.reset();  // reopened at the next line
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  file.pending.clear();
  file.pending_lines = 0;
  if (file.failed_lines) {
    log("{}: its log_file {} works again; {} line{} could not be written to it", service,
        file.setting.path, file.failed_lines, file.failed_lines == 1 ? "" : "s");
    file.failed_lines = 0;
  }
}

}  // namespace armd
