// Reading services' output pipes from a host's event loop, without ever blocking it: one epoll
// descriptor to watch, a function to call when it is readable (as the spawner's exit_fd()).
//
// PosixSpawner makes a pipe for each stream whose target is OutputTarget::Kind::log (when it
// was given an OutputPipes: SpawnerOptions::output_pipes) and hands the read end here; the
// program writes to the other end in blocking mode, so a program that writes faster than the
// host reads is slowed by the full pipe, and nothing is lost. What is read goes to the host's
// callback as bytes (arm::LineSplitter and arm::OutputRing, <arm/output.hpp>, make lines of
// them).
#pragma once

#include "arm/abi.hpp"

#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "arm/error.hpp"
#include "arm/output.hpp"
#include "arm/posix/unique_fd.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

/// Bytes read from one of a process's pipes. `ended`: the pipe is closed (every writer closed
/// it, or the process was reaped and what it held was read); no more bytes come from it, so a
/// partial last line is complete. The strings are valid during the callback only.
struct ARM_EXPORT OutputChunk {
  ProcessId pid = 0;           ///< the process that wrote it
  const std::string& service;  ///< its service
  OutputStream stream;         ///< stdout or stderr
  std::string_view bytes;      ///< what was read: any number of lines, maybe a partial last one
  bool ended = false;          ///< the pipe is closed: no more bytes come from it
};

/// Reads services' stdout and stderr pipes from a host's event loop, all through one epoll
/// descriptor.
class ARM_EXPORT OutputPipes {
 public:
  /// called for each chunk collect() reads
  using OnOutput = std::function<void(const OutputChunk& chunk)>;
  /// Bytes read from one pipe at one read; a pipe that has more after reads_per_collect of them
  /// is read again at the next call (its descriptor stays readable), so one chatty service
  /// cannot starve the others.
  /// A pipe that gives half of this or more at one read is busy and is made bigger (1 MiB, when
  /// the kernel allows it): the service then waits less often for armd. (Reads of 256 KiB
  /// made armd's memory per added service ~140 bytes larger in test_memory, cause not found.)
  static constexpr std::size_t read_per_call = 64 * 1024;
  /// Reads of one pipe per collect() at most, while each fills read_per_call: a busy pipe gives
  /// up to 256 KiB per call (the buffer is reused, so armd's memory does not grow with it).
  static constexpr std::size_t reads_per_collect = 4;

  /// Fails (errno in Error::error_number) when its epoll set cannot be made.
  static std::expected<std::unique_ptr<OutputPipes>, Error> create();
  ~OutputPipes();

  /// Readable (POLLIN) when a pipe has bytes or has ended.
  int fd() const;
  /// Reads what the ready pipes hold, at most reads_per_collect * read_per_call bytes each (a
  /// read at a time, each handed to `on_output`). Never blocks.
  std::size_t collect(const OnOutput& on_output);
  /// `pid` was reaped: reads what its pipes still hold and closes them, so its output comes
  /// before its exit is reported (call this first). Reads until end of file or until nothing is
  /// there: a process it left behind (one that escaped its process group) may hold a pipe open,
  /// and waiting for it would block; at most `most_bytes` per pipe, for the same reason.
  /// Returns the service `pid`'s pipes were added for, even when they had ended already (empty
  /// when it had none): the host's way to know whose exit this is.
  std::string drain(ProcessId pid, const OnOutput& on_output,
                    std::size_t most_bytes = 16 * read_per_call);
  /// Watches `read_end` (made non-blocking here) as `service`'s `stream` of process `pid`.
  /// The spawner's call; an embedder with pipes of its own may use it too.
  std::expected<void, Error> add(ProcessId pid, std::string service, OutputStream stream,
                                 UniqueFd read_end);
  std::size_t open_pipes() const;  ///< pipes being read (not yet ended)
  /// Live re-exec (issue 15): every pipe still open, for the host to keep across exec and give
  /// to the new host's OutputPipes with add(). Bytes already read are the host's; the pipe holds
  /// the rest.
  void for_each_open_pipe(const std::function<void(ProcessId pid, const std::string& service,
                                                   OutputStream stream, int fd)>& visit) const;

  /// Stops reading `service`'s pipes (its processes, and those added for it later), until
  /// resume(): its programs are slowed by their full pipes, the others go on. armd's answer to a
  /// log file that does not take lines now (a FIFO whose reader is behind). drain() still reads.
  void pause(const std::string& service);
  void resume(const std::string& service);  ///< reads `service`'s pipes again (after pause())

  struct Impl;

 private:
  explicit OutputPipes(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace posix
ARM_END_NAMESPACE
