// Nesting and key-part limits, checked before toml++ sees the text: each of these documents
// overflowed the stack inside toml++ (a SIGSEGV that took armd and its services down on a
// reload). Now each is an error at the line and column where the limit is passed, and what is
// inside strings and comments never counts.
#include <doctest/doctest.h>

#include <string>

#include "arm/config.hpp"

using namespace arm;

namespace {

std::string repeated(std::string_view piece, int times, std::string_view separator = "") {
  std::string text;
  for (int i = 0; i < times; ++i) {
    if (i > 0) text += separator;
    text += piece;
  }
  return text;
}

const std::string service = "[services.a]\nbinary = \"/bin/a\"\n";
const std::string too_deep =
    "values nested more than 64 levels deep (arrays and inline tables); armd accepts at most 64";

// The error of a document refused for its shape, checked to be at `line`.
Error refused_at(const std::string& text, int line) {
  auto config = parse_config(text, "deep.toml");
  REQUIRE_FALSE(config);
  CAPTURE(config.error().to_string());
  CHECK(config.error().file == "deep.toml");
  CHECK(config.error().line == line);
  return config.error();
}

bool accepted(const std::string& text) {
  auto config = parse_config(text, "deep.toml");
  if (!config) MESSAGE(config.error().to_string());
  return config.has_value();
}

}  // namespace

TEST_CASE("a dotted key of 50,000 parts is refused at the dot before its 65th part") {
  Error error = refused_at(service + repeated("a", 50'000, ".") + " = 1\n", 3);
  CHECK(error.column == 2 * 64);  // the dot after the 64th "a"
  CHECK(error.message == "a key of more than 64 parts (dotted names); armd accepts at most 64");
}

TEST_CASE("a table header of 50,000 parts is refused, as is an array-of-tables header") {
  refused_at("[" + repeated("a", 50'000, ".") + "]\n", 1);
  refused_at(service + "[[" + repeated("a", 50'000, ".") + "]]\n", 3);
}

TEST_CASE("quoted key parts count as parts, and spaces around the dots change nothing") {
  refused_at(service + repeated("\"a\"", 65, " . ") + " = 1\n", 3);
  refused_at(service + repeated("'a'", 65, ".") + " = 1\n", 3);
}

TEST_CASE("arrays nested 50,000 deep are refused at the 65th bracket") {
  Error error =
      refused_at(service + "x = " + repeated("[", 50'000) + repeated("]", 50'000) + "\n", 3);
  CHECK(error.column == 5 + 64);
  CHECK(error.message == too_deep);
}

TEST_CASE("inline tables nested 50,000 deep are refused") {
  Error error = refused_at(
      service + "x = " + repeated("{a = ", 50'000) + "1" + repeated("}", 50'000) + "\n", 3);
  CHECK(error.message == too_deep);
}

TEST_CASE("inside an inline table each part of a dotted key is one more level") {
  // 32 inline tables, each holding a key of 2 parts: 64 levels, then one more.
  std::string opening = repeated("{a.b = ", 32);
  std::string closing = repeated("}", 32);
  CHECK(refused_at(service + "x = " + opening + "[1]" + closing + "\n", 3).message == too_deep);
  // Each part alone is within the key limit, and 200 tables of 60 parts built 12,000 levels.
  std::string many_parts = repeated("{" + repeated("a", 60, ".") + " = ", 200);
  CHECK(refused_at(service + "x = " + many_parts + "1" + repeated("}", 200) + "\n", 3).message ==
        too_deep);
}

TEST_CASE("a document exactly at the limits is read") {
  // 64 levels of arrays, and keys and headers of 64 parts: refused only for their names, by the
  // loader's own checks, after parsing.
  std::string arrays = "x = " + repeated("[", 64) + repeated("]", 64) + "\n";
  auto config = parse_config(service + arrays, "deep.toml");
  REQUIRE_FALSE(config);
  CHECK(config.error().message.find("unknown key 'x'") != std::string::npos);

  std::string header = "[services.a." + repeated("b", 62, ".") + "]\n";
  config = parse_config(service + header, "deep.toml");
  REQUIRE_FALSE(config);
  CHECK(config.error().message.find("more than 64") == std::string::npos);
}

TEST_CASE("brackets and dots inside strings and comments do not count") {
  std::string deep = repeated("[", 100);
  std::string dots = repeated("a", 100, ".");
  CHECK(accepted(service + "options = [\"" + deep + "\", '" + dots + "']\n"));
  CHECK(accepted(service + "# " + deep + " " + dots + "\n"));
  CHECK(accepted(service + "options = [ # " + deep + "\n  \"x\", # " + dots + "\n]\n"));
  CHECK(accepted(service + "options = [\"\"\"\n" + deep + "\n\"\"\", '''\n" + dots + "\n''']\n"));
  // Escaped quotes do not end a basic string; a literal string has no escapes.
  CHECK(accepted(service + "options = [\"\\\"" + deep + "\", 'C:\\', \"" + deep + "\"]\n"));
  // Multi-line strings whose content ends in quotes: """a""""" is a"".
  CHECK(accepted(service + "options = [\"\"\"" + deep + "\"\"\"\"\", '''" + dots + "''''']\n"));
  // A quoted key with dots in it is one part.
  CHECK(accepted(service + "[services.a.environment]\n\"" + dots + "\" = \"x\"\n"));
}

TEST_CASE("decimal points and dates in values are not key parts") {
  std::string numbers = repeated("1.5", 100, ", ");
  std::string dates = repeated("1979-05-27T07:32:00.999Z", 100, ", ");
  auto config = parse_config(service + "backoff_jitter = 0.5\n", "deep.toml");
  CHECK(config);
  CHECK(accepted(service + "[services.a.environment]\nA = \"1.2.3.4\"\n"));
  // Unknown keys, refused by the loader after parsing: the scan let them through.
  for (const std::string& value : {numbers, dates}) {
    config = parse_config(service + "[x]\ny = [" + value + "]\n", "deep.toml");
    REQUIRE_FALSE(config);
    CHECK(config.error().message.find("unknown key") != std::string::npos);
  }
}
