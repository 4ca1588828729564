#include "nesting_limits.hpp"

#include <fmt/format.h>

#include <string>

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

// A single pass over the text, reading just enough of TOML's grammar to know where keys and
// values are: statements (a table header, or key = value) at the top, values nested in arrays
// and inline tables below. Its recursion is bounded by max_nesting_depth: it stops at the first
// limit broken.
class NestingScan {
 public:
  NestingScan(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  std::optional<Error> run() {
    while (!at_end() && !error_) {
      skip_blank_lines();
      if (at_end()) break;
      std::size_t before = position_;
      if (peek() == '[') {
        table_header();
      } else {
        key_value(0);
      }
      skip_rest_of_line();
      if (position_ == before) advance();  // a stray ']' or ',': always move on
    }
    return error_;
  }

 private:
  bool at_end() const { return position_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const {
    return position_ + ahead < text_.size() ? text_[position_ + ahead] : '\0';
  }
  void advance() {
    if (text_[position_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++position_;
  }
  bool starts_with(std::string_view what) const {
    return text_.substr(position_).starts_with(what);
  }

  void fail(std::string message) {
    if (!error_) error_ = Error::at(std::string(source_), line_, column_, "", std::move(message));
  }

  void skip_spaces() {
    while (peek() == ' ' || peek() == '\t') advance();
  }
  void skip_comment() {
    if (peek() != '#') return;
    while (!at_end() && peek() != '\n') advance();
  }
  // Spaces, comments and line endings: what may separate the elements of an array.
  void skip_blank_lines() {
    for (;;) {
      skip_spaces();
      skip_comment();
      if (peek() == '\n' || peek() == '\r') {
        advance();
      } else {
        return;
      }
    }
  }
  // After a statement: spaces and a comment belong to it. Anything else is a syntax error the
  // parser reports; it is scanned as the next statement, so nothing escapes the count.
  void skip_rest_of_line() {
    skip_spaces();
    skip_comment();
  }

  // "…", '…', """…""" or '''…''': skipped whole, escapes and line endings included. An
  // unterminated string ends the text (or, single-line, the line); the parser refuses it.
  void string() {
    char quote = peek();
    bool multi_line = peek(1) == quote && peek(2) == quote;
    if (multi_line) {
      advance();
      advance();
    }
    advance();
    while (!at_end()) {
      char c = peek();
      if (c == '\\' && quote == '"') {
        advance();
        if (!at_end()) advance();
        continue;
      }
      if (!multi_line && c == '\n') return;
      if (c == quote) {
        if (!multi_line) {
          advance();
          return;
        }
        if (peek(1) == quote && peek(2) == quote) {
          advance();
          advance();
          advance();
          // Up to two more quotes belong to the content: """a""""" is the string a"".
          for (int extra = 0; extra < 2 && peek() == quote; ++extra) advance();
          return;
        }
      }
      advance();
    }
  }

  static bool ends_bare_key(char c) {
    return c == '.' || c == '=' || c == ']' || c == '[' || c == '{' || c == '}' || c == ',' ||
           c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' ||
           c == '\0';
  }

  // A key: parts (bare or quoted) joined by dots. Returns how many parts it has (0 when there is
  // no key here), having stopped before whatever follows it.
  int key() {
    int parts = 0;
    for (;;) {
      skip_spaces();
      char c = peek();
      if (c == '"' || c == '\'') {
        string();
      } else if (!ends_bare_key(c)) {
        while (!ends_bare_key(peek())) advance();
      } else {
        return parts;  // not a key part: the parser decides what it is
      }
      ++parts;
      skip_spaces();
      if (peek() != '.') return parts;
      if (parts == max_key_parts) {
        fail(fmt::format("a key of more than {} parts (dotted names); armd accepts at most {}",
                         max_key_parts, max_key_parts));
        return parts;
      }
      advance();  // the dot
    }
  }

  // [a.b] or [[a.b]].
  void table_header() {
    advance();
    if (peek() == '[') advance();
    key();
    skip_spaces();
    while (peek() == ']') advance();
  }

  // key = value, its value nested `depth` levels deep (in arrays and inline tables).
  void key_value(int depth) {
    int parts = key();
    if (error_) return;
    if (parts == 0 && !at_end() && peek() != '=') {
      // Not a key: a syntax error. Read it as a value, so that brackets still count.
      value(depth);
      return;
    }
    skip_spaces();
    if (peek() == '=') advance();
    // Inside an inline table each part but the last is a table of its own.
    if (depth > 0) depth += parts > 0 ? parts - 1 : 0;
    if (depth > max_nesting_depth) return too_deep();
    value(depth);
  }

  void too_deep() {
    fail(
        fmt::format("values nested more than {} levels deep (arrays and inline tables); armd "
                    "accepts at most {}",
                    max_nesting_depth, max_nesting_depth));
  }

  // One value at `depth`: a string, an array, an inline table, or a scalar up to its end.
  void value(int depth) {
    skip_spaces();
    char c = peek();
    if (c == '"' || c == '\'') {
      string();
    } else if (c == '[' || c == '{') {
      if (depth + 1 > max_nesting_depth) return too_deep();
      advance();
      if (c == '[') {
        array_elements(depth + 1);
      } else {
        inline_table_entries(depth + 1);
      }
    } else {
      // A number, a date, a boolean, or something the parser will refuse: up to where the next
      // element or statement could begin. Dots here are decimals, not key parts.
      while (!at_end()) {
        char d = peek();
        if (d == ',' || d == ']' || d == '}' || d == '[' || d == '{' || d == '\n' || d == '#' ||
            d == '"' || d == '\'')
          break;
        advance();
      }
    }
  }

  // What follows '[' (values) or '{' (key = value pairs): elements separated by commas, up to
  // the closing bracket or brace. Any closing one ends it; a mismatched one is the parser's
  // syntax error.
  void array_elements(int depth) {
    comma_separated([&] { value(depth); });
  }
  void inline_table_entries(int depth) {
    comma_separated([&] { key_value(depth); });
  }

  template <class ReadOne>
  void comma_separated(ReadOne read_one) {
    while (!at_end() && !error_) {
      skip_blank_lines();
      char c = peek();
      if (c == ']' || c == '}') {
        advance();
        return;
      }
      if (c == ',') {
        advance();
        continue;
      }
      std::size_t before = position_;
      read_one();
      if (position_ == before && !at_end()) advance();  // always move on
    }
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t position_ = 0;
  int line_ = 1;
  int column_ = 1;
  std::optional<Error> error_;
};

}  // namespace

std::optional<Error> find_excessive_nesting(std::string_view text, std::string_view source) {
  return NestingScan(text, source).run();
}

}  // namespace config_reading
ARM_END_NAMESPACE
