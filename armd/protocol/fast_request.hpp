// The requests clients send most, read without building a JSON tree.
//
// Why: with requests pipelined, parsing each line into an nlohmann tree (a map node per key, a
// string per value) was a large part of what a `status NAME` cost armd (docs/performance.md).
// This reader takes only the plain shapes armctl and scripts send, and says "not mine" (nullopt)
// for everything else; decode_request then hands the line to the full parser. So it never
// decides an error: every refusal, and its message, still comes from the full parser, and for
// what it does accept it gives the Request the full parser would (a unit test holds it to that
// on the fuzz corpus and on mutations of common lines).
//
// Accepted: one object, keys in any order, each at most once, whitespace between tokens, with
//   "id"       an integer of at most 18 digits, null, or a plain string (see below)
//   "method"   one of hello, reload, shutdown (nothing else but "id"), status (and "services":
//              an array of plain strings), start, restart, reset (and "service": a non-empty
//              plain string), stop (and "service", and "force": true or false)
// where a plain string holds printable ASCII only, without '"' or '\' (no escapes to decode, no
// UTF-8 to check), and an id string is at most max_id_bytes long.
#pragma once

#include <optional>
#include <string_view>

#include "protocol/protocol.hpp"

namespace armd::protocol {

// `line` is one request without its '\n'. nullopt: not one of the shapes above.
std::optional<Request> decode_common_request(std::string_view line);
// The same into `into`, whose storage (the services' vector) is reused; every field is set.
// False: not one of the shapes above (`into` then holds a partial decoding).
bool decode_common_request_into(std::string_view line, Request& into);

}  // namespace armd::protocol
