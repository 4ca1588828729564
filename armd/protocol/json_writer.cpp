#include "json_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

namespace armd::json_writer {

namespace {

// The length of the well-formed UTF-8 sequence at the start of `text`, or of its maximal invalid
// prefix as a negative number (Unicode's "maximal subpart": each becomes one U+FFFD, which is
// where nlohmann's dump puts them too).
int utf8_sequence(std::string_view text) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  int length = 0;
  unsigned char second_low = 0x80, second_high = 0xbf;  // the second byte's range varies
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) second_low = 0xa0;   // no overlong forms
    if (lead == 0xed) second_high = 0x9f;  // no surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) second_low = 0x90;   // no overlong forms
    if (lead == 0xf4) second_high = 0x8f;  // nothing above U+10FFFF
  } else {
    return -1;  // a continuation byte, or a byte that never occurs in UTF-8
  }
  for (int i = 1; i < length; ++i) {
    if (static_cast<std::size_t>(i) >= text.size()) return -i;
    unsigned char low = i == 1 ? second_low : 0x80;
    unsigned char high = i == 1 ? second_high : 0xbf;
    if (byte(i) < low || byte(i) > high) return -i;
  }
  return length;
}

// Bytes a JSON string may hold as they are: printable ASCII but the quote and the backslash.
constexpr std::array<bool, 256> plain_bytes = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return plain;
}();

bool is_plain(unsigned char c) {
  return plain_bytes[c];
}

}  // namespace

bool needs_no_escaping(std::string_view text) {
  return std::ranges::all_of(text, [](char c) { return is_plain(static_cast<unsigned char>(c)); });
}

void append_string(std::string& out, std::string_view text) {
  // Names, states and most messages need no escaping: one scan, one append.
  if (needs_no_escaping(text)) {
    append_plain_string(out, text);
    return;
  }
  out += '"';
  while (!text.empty()) {
    auto c = static_cast<unsigned char>(text.front());
    if (is_plain(c)) {
      // Copy plain runs in one go.
      std::size_t run = 1;
      while (run < text.size() && is_plain(static_cast<unsigned char>(text[run]))) ++run;
      out.append(text.substr(0, run));
      text.remove_prefix(run);
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else if (int length = utf8_sequence(text); length > 0) {
          out.append(text.substr(0, static_cast<std::size_t>(length)));
          text.remove_prefix(static_cast<std::size_t>(length));
          continue;
        } else {
          out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
          text.remove_prefix(static_cast<std::size_t>(-length));
          continue;
        }
    }
    text.remove_prefix(1);
  }
  out += '"';
}

ObjectWriter& ObjectWriter::strings(FieldName name, const std::vector<std::string>& values) {
  // Most such arrays in a status are empty or hold a few plain names: gathered like any field,
  // without flushing what the object has gathered so far.
  std::size_t size = 2 + (values.empty() ? 0 : values.size() - 1);
  bool plain = true;
  for (const auto& value : values) {
    size += value.size() + 2;
    if (size > max_gathered_value || !needs_no_escaping(value)) {
      plain = false;
      break;
    }
  }
  if (plain) {
    key(name);
    room(size);
    put('[');
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) put(',');
      put('"');
      put(values[i]);
      put('"');
    }
    put(']');
    return *this;
  }
  ArrayWriter array(raw(name));
  for (const auto& value : values) append_string(array.element(), value);
  array.end();
  return *this;
}

ObjectWriter& ObjectWriter::json_value(FieldName name, const nlohmann::json& value) {
  // Ids are mostly numbers: written as nlohmann's dump writes them, without its serializer.
  if (value.is_number_unsigned()) return integer(name, value.get<std::uint64_t>());
  if (value.is_number_integer()) return integer(name, value.get<std::int64_t>());
  if (value.is_string()) return string(name, value.get_ref<const std::string&>());
  raw(name) += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return *this;
}

}  // namespace armd::json_writer
