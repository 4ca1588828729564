// Services' captured lines appended to files of their own (`log_file`), rotated by rename when a
// file would grow past `log_max_size` (arm::FileRotation). Writes to a regular file do not wait
// for a reader, so they never stall armd the way a pipe could; a slow disk is felt, though, as
// a write takes the time the kernel takes to accept it. A write that fails drops the line and
// counts it; armd's log says so, once per failure streak. A file that cannot be rotated (its
// directory read-only, FILE.1 a directory) keeps growing, by log_max_size between attempts.
//
// A log file that can make a writer wait (a FIFO whose reader is behind, a device) is opened and
// written non-blocking, and never stalls armd; then the service's `log_overflow` says what
// happens to a line it does not take now. `block`: the line waits in armd, blocked() names the
// file, armd stops reading that service's pipes (the service is slowed by its full pipe, as
// s6-log slows its writer) and writes again when the file is writable (log_blocking.hpp); a
// FIFO without a reader is opened read-write, so lines wait in it until a reader comes.
// `drop`: a FIFO without a reader is not opened (retried at the next line), and a line it does not
// take at once is dropped and counted (dropped(), `output_dropped` in a status; armd's log says
// when dropping starts and how many when the file takes lines again). A line the file took only
// part of is finished before the next one, so no line is torn. Only regular files are rotated.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/config.hpp"
#include "arm/output.hpp"
#include "arm/posix/unique_fd.hpp"

namespace armd {

class LogFiles {
 public:
  struct Setting {
    std::string path;
    arm::FileRotation rotation;
    bool drop = false;  // log_overflow = "drop"
    bool operator==(const Setting& other) const {
      return path == other.path && rotation.max_size == other.rotation.max_size &&
             rotation.kept_files == other.rotation.kept_files && drop == other.drop;
    }
  };
  static std::map<std::string, Setting> settings_of(const arm::Config& config);
  // Files of services whose setting changed or went are closed (reopened at the next line).
  void configure(std::map<std::string, Setting> settings);
  // A service no longer configured: its count of dropped lines goes.
  void forget(const std::string& service);

  // The service's log file setting; null without one. (`logs` reads the files back.)
  const Setting* setting(const std::string& service) const {
    auto found = files_.find(service);
    return found == files_.end() ? nullptr : &found->second.setting;
  }

  // Lines are gathered per file and written in one call each 256 KiB, and by flush(): one
  // write per line was most of armd's time when a service writes fast.
  void write(const std::string& service, const arm::OutputLineView& line);

 private:
  struct File;

 public:
  // One service's log file, looked up once for all the lines of a read rather than once per
  // line (a map lookup, comparing names, per line showed in armd's profile). Its write() is
  // LogFiles::write's; a service without a log_file gets one that writes nothing. Valid until
  // the next configure().
  class Writer {
   public:
    void write(const arm::OutputLineView& line) {
      if (file_) files_->write_line(*service_, *file_, line);
    }

   private:
    friend class LogFiles;
    Writer(LogFiles* files, const std::string* service, File* file)
        : files_(files), service_(service), file_(file) {}
    LogFiles* files_;
    const std::string* service_;
    File* file_;
  };
  Writer writer(const std::string& service);
  // Writes what write() gathered. armd calls it every turn of its loop, before it waits.
  void flush();

  // Block mode: the files holding lines they could not take yet (non-regular files only), to
  // be polled for POLLOUT; flush() writes again. Their services' pipes should not be read.
  struct Blocked {
    std::string_view service;
    int fd;
  };
  std::vector<Blocked> blocked() const;

  // Lines each service's log file did not take at once, dropped since armd started (drop mode
  // only); services without any are absent.
  const std::map<std::string, std::uint64_t, std::less<>>& dropped() const { return dropped_; }

 private:
  struct File {
    Setting setting;
    arm::posix::UniqueFd fd;
    bool regular = true;             // renaming a FIFO or /dev/null would not start a new file
    std::uint64_t size = 0;          // with the pending bytes
    std::uint64_t failed_lines = 0;  // in the current failure streak
    // Bytes left in the file by a rotation that failed: the next attempt comes after
    // log_max_size more, not at every line (each attempt renames and logs).
    std::uint64_t unrotated = 0;
    std::string pending;   // block mode: lines not written yet
    bool blocked = false;  // block mode: a non-regular file took only part of pending
    std::uint64_t pending_lines = 0;
    std::uint64_t dropped_lines = 0;  // drop mode: in the current streak of lines it would not take
    std::string unfinished;           // drop mode: the rest of a line taken only in part
  };
  static constexpr std::size_t flush_at = 256 * 1024;
  void write_line(const std::string& service, File& file, const arm::OutputLineView& line);
  void flush(const std::string& service, File& file);
  // Block mode, the file would block: what it did not take stays pending (log_blocking.cpp).
  static void keep_unwritten(File& file, std::string_view rest);
  static arm::posix::UniqueFd open_fifo_without_reader(const File& file);
  // A file closed while blocked (a reload changed or removed it): what it held is dropped, and
  // armd's log says how many lines.
  static void drop_unwritten(const std::string& service, File& file);
  bool open(const std::string& service, File& file);
  // Whether the file in use was moved away.
  bool rotate(const std::string& service, File& file);
  // Bytes taken (0 when the file would make armd wait), or nullopt on an error (errno).
  std::optional<std::size_t> write_some(File& file, std::string_view bytes);
  void write_or_drop(const std::string& service, File& file, std::string text);
  void failed(const std::string& service, File& file);
  void drop(const std::string& service, File& file);
  // After a streak of failures, the first line that got through: armd's log says so.
  void note_working(const std::string& service, File& file);

  std::map<std::string, File> files_;
  arm::StampCache stamps_;  // lines of one read share their time: their stamp is made once
  std::map<std::string, std::uint64_t, std::less<>> dropped_;
};

}  // namespace armd
