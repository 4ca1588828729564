// What an armd hands the armd it execs (issue 15, live re-exec): a JSON header line, then where
// each descriptor it keeps across exec is (a line each), then the supervisor's own handover text
// and the configuration's, in a memfd whose number the new armd finds on its command line
// (--handover-fd).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "arm/posix/unique_fd.hpp"
#include "arm/types.hpp"

namespace armd {

struct HandoverState {
  // Raised when an older armd could not read what this one writes.
  static constexpr int format_version = 1;

  std::string supervisor;  // arm::ServiceSupervisor::handover()
  // The configuration file's text as the old armd compared it with what it ran: the new armd
  // parses these bytes (arm::parse_config_file_text), not the file, which may have changed since.
  std::string config_text;
  std::string config_path;
  std::string socket_path;
  // The spawner's containment: its cgroup directory, or empty for process groups. The new armd
  // takes the same, whatever [arm].cgroup would choose now.
  std::string cgroup;
  int control_lock_fd = -1;
  int control_listen_fd = -1;
  int notify_fd = -1;  // -1: armd had no notify socket

  struct Child {
    arm::ProcessId pid = 0;
    std::string cgroup;  // its cgroup's name below `cgroup`
  };
  std::vector<Child> children;
  struct OutputPipe {
    arm::ProcessId pid = 0;
    std::string service;
    bool standard_error = false;
    int fd = -1;
  };
  std::vector<OutputPipe> output_pipes;
  struct ReadinessPipe {
    arm::ProcessId pid = 0;
    int fd = -1;
  };
  std::vector<ReadinessPipe> readiness_pipes;
  struct Listener {
    std::string address;  // "tcp:127.0.0.1:8080", as arm::to_string(ListenSocket) writes it
    int fd = -1;
  };
  std::vector<Listener> listeners;

  // The client that asked for the re-exec: the new armd answers it.
  int reply_fd = -1;
  nlohmann::json reply_id;
  std::int64_t requested_at_ns = 0;       // CLOCK_MONOTONIC: when the request came
  std::int64_t unavailable_since_ns = 0;  // when the old armd stopped answering

  // Every descriptor above, for the old armd to keep open across exec (and the new one to
  // close on exec again).
  std::vector<int> descriptors() const;
};

// A sealed memfd holding `state` (the JSON header, the descriptor lines, then the supervisor's
// and the configuration's texts), its offset at 0, close-on-exec (cleared for the exec).
std::expected<arm::posix::UniqueFd, std::string> write_handover(const HandoverState& state);
// What is wrong names the field ("handover: notify_fd: missing", "handover: descriptor line 3:
// ...").
std::expected<HandoverState, std::string> decode_handover(std::string_view text);

// Everything `fd` holds from its start (a memfd, as write_handover made it).
std::expected<std::string, std::string> read_whole(int fd);

}  // namespace armd
