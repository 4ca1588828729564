// Services' output lines on the wire (docs/protocol.md, "logs"): the reply to a logs request,
// the lines and gap markers a follower is sent, and a line as armctl reads it back.
//
// A line's bytes are the program's, valid UTF-8 or not, and JSON strings hold Unicode: "text"
// is always the line as valid UTF-8 (each invalid byte replaced by U+FFFD), and a line that
// was not valid UTF-8 also carries "base64", its exact bytes, so nothing is lost.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "arm/output.hpp"

namespace armd::protocol {

// One captured line and the service it came from.
struct ServiceLine {
  const std::string* service;
  const arm::OutputLine* line;
  // A line read back from a log file that is not "TIME STREAM TEXT": sent with "unparsed":true,
  // its text the whole line (armctl prints it as it is).
  bool unparsed = false;
};

// The last lines of some services' exits, by service: status's last_exit.output_tail.
using OutputTails = std::map<std::string, std::vector<arm::OutputLine>, std::less<>>;
// Lines dropped from each service's log file (log_overflow = "drop"); absent means none.
using OutputDropped = std::map<std::string, std::uint64_t, std::less<>>;

bool valid_utf8(std::string_view bytes);
std::string base64_encode(std::string_view bytes);
std::expected<std::string, std::string> base64_decode(std::string_view text);

// {"service","seq","time","stream","text","continues"[, "base64"]}; "service" only when given.
void append_output_line(std::string& out, const arm::OutputLine& line,
                        const std::string* service = nullptr, bool unparsed = false);

// {"id","ok":true,"lines":[...]}: the answer to logs (the lines in time order, services mixed).
std::string encode_log_lines(const nlohmann::json& id, const std::vector<ServiceLine>& lines,
                             bool following);
// A follower's next lines: {"id","event":"lines","lines":[...]}.
std::string encode_followed_lines(const nlohmann::json& id, const std::vector<ServiceLine>& lines);
// {"id","event":"gap","service","missed"}: `missed` lines of `service` were dropped from its
// ring before this follower could be sent them.
std::string encode_gap(const nlohmann::json& id, std::string_view service, std::uint64_t missed);

// The bytes of a line as armctl received it: "base64" when present, else "text".
std::string line_bytes(const nlohmann::json& line);

}  // namespace armd::protocol
