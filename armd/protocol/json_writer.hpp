// A JSON writer that appends straight to a std::string: objects written field by field, arrays
// element by element, strings escaped as nlohmann's dump would escape them (invalid UTF-8
// replaced by U+FFFD, never thrown on).
//
// Why not build an nlohmann tree and dump it: a status reply is most of armd's control-plane cost
// (docs/performance.md), and writing in place costs one pass over a service's fields instead of a
// tree of a dozen allocated nodes. Reading JSON stays with nlohmann. The writer knows nothing of
// the protocol; protocol.cpp says which fields go where.
#pragma once

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace armd::json_writer {

// Appends `text` as a JSON string, quotes included.
void append_string(std::string& out, std::string_view text);
// True when `text` is printable ASCII without '"' or '\\': JSON holds it as it is.
bool needs_no_escaping(std::string_view text);
// Appends `text`, which needs_no_escaping, between quotes: what append_string writes for it.
inline void append_plain_string(std::string& out, std::string_view text) {
  out += '"';
  out.append(text);
  out += '"';
}

template <typename Integer>
void append_integer(std::string& out, Integer value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

// A field's name: a literal, whose need of escaping is decided when it is compiled (the
// protocol's names never need it, so writing one is a copy), e.g. .integer("pid", pid).
class FieldName {
 public:
  template <std::size_t N>
  consteval FieldName(const char (&literal)[N])  // NOLINT: implicit, so a literal is a name
      : text_(literal, N - 1) {
    for (char c : text_) {
      auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte >= 0x80 || c == '"' || c == '\\') plain_ = false;
    }
  }
  std::string_view text() const { return text_; }
  bool plain() const { return plain_; }

 private:
  std::string_view text_;
  bool plain_ = true;
};

// One JSON object, written field by field in the order of the calls. Each method names the type
// it writes: overloads on bool and string_view would send a string literal to the bool one.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  ObjectWriter& string(FieldName name, std::string_view value) {
    key(name);
    append_string(out_, value);
    return *this;
  }
  template <typename Integer>
  ObjectWriter& integer(FieldName name, Integer value) {
    key(name);
    append_integer(out_, value);
    return *this;
  }
  // An absent value is written as null.
  template <typename Integer>
  ObjectWriter& integer(FieldName name, std::optional<Integer> value) {
    if (!value) return null(name);
    return integer(name, *value);
  }
  ObjectWriter& boolean(FieldName name, bool value) {
    key(name);
    out_ += value ? "true" : "false";
    return *this;
  }
  ObjectWriter& null(FieldName name) {
    key(name);
    out_ += "null";
    return *this;
  }
  ObjectWriter& strings(FieldName name, const std::vector<std::string>& values);
  // Any value nlohmann holds (a request's id, echoed as the client sent it). Strings take the
  // same path as string(), so they are escaped the same way.
  ObjectWriter& json_value(FieldName name, const nlohmann::json& value);
  // Starts a field whose value the caller writes next (a nested object or array).
  std::string& raw(FieldName name) {
    key(name);
    return out_;
  }
  void end() { out_ += '}'; }
  // Closes the object and ends the line: a protocol line is one object.
  void end_line() { out_ += "}\n"; }

 private:
  void key(FieldName name) {
    std::string_view text = name.text();
    if (name.plain() && text.size() <= max_short_name) {
      // `,"name":` in one append: five appends of a piece each cost more than the name.
      char piece[max_short_name + 4];
      std::size_t length = 0;
      if (!first_) piece[length++] = ',';
      piece[length++] = '"';
      text.copy(piece + length, text.size());
      length += text.size();
      piece[length++] = '"';
      piece[length++] = ':';
      out_.append(piece, length);
    } else {
      if (!first_) out_ += ',';
      append_string(out_, text);
      out_ += ':';
    }
    first_ = false;
  }
  static constexpr std::size_t max_short_name = 60;

  std::string& out_;
  bool first_ = true;
};

// One JSON array, whose elements the caller writes one at a time.
class ArrayWriter {
 public:
  explicit ArrayWriter(std::string& out) : out_(out) { out_ += '['; }
  ArrayWriter(const ArrayWriter&) = delete;
  ArrayWriter& operator=(const ArrayWriter&) = delete;

  // Starts the next element, which the caller writes into the returned string.
  std::string& element() {
    if (!first_) out_ += ',';
    first_ = false;
    return out_;
  }
  void end() { out_ += ']'; }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace armd::json_writer
