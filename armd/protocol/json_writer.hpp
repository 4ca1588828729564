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
#include <cstring>
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
//
// Fields are gathered in a buffer of the writer's own and appended to the string a few hundred
// bytes at a time: the status of one service is about twenty fields, and an append to a
// std::string per key and per value (each a call into libstdc++ and one into memcpy) was most of
// what writing it cost (docs/performance.md, the pipelined control plane). So the string holds
// the object only once raw(), end() or end_line() was called: write nested values through raw(),
// never to the string directly.
class ObjectWriter {
 public:
  // The field methods are inlined where they are called, so that a name's length is known there
  // and copying `,"name":` is a few moves rather than a call.
  explicit ObjectWriter(std::string& out) : out_(out) { buffer_[used_++] = '{'; }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  [[gnu::always_inline]] ObjectWriter& string(FieldName name, std::string_view value) {
    key(name);
    if (value.size() <= max_gathered_value && needs_no_escaping(value)) {
      room(value.size() + 2);
      put('"');
      put(value);
      put('"');
    } else {
      append_string(flushed(), value);
    }
    return *this;
  }
  template <typename Integer>
  [[gnu::always_inline]] ObjectWriter& integer(FieldName name, Integer value) {
    key(name);
    room(max_integer_digits);
    used_ = static_cast<std::size_t>(
        std::to_chars(buffer_ + used_, buffer_ + sizeof buffer_, value).ptr - buffer_);
    return *this;
  }
  // An absent value is written as null.
  template <typename Integer>
  ObjectWriter& integer(FieldName name, std::optional<Integer> value) {
    if (!value) return null(name);
    return integer(name, *value);
  }
  [[gnu::always_inline]] ObjectWriter& boolean(FieldName name, bool value) {
    key(name);
    room(5);
    put(value ? std::string_view("true") : std::string_view("false"));
    return *this;
  }
  [[gnu::always_inline]] ObjectWriter& null(FieldName name) {
    key(name);
    room(4);
    put("null");
    return *this;
  }
  ObjectWriter& strings(FieldName name, const std::vector<std::string>& values);
  // Any value nlohmann holds (a request's id, echoed as the client sent it). Strings take the
  // same path as string(), so they are escaped the same way.
  ObjectWriter& json_value(FieldName name, const nlohmann::json& value);
  // Starts a field whose value the caller writes next (a nested object or array).
  std::string& raw(FieldName name) {
    key(name);
    return flushed();
  }
  void end() {
    room(1);
    put('}');
    flush();
  }
  // Closes the object and ends the line: a protocol line is one object.
  void end_line() {
    room(2);
    put("}\n");
    flush();
  }

 private:
  [[gnu::always_inline]] void key(FieldName name) {
    std::string_view text = name.text();
    if (name.plain() && text.size() <= max_short_name) {
      room(text.size() + 4);
      if (!first_) put(',');
      put('"');
      put(text);
      put('"');
      put(':');
    } else {
      std::string& out = flushed();
      if (!first_) out += ',';
      append_string(out, text);
      out += ':';
    }
    first_ = false;
  }
  // Makes room for `size` more bytes in the buffer (what each caller asks for fits an empty
  // buffer: see the static_assert below).
  [[gnu::always_inline]] void room(std::size_t size) {
    if (sizeof buffer_ - used_ < size) flush();
  }
  [[gnu::always_inline]] void put(char c) { buffer_[used_++] = c; }
  [[gnu::always_inline]] void put(std::string_view text) {
    std::memcpy(buffer_ + used_, text.data(), text.size());  // no bounds check: room() did it
    used_ += text.size();
  }
  void flush() {
    if (used_ == 0) return;
    out_.append(buffer_, used_);
    used_ = 0;
  }
  std::string& flushed() {
    flush();
    return out_;
  }
  static constexpr std::size_t max_short_name = 60;
  static constexpr std::size_t max_gathered_value = 120;
  static constexpr std::size_t max_integer_digits = 24;
  static constexpr std::size_t buffer_size = 512;
  static_assert(max_short_name + 4 <= buffer_size && max_gathered_value + 2 <= buffer_size &&
                max_integer_digits <= buffer_size);

  std::string& out_;
  bool first_ = true;
  std::size_t used_ = 0;
  char buffer_[buffer_size];
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
