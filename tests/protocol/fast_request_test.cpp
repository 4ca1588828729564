// The fast path for common requests (fast_request.hpp) against the full parser: for any line it
// must either step aside or give exactly the Request the full parser gives, so decode_request's
// answer, error or not, is the same as before the fast path existed.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "protocol/fast_request.hpp"
#include "protocol/protocol.hpp"

using namespace armd::protocol;

namespace {

bool same_request(const Request& a, const Request& b) {
  return a.id == b.id && a.id.type() == b.id.type() && a.method == b.method &&
         a.service == b.service && a.force == b.force && a.services == b.services &&
         a.lines == b.lines && a.follow == b.follow && a.since == b.since;
}

bool same_answer(const std::expected<Request, RequestError>& a,
                 const std::expected<Request, RequestError>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (a) return same_request(*a, *b);
  return a.error().id == b.error().id && a.error().outcome == b.error().outcome &&
         a.error().message == b.error().message;
}

// A Request with every field away from its default: what armd's reused Request may hold from
// the line before.
Request left_over_request() {
  Request request;
  request.id = "earlier";
  request.method = Method::logs;
  request.service = "earlier";
  request.force = true;
  request.services = {"earlier", "lines"};
  request.lines = 3;
  request.follow = true;
  request.since = arm::WallTime{} + std::chrono::seconds(5);
  return request;
}

// The fast path steps aside or agrees with the full parser; and decode_request as a whole
// answers as the full parser does, also when it decodes into a Request that held another line.
void check_agrees(const std::string& line) {
  CAPTURE(line);
  auto full = decode_request_in_full(line);
  if (auto fast = decode_common_request(line)) {
    REQUIRE(full.has_value());
    CHECK(same_request(*fast, *full));
  }
  CHECK(same_answer(decode_request(line), full));
  Request reused = left_over_request();
  auto into = decode_request_into(line, reused);
  REQUIRE(into.has_value() == full.has_value());
  if (into) CHECK(same_request(reused, *full));
}

std::vector<std::string> corpus_lines() {
  std::vector<std::string> lines;
  for (const auto& entry : std::filesystem::directory_iterator(ARM_PROTOCOL_CORPUS)) {
    std::ifstream file(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (!content.empty() && content.back() == '\n') content.pop_back();
    lines.push_back(content);
  }
  return lines;
}

// Common lines and their near misses: what the fast path reads, and what it must not.
const std::vector<std::string> common_lines = {
    R"({"id":1,"method":"status","services":["s0"]})",
    R"({"id":1,"method":"status","services":["s0","web-1","a.b"]})",
    R"({"id":1,"method":"status","services":[]})",
    R"({"method":"status"})",
    R"( { "id" : 12 , "method" : "status" , "services" : [ "a" , "b" ] } )",
    R"({"services":["a"],"method":"status","id":"x-1"})",
    R"({"id":-7,"method":"status"})",
    R"({"id":-0,"method":"status"})",
    R"({"id":null,"method":"hello"})",
    R"({"id":123456789012345678,"method":"status"})",
    R"({"id":1234567890123456789,"method":"status"})",
    R"({"id":99999999999999999999,"method":"status"})",
    R"({"id":1.5,"method":"status"})",
    R"({"id":1e3,"method":"status"})",
    R"({"id":01,"method":"status"})",
    R"({"id":true,"method":"status"})",
    R"({"id":[1],"method":"status"})",
    R"({"id":1,"id":2,"method":"status"})",
    R"({"id":1,"method":"status","method":"stop","service":"a"})",
    R"({"id":1,"method":"status","services":"s0"})",
    R"({"id":1,"method":"status","services":[1]})",
    R"({"id":1,"method":"status","services":["a",]})",
    R"({"id":1,"method":"status","services":["a\"b"]})",
    R"({"id":1,"method":"status","services":["caf\u00e9"]})",
    "{\"id\":1,\"method\":\"status\",\"services\":[\"caf\xc3\xa9\"]}",
    "{\"id\":1,\"method\":\"status\",\"services\":[\"\xff\"]}",
    "{\"id\":1,\"method\":\"status\",\"services\":[\"a\tb\"]}",
    R"({"id":1,"method":"status","force":true})",
    R"({"id":1,"method":"status","service":"a"})",
    R"({"id":1,"method":"status","protocol":1})",
    R"({"id":1,"method":"status","protocol":2})",
    R"({"id":1,"method":"status","extra":1})",
    R"({"id":1,"method":"status"} )",
    R"({"id":1,"method":"status"}x)",
    R"({"id":1,"method":"status"}{})",
    R"({"id":1,"method":"statu"})",
    R"({"id":1,"method":"logs","services":["a"]})",
    R"({"id":1,"method":1})",
    R"({"id":1})",
    R"({})",
    R"([])",
    R"("status")",
    R"({"id":2,"method":"start","service":"web"})",
    R"({"id":2,"method":"start","service":""})",
    R"({"id":2,"method":"start"})",
    R"({"id":2,"method":"start","service":"web","force":true})",
    R"({"id":2,"method":"stop","service":"web","force":true})",
    R"({"id":2,"method":"stop","service":"web","force":false})",
    R"({"id":2,"method":"stop","service":"web","force":1})",
    R"({"id":2,"method":"stop","service":"web","force":truex})",
    R"({"id":2,"method":"restart","service":"web"})",
    R"({"id":2,"method":"reset","service":"web","services":["a"]})",
    R"({"id":3,"method":"reload"})",
    R"({"id":3,"method":"shutdown"})",
    R"({"id":3,"method":"shutdown","force":true})",
    R"({"id":3,"method":"hello","service":"a"})",
    "{\"id\":1,\"method\":\"status\"\x0b}",
    "{\"id\":1,\"method\":\"status\"\r",
    std::string("{\"id\":1,\"method\":\"status\"}\0", 27),
    std::string(300, 'x'),
};

}  // namespace

TEST_CASE("the fast path reads the common shapes as the full parser does") {
  auto request = decode_common_request(R"({"id":1,"method":"status","services":["s0","s1"]})");
  REQUIRE(request);
  CHECK(request->method == Method::status);
  CHECK(request->id == 1);
  CHECK(request->services == std::vector<std::string>{"s0", "s1"});
  auto stop = decode_common_request(R"({"id":"a","method":"stop","service":"web","force":true})");
  REQUIRE(stop);
  CHECK(stop->service == "web");
  CHECK(stop->force);
  for (const auto& line : common_lines) check_agrees(line);
}

TEST_CASE("the fast path steps aside for what it does not read plainly") {
  for (std::string_view line :
       {R"({"id":1,"method":"status","services":["a\"b"]})", R"({"id":1.5,"method":"status"})",
        R"({"id":1,"id":2,"method":"status"})", R"({"id":1,"method":"logs","services":["a"]})",
        R"({"id":1,"method":"status","protocol":1})",
        R"({"id":1,"method":"status","force":true})"}) {
    CAPTURE(line);
    CHECK_FALSE(decode_common_request(line));
  }
  std::string long_id =
      R"({"id":")" + std::string(max_id_bytes + 1, 'i') + R"(","method":"status"})";
  CHECK_FALSE(decode_common_request(long_id));
  check_agrees(long_id);
}

TEST_CASE("on the fuzz corpus, every cut and every changed byte of a common line, both agree") {
  std::vector<std::string> lines = corpus_lines();
  REQUIRE_FALSE(lines.empty());
  lines.insert(lines.end(), common_lines.begin(), common_lines.end());
  // Every byte of this literal (19 of them), then 'x'. (It was read as 22 bytes: three past its
  // end, which AddressSanitizer caught.)
  const std::string replacements = std::string("\"\\{}[],: 0-19.eE\x01\x7f\xc3") + "x";
  for (const auto& line : lines) {
    check_agrees(line);
    for (std::size_t cut = 0; cut < line.size(); ++cut) check_agrees(line.substr(0, cut));
    for (std::size_t at = 0; at < line.size(); ++at) {
      for (char c : replacements) {
        std::string changed = line;
        changed[at] = c;
        check_agrees(changed);
      }
      std::string removed = line;
      removed.erase(at, 1);
      check_agrees(removed);
    }
  }
}
