#include "fast_request.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace armd::protocol {

namespace {

// A cursor over the line. Every reader returns false when what follows is not the plain shape
// it reads; the caller then gives up on the whole line.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool at_end() {
    skip_space();
    return text_.empty();
  }
  // The next token is `c`: consumes it.
  bool take(char c) {
    skip_space();
    if (text_.empty() || text_.front() != c) return false;
    text_.remove_prefix(1);
    return true;
  }
  bool peek(char c) {
    skip_space();
    return !text_.empty() && text_.front() == c;
  }
  bool take_word(std::string_view word) {
    skip_space();
    if (!text_.starts_with(word)) return false;
    text_.remove_prefix(word.size());
    return true;
  }
  // A string of printable ASCII without '"' or '\': its text, which needs no decoding.
  bool plain_string(std::string_view& out) {
    if (!take('"')) return false;
    std::size_t length = 0;
    for (; length < text_.size(); ++length) {
      auto c = static_cast<unsigned char>(text_[length]);
      if (c == '"') break;
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
    }
    if (length == text_.size()) return false;
    out = text_.substr(0, length);
    text_.remove_prefix(length + 1);
    return true;
  }
  // An integer without fraction or exponent, small enough that no overflow needs checking. As
  // nlohmann does, a non-negative one is unsigned.
  bool small_integer(nlohmann::json& out) {
    skip_space();
    bool negative = !text_.empty() && text_.front() == '-';
    std::size_t digits = negative ? 1 : 0;
    std::uint64_t value = 0;
    while (digits < text_.size() && text_[digits] >= '0' && text_[digits] <= '9')
      value = value * 10 + static_cast<std::uint64_t>(text_[digits++] - '0');
    std::size_t count = digits - (negative ? 1 : 0);
    if (count == 0 || count > 18) return false;
    if (count > 1 && text_[negative ? 1 : 0] == '0') return false;  // JSON has no leading zeros
    if (digits < text_.size() &&
        (text_[digits] == '.' || text_[digits] == 'e' || text_[digits] == 'E'))
      return false;
    text_.remove_prefix(digits);
    if (negative)
      out = -static_cast<std::int64_t>(value);
    else
      out = value;
    return true;
  }

 private:
  void skip_space() {
    while (!text_.empty() && (text_.front() == ' ' || text_.front() == '\t' ||
                              text_.front() == '\r' || text_.front() == '\n'))
      text_.remove_prefix(1);
  }

  std::string_view text_;
};

bool read_id(Reader& reader, nlohmann::json& id) {
  if (reader.take_word("null")) return true;
  if (reader.peek('"')) {
    std::string_view text;
    if (!reader.plain_string(text) || text.size() > max_id_bytes) return false;
    id = std::string(text);
    return true;
  }
  return reader.small_integer(id);
}

bool read_names(Reader& reader, std::vector<std::string>& names) {
  if (!reader.take('[')) return false;
  if (reader.take(']')) return true;
  do {
    std::string_view name;
    if (!reader.plain_string(name)) return false;
    names.emplace_back(name);
  } while (reader.take(','));
  return reader.take(']');
}

std::optional<Method> common_method(std::string_view name) {
  if (name == "status") return Method::status;
  if (name == "start") return Method::start;
  if (name == "stop") return Method::stop;
  if (name == "restart") return Method::restart;
  if (name == "reset") return Method::reset;
  if (name == "hello") return Method::hello;
  if (name == "reload") return Method::reload;
  if (name == "shutdown") return Method::shutdown;
  return std::nullopt;  // logs, or unknown: the full parser's
}

}  // namespace

std::optional<Request> decode_common_request(std::string_view line) {
  Request request;
  if (!decode_common_request_into(line, request)) return std::nullopt;
  return request;
}

bool decode_common_request_into(std::string_view line, Request& request) {
  Reader reader(line);
  if (!reader.take('{')) return false;
  request.id = nullptr;
  request.service.clear();
  request.force = false;
  request.services.clear();
  request.lines = default_log_lines;
  request.follow = false;
  request.since.reset();
  bool has_id = false, has_services = false, has_service = false, has_force = false;
  std::optional<Method> method;
  if (!reader.take('}')) {
    do {
      std::string_view key;
      if (!reader.plain_string(key) || !reader.take(':')) return false;
      // A key given twice is left to the full parser (which keeps the last).
      if (key == "id" && !has_id) {
        has_id = true;
        if (!read_id(reader, request.id)) return false;
      } else if (key == "method" && !method) {
        std::string_view name;
        if (!reader.plain_string(name)) return false;
        method = common_method(name);
        if (!method) return false;
      } else if (key == "services" && !has_services) {
        has_services = true;
        if (!read_names(reader, request.services)) return false;
      } else if (key == "service" && !has_service) {
        has_service = true;
        std::string_view name;
        if (!reader.plain_string(name) || name.empty()) return false;
        request.service = name;
      } else if (key == "force" && !has_force) {
        has_force = true;
        if (reader.take_word("true"))
          request.force = true;
        else if (!reader.take_word("false"))
          return false;
      } else {
        return false;
      }
    } while (reader.take(','));
    if (!reader.take('}')) return false;
  }
  if (!reader.at_end() || !method) return false;
  request.method = *method;
  // Each method with exactly the fields it takes; anything else is the full parser's to judge.
  switch (request.method) {
    case Method::status:
      if (has_service || has_force) return false;
      break;
    case Method::start:
    case Method::restart:
    case Method::reset:
      if (!has_service || has_services || has_force) return false;
      break;
    case Method::stop:
      if (!has_service || has_services) return false;
      break;
    case Method::hello:
    case Method::reload:
    case Method::shutdown:
    case Method::logs:
      if (has_service || has_services || has_force) return false;
      break;
    case Method::subscribe:  // rare and long-lived: the full parser judges them
    case Method::unsubscribe:
    case Method::metrics:
    case Method::reload_service:
    case Method::reexec:
      return false;
  }
  return true;
}

}  // namespace armd::protocol
