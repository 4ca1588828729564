// The reader of a live re-exec's handover text (issue 15): the subset of TOML that handover.cpp's
// Writer writes, and nothing more. toml++ read it before; for a thousand services it spent three
// quarters of resume() building and freeing a tree of nodes, each with a std::map, while the new
// armd answered no one and touched megabytes of fresh memory. This reader puts every value in one
// vector of small nodes that point into the text (a string is decoded when it is asked for), and
// links a table's keys in the order written. Private to libarm/core.
//
// What it reads, one line at a time:
//
//   # a comment                  blank lines too
//   key = value                  a bare key: letters, digits, '_' and '-'
//   [[name]]                     a table appended to the top-level array `name`
//   [name.key]                   a table `key` in the last table of that array
//
// A value is an integer (64-bit, optional sign), true or false, a basic string ("..." with
// \" \\ \b \t \n \f \r \uXXXX \UXXXXXXXX), an array [v, ...] or an inline table { k = v, ... },
// on one line, nested at most four deep. Anything else (floats, dates, literal strings, dotted
// keys, multi-line values) is an error at its line and column: no handover contains them.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace detail::handover_text {

enum class Kind : std::uint8_t { integer, boolean, string, array, table };

// One value: a table's key and what it holds, or an array's element (no key). Its position is
// worked out from `at` only for an error.
struct Node {
  static constexpr std::uint32_t none = ~std::uint32_t{0};

  std::uint32_t key_at = 0, key_size = 0;     // in the text
  std::uint32_t at = 0, size = 0;             // the value's text (a string's with its quotes)
  std::uint32_t first = none, last = none;    // an array's or table's children
  std::uint32_t next = none;                  // the next child of the same parent
  mutable std::uint32_t looked_after = none;  // a table's child found last (see Document::get)
  Kind kind = Kind::table;
};

struct SyntaxError {
  int line = 0;
  int column = 0;
  std::string message;
};

class Document {
 public:
  // Reads `text`, which must outlive the document: its nodes point into it.
  static std::expected<Document, SyntaxError> parse(std::string_view text);

  const Node& root() const { return nodes_.front(); }
  std::string_view key(const Node& node) const { return text_.substr(node.key_at, node.key_size); }
  // The values (checked when read: these cannot fail on the node of that kind).
  std::int64_t integer(const Node& node) const;
  bool boolean(const Node& node) const { return text_[node.at] == 't'; }
  std::string string(const Node& node) const;  // its escapes decoded
  // Where the node's value begins, 1-based.
  int line(const Node& node) const;
  int column(const Node& node) const;
  // The child of `table` named `key`, or nullptr. Looked for from just after the one found last:
  // read in the order written, each key is found at the first comparison.
  const Node* get(const Node& table, std::string_view key) const;
  // An array's elements, a table's keys: for (const Node* c = first(n); c; c = next(*c)).
  const Node* first(const Node& parent) const { return at(parent.first); }
  const Node* next(const Node& child) const { return at(child.next); }
  std::size_t children(const Node& parent) const;

 private:
  friend class Reader;
  const std::vector<std::uint32_t>& line_starts() const;
  const Node* at(std::uint32_t index) const {
    return index == Node::none ? nullptr : &nodes_[index];
  }

  std::string_view text_;
  std::vector<Node> nodes_;
  mutable std::vector<std::uint32_t> line_starts_;
};

}  // namespace detail::handover_text
ARM_END_NAMESPACE
