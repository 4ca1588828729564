// `status NAME` without a copy: the core's record read into a reused status, the reply encoded
// in place in the connection's output (docs/performance.md, the control plane's fast path).
#include <span>

#include "daemon.hpp"
#include "protocol/protocol.hpp"

namespace armd {

void Daemon::answer_status_of_one(ConnectionId connection, const nlohmann::json& id,
                                  const std::string& name) {
  if (!supervisor_->status_into(name, status_of_one_)) {
    statuses_or_answer_unknown(connection, id, {name});  // answers unknown_service
    return;
  }
  std::string* output = server_->line_buffer(connection);
  if (!output) return;
  std::size_t line_start = output->size();
  protocol::append_status_reply(*output, id, std::span(&status_of_one_, 1), clock_.now(),
                                to_string(spawner_->containment()), &exit_tails_,
                                &log_files_.dropped());
  server_->commit_line(connection, line_start);
}

}  // namespace armd
