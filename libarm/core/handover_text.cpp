#include "handover_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

ARM_BEGIN_NAMESPACE
namespace detail::handover_text {

namespace {

constexpr int deepest = 4;  // arrays and inline tables within one another
constexpr std::size_t most_keys = 256;

bool is_key_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

void append_utf8(std::string& out, std::uint32_t point) {
  if (point < 0x80) {
    out.push_back(static_cast<char>(point));
  } else if (point < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (point >> 6)));
    out.push_back(static_cast<char>(0x80 | (point & 0x3f)));
  } else if (point < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((point >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (point & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((point >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((point >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (point & 0x3f)));
  }
}

// Decodes the escaped text of a string (between its quotes) into `out`, or says what is wrong
// and where (an offset into `escaped`). Reading checks; Document::string decodes.
struct EscapeError {
  std::size_t at;
  std::string message;
};
std::expected<void, EscapeError> unescape(std::string_view escaped, std::string* out) {
  for (std::size_t i = 0; i < escaped.size();) {
    std::size_t plain = escaped.find('\\', i);
    if (plain == std::string_view::npos) plain = escaped.size();
    if (out) out->append(escaped.substr(i, plain - i));
    if (plain == escaped.size()) break;
    i = plain + 1;
    if (i == escaped.size()) return std::unexpected(EscapeError{plain, "a lone '\\'"});
    char kind = escaped[i++];
    char simple = kind == '"'    ? '"'
                  : kind == '\\' ? '\\'
                  : kind == 'b'  ? '\b'
                  : kind == 't'  ? '\t'
                  : kind == 'n'  ? '\n'
                  : kind == 'f'  ? '\f'
                  : kind == 'r'  ? '\r'
                                 : '\0';
    if (simple != '\0') {
      if (out) out->push_back(simple);
      continue;
    }
    if (kind != 'u' && kind != 'U')
      return std::unexpected(EscapeError{plain, fmt::format("unknown escape \\{}", kind)});
    std::size_t length = kind == 'u' ? 4 : 8;
    std::string_view hex = escaped.substr(i, length);
    std::uint32_t point = 0;
    auto [end, problem] = std::from_chars(hex.data(), hex.data() + hex.size(), point, 16);
    if (hex.size() != length || problem != std::errc{} || end != hex.data() + hex.size())
      return std::unexpected(
          EscapeError{plain, fmt::format("\\{} needs {} hexadecimal digits", kind, length)});
    if (point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
      return std::unexpected(
          EscapeError{plain, fmt::format("\\{}{} is not a Unicode scalar value", kind, hex)});
    if (out) append_utf8(*out, point);
    i += length;
  }
  return {};
}

}  // namespace

// Reads one line at a time into the document's nodes; `at_` is the offset in the whole text.
class Reader {
 public:
  Reader(std::string_view text, Document& document) : text_(text), doc_(document) {}

  std::expected<void, SyntaxError> read() {
    if (text_.size() >= Node::none)
      return std::unexpected(SyntaxError{1, 1, "larger than 4 GiB: not a handover"});
    // About one node per line: one allocation in the common case. Bounded: a text of nothing
    // but line breaks would otherwise ask for gigabytes before its first line is read.
    constexpr std::size_t most_reserved = std::size_t{1} << 20;
    doc_.nodes_.reserve(
        std::min(static_cast<std::size_t>(std::count(text_.begin(), text_.end(), '\n')),
                 most_reserved) +
        16);
    doc_.nodes_.emplace_back();  // the root table
    std::uint32_t table = 0;     // where `key = value` lines go
    while (next_line()) {
      skip_blanks();
      if (at_line_end() || peek() == '#') continue;
      if (peek() == '[') {
        table = header();
      } else {
        entry(table);
      }
      if (failed()) break;
      skip_blanks();
      if (!at_line_end() && peek() != '#') fail("unexpected text after the value");
      if (failed()) break;
    }
    if (failed()) return std::unexpected(std::move(error_));
    return {};
  }

 private:
  // ---- lines and characters ----
  bool next_line() {
    if (next_line_ > text_.size()) return false;
    std::size_t end = text_.find('\n', next_line_);
    if (end == std::string_view::npos) end = text_.size();
    at_ = next_line_;
    line_end_ = end > at_ && text_[end - 1] == '\r' ? end - 1 : end;
    next_line_ = end + 1;
    return true;
  }
  bool at_line_end() const { return at_ >= line_end_; }
  char peek() const { return text_[at_]; }
  void skip_blanks() {
    while (!at_line_end() && (peek() == ' ' || peek() == '\t')) ++at_;
  }
  bool take(char c) {
    if (at_line_end() || peek() != c) return false;
    ++at_;
    return true;
  }
  bool starts_with(std::string_view word) const {
    return text_.substr(at_, line_end_ - at_).starts_with(word);
  }
  void expect(char c, std::string_view what) {
    skip_blanks();
    if (!take(c)) fail(fmt::format("expected {}", what));
  }
  void fail(std::string message, std::size_t where) {
    if (failed()) return;
    Node here;
    here.at = static_cast<std::uint32_t>(where);
    error_ = {doc_.line(here), doc_.column(here), std::move(message)};
  }
  void fail(std::string message) { fail(std::move(message), at_); }
  bool failed() const { return !error_.message.empty(); }

  // ---- the nodes ----
  Node& node(std::uint32_t index) { return doc_.nodes_[index]; }
  // A new child of `parent` (its key, if any, set by the caller); nodes_ may move.
  std::uint32_t add_child(std::uint32_t parent, Kind kind) {
    auto index = static_cast<std::uint32_t>(doc_.nodes_.size());
    Node& child = doc_.nodes_.emplace_back();
    child.kind = kind;
    child.at = static_cast<std::uint32_t>(at_);
    Node& owner = node(parent);
    if (owner.last == Node::none)
      owner.first = index;
    else
      node(owner.last).next = index;
    owner.last = index;
    return index;
  }
  // A new key of the table `parent`; none (and failed) when it has it already or too many. The
  // limit keeps the duplicate check, a linear search, cheap: a handover's tables have about 30.
  std::uint32_t add_key(std::uint32_t parent, std::string_view key, Kind kind) {
    auto key_at = static_cast<std::size_t>(key.data() - text_.data());
    std::size_t count = 0;
    for (const Node* child = doc_.first(node(parent)); child; child = doc_.next(*child), ++count) {
      if (doc_.key(*child) == key) {
        fail(fmt::format("'{}' is defined twice", key), key_at);
        return Node::none;
      }
    }
    if (count >= most_keys) {
      fail(
          fmt::format("more than {} keys in one table (a handover's have about thirty)", most_keys),
          key_at);
      return Node::none;
    }
    std::uint32_t index = add_child(parent, kind);
    node(index).key_at = static_cast<std::uint32_t>(key_at);
    node(index).key_size = static_cast<std::uint32_t>(key.size());
    return index;
  }

  // ---- keys and headers ----
  std::string_view key() {
    skip_blanks();
    std::size_t start = at_;
    while (!at_line_end() && is_key_character(peek())) ++at_;
    if (at_ == start) fail("expected a key (letters, digits, '_' or '-')");
    return text_.substr(start, at_ - start);
  }

  std::uint32_t header() {
    std::size_t start = at_;
    ++at_;  // '['
    bool array_of_tables = take('[');
    std::string_view first = key();
    auto first_at = static_cast<std::size_t>(first.data() - text_.data());
    if (failed()) return Node::none;
    const Node* found = doc_.get(doc_.root(), first);
    auto list = found ? static_cast<std::uint32_t>(found - doc_.nodes_.data()) : Node::none;
    if (array_of_tables) {
      expect(']', "']]' to end the header");
      expect(']', "']]' to end the header");
      if (failed()) return Node::none;
      if (list == Node::none) list = add_key(0, first, Kind::array);
      if (list == Node::none) return Node::none;
      if (node(list).kind != Kind::array) {
        fail(fmt::format("'{}' is not an array of tables", first), first_at);
        return Node::none;
      }
      std::size_t here = at_;
      at_ = start;
      std::uint32_t table = add_child(list, Kind::table);
      at_ = here;
      return table;
    }
    if (!take('.')) {
      fail("a handover has top-level tables only as [[name]]", start);
      return Node::none;
    }
    std::string_view second = key();
    expect(']', "']' to end the header");
    if (failed()) return Node::none;
    if (list == Node::none || node(list).kind != Kind::array || node(list).last == Node::none) {
      fail(fmt::format("[{}.{}] comes before any [[{}]]", first, second, first), start);
      return Node::none;
    }
    std::size_t here = at_;
    at_ = start;
    std::uint32_t table = add_key(node(list).last, second, Kind::table);
    at_ = here;
    return table;
  }

  void entry(std::uint32_t table) {
    std::string_view name = key();
    expect('=', "'=' after the key");
    if (failed()) return;
    skip_blanks();
    std::uint32_t added = add_key(table, name, Kind::table);
    if (added != Node::none) value(added, 1);
  }

  // ---- values ----
  // Reads the value at `at_` into the node `index` (added, its kind still to be set).
  void value(std::uint32_t index, int depth) {
    skip_blanks();
    node(index).at = static_cast<std::uint32_t>(at_);
    if (at_line_end()) return fail("expected a value");
    char c = peek();
    if (c == '"') return string(index);
    if (c == '[' || c == '{') {
      if (depth > deepest)
        return fail(fmt::format("nested more than {} deep (a handover never is)", deepest));
      return c == '[' ? array(index, depth) : inline_table(index, depth);
    }
    for (std::string_view word : {"true", "false"}) {
      if (starts_with(word)) {
        at_ += word.size();
        return finish(index, Kind::boolean);
      }
    }
    integer(index);
  }
  void finish(std::uint32_t index, Kind kind) {
    node(index).kind = kind;
    node(index).size = static_cast<std::uint32_t>(at_ - node(index).at);
  }

  void integer(std::uint32_t index) {
    std::size_t start = at_;
    if (!at_line_end() && (peek() == '+' || peek() == '-')) ++at_;
    while (!at_line_end() && peek() >= '0' && peek() <= '9') ++at_;
    std::string_view digits = text_.substr(start, at_ - start);
    if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
    std::int64_t number = 0;
    auto [end, problem] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (problem == std::errc::result_out_of_range)
      return fail("an integer out of the 64-bit range", start);
    if (problem != std::errc{} || end != digits.data() + digits.size())
      return fail("expected an integer, true, false, a \"string\", an array or an inline table",
                  start);
    finish(index, Kind::integer);
  }

  void string(std::uint32_t index) {
    std::size_t open = at_++;
    // The closing quote: the first '"' not escaped.
    while (!at_line_end() && peek() != '"') at_ += peek() == '\\' ? 2 : 1;
    if (at_ >= line_end_) return fail("a string without its closing quote", open);
    std::string_view escaped = text_.substr(open + 1, at_ - open - 1);
    ++at_;
    if (auto checked = unescape(escaped, nullptr); !checked)
      return fail(std::move(checked.error().message), open + 1 + checked.error().at);
    finish(index, Kind::string);
  }

  void array(std::uint32_t index, int depth) {
    ++at_;  // '['
    skip_blanks();
    if (!take(']')) {
      for (;;) {
        value(add_child(index, Kind::table), depth + 1);
        if (failed()) return;
        skip_blanks();
        if (take(']')) break;
        if (!take(',')) return fail("expected ',' or ']' in the array");
      }
    }
    finish(index, Kind::array);
  }

  void inline_table(std::uint32_t index, int depth) {
    ++at_;  // '{'
    skip_blanks();
    if (!take('}')) {
      for (;;) {
        std::string_view name = key();
        expect('=', "'=' after the key");
        if (failed()) return;
        std::uint32_t added = add_key(index, name, Kind::table);
        if (added == Node::none) return;
        value(added, depth + 1);
        if (failed()) return;
        skip_blanks();
        if (take('}')) break;
        if (!take(',')) return fail("expected ',' or '}' in the inline table");
      }
    }
    finish(index, Kind::table);
  }

  std::string_view text_;
  Document& doc_;
  std::size_t next_line_ = 0;
  std::size_t line_end_ = 0;
  std::size_t at_ = 0;
  SyntaxError error_;
};

std::expected<Document, SyntaxError> Document::parse(std::string_view text) {
  Document document;
  document.text_ = text;
  if (auto read = Reader(text, document).read(); !read) return std::unexpected(read.error());
  return document;
}

std::int64_t Document::integer(const Node& node) const {
  std::string_view digits = text_.substr(node.at, node.size);
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  std::int64_t number = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), number);
  return number;
}

std::string Document::string(const Node& node) const {
  std::string out;
  (void)unescape(text_.substr(node.at + 1, node.size - 2), &out);
  return out;
}

// Where each line begins, worked out at the first error: a handover full of wrong keys costs
// a search per error, not a scan of the text.
const std::vector<std::uint32_t>& Document::line_starts() const {
  if (line_starts_.empty()) {
    line_starts_.push_back(0);
    for (std::size_t i = text_.find('\n'); i != std::string_view::npos; i = text_.find('\n', i + 1))
      line_starts_.push_back(static_cast<std::uint32_t>(i + 1));
  }
  return line_starts_;
}

int Document::line(const Node& node) const {
  const auto& starts = line_starts();
  return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), node.at) - starts.begin());
}

int Document::column(const Node& node) const {
  const auto& starts = line_starts();
  auto line = std::upper_bound(starts.begin(), starts.end(), node.at) - 1;
  return 1 + static_cast<int>(node.at - *line);
}

const Node* Document::get(const Node& table, std::string_view key) const {
  // From just after the child found last to the end, then from the first child up to it.
  std::uint32_t start =
      table.looked_after == Node::none ? table.first : nodes_[table.looked_after].next;
  for (int round = 0; round < 2; ++round) {
    std::uint32_t stop = round == 0 ? Node::none : start;
    for (std::uint32_t i = round == 0 ? start : table.first; i != stop; i = nodes_[i].next) {
      if (this->key(nodes_[i]) == key) {
        table.looked_after = i;
        return &nodes_[i];
      }
    }
    if (start == table.first) break;
  }
  return nullptr;
}

std::size_t Document::children(const Node& parent) const {
  std::size_t count = 0;
  for (const Node* child = first(parent); child; child = next(*child)) ++count;
  return count;
}

}  // namespace detail::handover_text
ARM_END_NAMESPACE
