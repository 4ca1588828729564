// Block mode's backpressure for log files that can make a writer wait (a FIFO whose reader is
// behind, a device): while a service's log file holds lines it could not take, armd stops
// reading that service's pipes, so the service is slowed by its own full pipe (as s6-log slows
// its writer) and nothing is lost, while armd's loop and every other service go on. armd polls
// the file for POLLOUT and reads the service again once the file took everything.
#pragma once

#include <poll.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "arm/posix/output_pipes.hpp"
#include "log_files.hpp"

namespace armd {

class SlowedServices {
 public:
  // A POLLOUT entry for each blocked log file: poll wakes armd when it takes lines again (its
  // flush comes with the loop's LogFiles::flush()).
  void add_poll_fds(const LogFiles& files, std::vector<pollfd>& fds) const;
  // After LogFiles::flush(): pauses the services whose file is blocked now, resumes the others.
  void update(const LogFiles& files, arm::posix::OutputPipes& pipes);

 private:
  std::set<std::string, std::less<>> paused_;
};

}  // namespace armd
