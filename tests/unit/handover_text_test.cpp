// The handover's own reader (libarm/core/handover_text.*): what handover() writes reads back
// (handover_test.cpp shows that for every state); here, what it refuses, and where it says so.
#include <doctest/doctest.h>

#include <string>

#include "handover_text.hpp"

using arm::detail::handover_text::Document;
using arm::detail::handover_text::Kind;
using arm::detail::handover_text::Node;

namespace {

// The error for `text`, as "line:column: message".
std::string error_of(std::string_view text) {
  auto document = Document::parse(text);
  if (document) return "no error";
  return std::to_string(document.error().line) + ":" + std::to_string(document.error().column) +
         ": " + document.error().message;
}

}  // namespace

TEST_CASE("the subset handover() writes: scalars, arrays, inline tables, arrays of tables") {
  std::string text =
      "version = 1\n"
      "# a comment, and a blank line\n"
      "\n"
      "killed = [\"a\", \"b\\u00e9\\\"\"]\n"
      "[[services]]\n"
      "name = \"web\"\r\n"
      "pid = -42\n"
      "big = 9223372036854775807\n"
      "flag = true  # after a value\n"
      "last_exit = { kind = \"exited\", value = 3 }\n"
      "waiters = [{ a = 1 }, { a = 2 }]\n"
      "[services.health]\n"
      "failures = +2\n"
      "[[services]]\n"
      "name = \"db\"\n";
  auto parsed = Document::parse(text);
  REQUIRE(parsed.has_value());
  const Document& doc = *parsed;
  const Node& root = doc.root();
  CHECK(doc.integer(*doc.get(root, "version")) == 1);
  const Node* killed = doc.get(root, "killed");
  REQUIRE(killed != nullptr);
  CHECK(killed->kind == Kind::array);
  CHECK(doc.children(*killed) == 2);
  CHECK(doc.string(*doc.next(*doc.first(*killed))) == "b\xc3\xa9\"");
  const Node* services = doc.get(root, "services");
  REQUIRE(services != nullptr);
  REQUIRE(doc.children(*services) == 2);
  const Node& web = *doc.first(*services);
  CHECK(doc.string(*doc.get(web, "name")) == "web");  // the \r of a CRLF line is not in it
  CHECK(doc.integer(*doc.get(web, "pid")) == -42);
  CHECK(doc.integer(*doc.get(web, "big")) == 9223372036854775807);
  CHECK(doc.get(web, "flag")->kind == Kind::boolean);
  CHECK(doc.boolean(*doc.get(web, "flag")));
  const Node* exit = doc.get(web, "last_exit");
  CHECK(doc.integer(*doc.get(*exit, "value")) == 3);
  CHECK(doc.children(*doc.get(web, "waiters")) == 2);
  CHECK(doc.integer(*doc.get(*doc.get(web, "health"), "failures")) == 2);
  CHECK(doc.get(web, "missing") == nullptr);
  // Keys are found in any order, not only as written.
  CHECK(doc.get(web, "name") != nullptr);
  CHECK(doc.string(*doc.get(*doc.next(web), "name")) == "db");
  // Where a value is, for errors found later by the caller.
  CHECK(doc.line(*doc.get(web, "pid")) == 7);
  CHECK(doc.column(*doc.get(web, "pid")) == 7);
}

TEST_CASE("what a handover never holds is refused at its line and column") {
  CHECK(error_of("this is not = = toml\n") == "1:6: expected '=' after the key");
  CHECK(error_of("a = \"open\n") == "1:5: a string without its closing quote");
  CHECK(error_of("a = \"bad \\q\"\n") == "1:10: unknown escape \\q");
  CHECK(error_of("a = \"\\u12\"\n") == "1:6: \\u needs 4 hexadecimal digits");
  CHECK(error_of("a = \"\\ud800\"\n") == "1:6: \\ud800 is not a Unicode scalar value");
  CHECK(error_of("a = 9223372036854775808\n") == "1:5: an integer out of the 64-bit range");
  CHECK(error_of("a = 1.5\n") == "1:6: unexpected text after the value");
  CHECK(error_of("a = 'literal'\n").starts_with("1:5: expected an integer"));
  CHECK(error_of("a = 1\na = 2\n") == "2:1: 'a' is defined twice");
  CHECK(error_of("a = { b = 1, b = 2 }\n") == "1:14: 'b' is defined twice");
  CHECK(error_of("[services.health]\n") == "1:1: [services.health] comes before any [[services]]");
  CHECK(error_of("[top]\n") == "1:1: a handover has top-level tables only as [[name]]");
  CHECK(error_of("services = 1\n[[services]]\n") == "2:3: 'services' is not an array of tables");
  CHECK(error_of("a = [1, 2\n") == "1:10: expected ',' or ']' in the array");
  CHECK(error_of("a = [[[[[1]]]]]\n") == "1:9: nested more than 4 deep (a handover never is)");
  CHECK(error_of("a = [[[[1]]]]\n") == "no error");
  CHECK(error_of("a =\n") == "1:4: expected a value");
}

TEST_CASE("a table with more keys than any handover's is refused, keeping lookups cheap") {
  std::string text;
  for (int i = 0; i < 256; ++i) text += "k" + std::to_string(i) + " = 1\n";
  CHECK(error_of(text) == "no error");
  text += "one_more = 1\n";
  CHECK(error_of(text) ==
        "257:1: more than 256 keys in one table (a handover's have about thirty)");
}
