// Services' captured lines appended to files of their own (`log_file`), rotated by rename when a
// file would grow past `log_max_size` (arm::FileRotation). Writes to a regular file do not wait
// for a reader, so they never stall armd the way a pipe could; a slow disk is felt, though, as
// a write takes the time the kernel takes to accept it. A write that fails drops the line and
// counts it; armd's log says so, once per failure streak. A file that cannot be rotated (its
// directory read-only, FILE.1 a directory) keeps growing, by log_max_size between attempts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "arm/config.hpp"
#include "arm/output.hpp"
#include "arm/posix/unique_fd.hpp"

namespace armd {

class LogFiles {
 public:
  struct Setting {
    std::string path;
    arm::FileRotation rotation;
    bool operator==(const Setting& other) const {
      return path == other.path && rotation.max_size == other.rotation.max_size &&
             rotation.kept_files == other.rotation.kept_files;
    }
  };
  static std::map<std::string, Setting> settings_of(const arm::Config& config);
  // Files of services whose setting changed or went are closed (reopened at the next line).
  void configure(std::map<std::string, Setting> settings);

  // Lines are gathered per file and written in one call each 64 KiB, and by flush(): one
  // write per line was most of armd's time when a service writes fast.
  void write(const std::string& service, const arm::OutputLine& line);
  // Writes what write() gathered. armd calls it every turn of its loop, before it waits.
  void flush();

 private:
  struct File {
    Setting setting;
    arm::posix::UniqueFd fd;
    std::uint64_t size = 0;          // with the pending bytes
    std::uint64_t failed_lines = 0;  // in the current failure streak
    // Bytes left in the file by a rotation that failed: the next attempt comes after
    // log_max_size more, not at every line (each attempt renames and logs).
    std::uint64_t unrotated = 0;
    std::string pending;  // lines not written yet
    std::uint64_t pending_lines = 0;
  };
  static constexpr std::size_t flush_at = 64 * 1024;
  void flush(const std::string& service, File& file);
  bool open(const std::string& service, File& file);
  // Whether the file in use was moved away.
  bool rotate(const std::string& service, File& file);

  std::map<std::string, File> files_;
};

}  // namespace armd
