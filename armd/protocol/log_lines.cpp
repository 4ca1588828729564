#include "protocol/log_lines.hpp"

#include <array>

#include "protocol/json_writer.hpp"

namespace armd::protocol {

using json_writer::ArrayWriter;
using json_writer::ObjectWriter;

namespace {
constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

bool valid_utf8(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    auto lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code = 0;
    std::uint32_t least = 0;
    if ((lead & 0xe0) == 0xc0) {
      length = 2, code = lead & 0x1f, least = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, code = lead & 0x0f, least = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, code = lead & 0x07, least = 0x10000;
    } else {
      return false;
    }
    if (i + length > bytes.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(bytes[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and what lies beyond Unicode are not UTF-8.
    if (code < least || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t group = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 2]);
    out += base64_alphabet[(group >> 18) & 63];
    out += base64_alphabet[(group >> 12) & 63];
    out += i + 1 < bytes.size() ? base64_alphabet[(group >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? base64_alphabet[group & 63] : '=';
  }
  return out;
}

std::expected<std::string, std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::unexpected("base64 length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    int padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      std::uint32_t value = 0;
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        ++padding;
      } else if (auto at = base64_alphabet.find(c); at != std::string_view::npos && !padding) {
        value = static_cast<std::uint32_t>(at);
      } else {
        return std::unexpected("not base64");
      }
      group = (group << 6) | value;
    }
    out += static_cast<char>((group >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((group >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(group & 0xff);
  }
  return out;
}

void append_output_line(std::string& out, const arm::OutputLine& line, const std::string* service,
                        bool unparsed) {
  ObjectWriter object(out);
  if (service) object.string("service", *service);
  object.integer("seq", line.sequence)
      .string("time", arm::format_rfc3339_ms(line.time))
      .string("stream", arm::to_string(line.stream))
      .string("text", line.text)  // invalid UTF-8 replaced by U+FFFD
      .boolean("continues", line.continues);
  if (!valid_utf8(line.text)) object.string("base64", base64_encode(line.text));
  if (unparsed) object.boolean("unparsed", true);
  object.end();
}

namespace {
void append_lines(ObjectWriter& object, const std::vector<ServiceLine>& lines) {
  ArrayWriter array(object.raw("lines"));
  for (const auto& [service, line, unparsed] : lines)
    append_output_line(array.element(), *line, service, unparsed);
  array.end();
}
}  // namespace

std::string encode_log_lines(const nlohmann::json& id, const std::vector<ServiceLine>& lines,
                             bool following) {
  std::string out;
  ObjectWriter object(out);
  object.json_value("id", id).boolean("ok", true).boolean("following", following);
  append_lines(object, lines);
  object.end_line();
  return out;
}

std::string encode_followed_lines(const nlohmann::json& id, const std::vector<ServiceLine>& lines) {
  std::string out;
  ObjectWriter object(out);
  object.json_value("id", id).string("event", "lines");
  append_lines(object, lines);
  object.end_line();
  return out;
}

std::string encode_gap(const nlohmann::json& id, std::string_view service, std::uint64_t missed) {
  std::string out;
  ObjectWriter(out)
      .json_value("id", id)
      .string("event", "gap")
      .string("service", service)
      .integer("missed", missed)
      .end_line();
  return out;
}

std::string line_bytes(const nlohmann::json& line) {
  if (!line.is_object()) return {};
  if (auto raw = line.find("base64"); raw != line.end() && raw->is_string()) {
    if (auto bytes = base64_decode(raw->get_ref<const std::string&>())) return *bytes;
  }
  if (auto text = line.find("text"); text != line.end() && text->is_string())
    return text->get<std::string>();
  return {};
}

}  // namespace armd::protocol
