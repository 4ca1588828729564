// The JSON writer armd's replies are built with: what it writes must parse, and read exactly as
// nlohmann's dump (with invalid UTF-8 replaced) would have written it.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "protocol/json_writer.hpp"

using namespace armd::json_writer;
using nlohmann::json;

namespace {

std::string dumped(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string written_string(std::string_view text) {
  std::string out;
  append_string(out, text);
  return out;
}

}  // namespace

TEST_CASE("an object's fields come out in the order they were written, each as its type") {
  std::string out;
  ObjectWriter(out)
      .string("name", "web")
      .integer("pid", 42)
      .integer("restarts", std::optional<int>(3))
      .integer("code", std::optional<int>())
      .boolean("ok", true)
      .boolean("failed", false)
      .null("last_exit")
      .strings("depends_on", {"db", "cache"})
      .strings("wants", {})
      .end();
  CHECK(out == R"({"name":"web","pid":42,"restarts":3,"code":null,"ok":true,"failed":false,)"
               R"("last_exit":null,"depends_on":["db","cache"],"wants":[]})");
}

TEST_CASE("a list of names is written the same whether it is short and plain or not") {
  std::vector<std::string> many(40, "service-name");
  std::string expected_many = "[";
  for (std::size_t i = 0; i < many.size(); ++i)
    expected_many += (i ? ",\"" : "\"") + many[i] + "\"";
  expected_many += "]";
  std::string out;
  ObjectWriter(out)
      .integer("before", 1)
      .strings("escaped", {"a\"b", "tab\there"})
      .strings("many", many)
      .strings("plain", {"db"})
      .end();
  CHECK(out == R"({"before":1,"escaped":["a\"b","tab\there"],"many":)" + expected_many +
                   R"(,"plain":["db"]})");
}

TEST_CASE("a list of names around the size gathered with the other fields is written whole") {
  // Two names with their quotes, a comma and the brackets: 2n + 7 bytes; gathered up to 120
  // (n = 56: 119), written straight to the string above it (n = 57: 121).
  for (std::size_t n : {56, 57, 58}) {
    CAPTURE(n);
    std::string a(n, 'a'), b(n, 'b');
    std::string out;
    ObjectWriter(out).integer("x", 1).strings("names", {a, b}).integer("y", 2).end();
    CHECK(out == R"({"x":1,"names":[")" + a + R"(",")" + b + R"("],"y":2})");
  }
}

TEST_CASE("an empty object and an empty array are written as {} and []") {
  std::string out;
  ObjectWriter(out).end();
  ArrayWriter(out).end();
  CHECK(out == "{}[]");
}

TEST_CASE("end_line closes the object and ends the line") {
  std::string out;
  ObjectWriter(out).integer("protocol", 1).end_line();
  CHECK(out == "{\"protocol\":1}\n");
}

TEST_CASE("integers are written in full, negative and 64-bit ones too") {
  std::string out;
  ObjectWriter(out)
      .integer("min", INT64_MIN)
      .integer("max", UINT64_MAX)
      .integer("negative", -5)
      .end();
  CHECK(json::parse(out) == json{{"min", INT64_MIN}, {"max", UINT64_MAX}, {"negative", -5}});
}

TEST_CASE("objects and arrays nest through raw fields and array elements") {
  std::string out;
  ObjectWriter outer(out);
  ArrayWriter array(outer.integer("id", 1).raw("services"));
  for (int pid : {10, 20}) ObjectWriter(array.element()).integer("pid", pid).end();
  array.end();
  ObjectWriter inner(outer.raw("last_exit"));
  inner.null("signal").end();
  outer.end();
  CHECK(out == R"({"id":1,"services":[{"pid":10},{"pid":20}],"last_exit":{"signal":null}})");
}

TEST_CASE("a json value is written as nlohmann holds it: a number, a string or null") {
  for (const json& value : {json(7), json(-1.5), json("seven"), json(nullptr), json("bad\xff")}) {
    CAPTURE(dumped(value));
    std::string out;
    ObjectWriter(out).json_value("id", value).end();
    CHECK(out == R"({"id":)" + dumped(value) + "}");
  }
}

TEST_CASE("strings are written exactly as nlohmann's dump writes them, invalid UTF-8 replaced") {
  std::vector<std::string> samples = {
      // Text that needs escaping, and well-formed 2-, 3- and 4-byte characters.
      "",
      "plain",
      "quote \" backslash \\ slash /",
      "\b\f\n\r\t\x01\x1f\x7f",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      // Overlong forms, a surrogate, beyond U+10FFFF, bytes that never occur in UTF-8.
      "\xc0\x80",
      "\xe0\x80\x80",
      "\xf0\x80\x80\x80",
      "\xed\xa0\x80",
      "\xf4\x90\x80\x80",
      "\xf5\x80",
      "\xff\xfe",
      // Sequences cut short at the end and in the middle; lone continuation bytes.
      "\xe2\x82",
      "\xf0\x9f\x98",
      "x\xc3",
      "\xe2\x82x",
      "\xe2(\xa1",
      "\x80\xbf\x80",
  };
  std::mt19937 random(20240611);
  const std::string alphabet =
      std::string("a\"\\\n\x01\x7f", 6) +
      "\x80\x8f\x90\x9f\xa0\xbf\xc0\xc2\xdf\xe0\xe1\xed\xef\xf0\xf4\xf5\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string text(random() % 10, ' ');
    for (auto& c : text) c = alphabet[random() % alphabet.size()];
    samples.push_back(std::move(text));
  }
  for (const auto& text : samples) {
    CAPTURE(json(text).dump(-1, ' ', true, json::error_handler_t::replace));
    REQUIRE(written_string(text) == dumped(json(text)));
  }
}

TEST_CASE("names are escaped like values") {
  std::string out;
  ObjectWriter(out).integer("a\"b", 1).end();
  CHECK(out == R"({"a\"b":1})");
}

TEST_CASE("names of any length, escaped or not, are written the same way after the first") {
  std::string out;
  ObjectWriter(out)
      .integer("a", 1)
      .integer("a_name_longer_than_the_short_names_written_in_one_piece_0123456789", 2)
      .integer("b\"c", 3)
      .end();
  CHECK(out == R"({"a":1,"a_name_longer_than_the_short_names_written_in_one_piece_0123456789":2,)"
               R"("b\"c":3})");
}

TEST_CASE("an object many times the writer's own buffer comes out whole and in order") {
  // The writer gathers fields before appending them: fields of every kind and length, values
  // that straddle the end of its buffer, nested ones, and text already in the string must all
  // come out as written.
  std::string out = "prefix ";
  std::string expected = "prefix {";
  ObjectWriter object(out);
  std::mt19937 random(9);
  for (int i = 0; i < 400; ++i) {
    expected += i == 0 ? "\"f\":" : ",\"f\":";
    switch (random() % 6) {
      case 0: {
        std::string value(random() % 300, static_cast<char>('a' + i % 26));
        if (random() % 3 == 0) value += "\"\n";  // needs escaping
        object.string("f", value);
        expected += dumped(value);
        break;
      }
      case 1: {
        auto value = -static_cast<std::int64_t>(random()) * 4099;
        object.integer("f", value);
        expected += std::to_string(value);
        break;
      }
      case 2:
        object.boolean("f", i % 2 == 0);
        expected += i % 2 == 0 ? "true" : "false";
        break;
      case 3:
        object.null("f");
        expected += "null";
        break;
      case 4:
        object.strings("f", {"x", "y"});
        expected += R"(["x","y"])";
        break;
      default:
        ObjectWriter(object.raw("f")).integer("pid", i).end();
        expected += R"({"pid":)" + std::to_string(i) + "}";
    }
  }
  object.end_line();
  CHECK(out == expected + "}\n");
}
