// Command lines split into words, as the two supervisors split them (import_detail.hpp).
#include <fmt/format.h>

#include "import_detail.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One C-style escape of systemd's (cunescape), at text[i] just after the backslash; appends
// what it stands for and returns how many characters it took, or why it cannot.
std::expected<std::size_t, std::string> systemd_escape(std::string_view text, std::size_t i,
                                                       std::string& out) {
  char c = text[i];
  switch (c) {
    case 'a':
      out += '\a';
      return 1;
    case 'b':
      out += '\b';
      return 1;
    case 'f':
      out += '\f';
      return 1;
    case 'n':
      out += '\n';
      return 1;
    case 'r':
      out += '\r';
      return 1;
    case 't':
      out += '\t';
      return 1;
    case 'v':
      out += '\v';
      return 1;
    case 's':
      out += ' ';
      return 1;
    case '\\':
    case '"':
    case '\'':
    case ' ':
      out += c;
      return 1;
    case 'x': {
      if (i + 2 >= text.size() || hex_digit(text[i + 1]) < 0 || hex_digit(text[i + 2]) < 0)
        return std::unexpected(std::string("'\\x' needs two hex digits"));
      int value = hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]);
      if (value == 0) return std::unexpected(std::string("'\\x00': a NUL byte"));
      out += static_cast<char>(value);
      return 3;
    }
    default:
      if (c >= '0' && c <= '7') {
        if (i + 2 >= text.size() || text[i + 1] < '0' || text[i + 1] > '7' || text[i + 2] < '0' ||
            text[i + 2] > '7')
          return std::unexpected(std::string("an octal escape needs three digits"));
        int value = (c - '0') * 64 + (text[i + 1] - '0') * 8 + (text[i + 2] - '0');
        if (value == 0 || value > 255)
          return std::unexpected(
              fmt::format("'\\{}' is not a byte armd can pass", text.substr(i, 3)));
        out += static_cast<char>(value);
        return 3;
      }
      return std::unexpected(fmt::format("'\\{}' is not an escape systemd knows", c));
  }
}

}  // namespace

std::expected<std::vector<std::string>, std::string> split_shell_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    std::string word;
    while (i < text.size() && !is_space(text[i])) {
      char c = text[i];
      if (c == '\'') {
        auto close = text.find('\'', i + 1);
        if (close == std::string_view::npos)
          return std::unexpected(std::string("no closing ' quotation"));
        word += text.substr(i + 1, close - i - 1);
        i = close + 1;
      } else if (c == '"') {
        ++i;
        for (;;) {
          if (i == text.size()) return std::unexpected(std::string("no closing \" quotation"));
          if (text[i] == '"') break;
          // shlex: inside "...", a backslash escapes only " and itself.
          if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\'))
            ++i;
          word += text[i++];
        }
        ++i;
      } else if (c == '\\') {
        if (i + 1 == text.size())
          return std::unexpected(std::string("a backslash at the end escapes nothing"));
        word += text[i + 1];
        i += 2;
      } else {
        word += c;
        ++i;
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

std::expected<std::vector<std::string>, std::string> split_systemd_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    std::string word;
    // systemd (extract_first_word with EXTRACT_UNQUOTE | EXTRACT_CUNESCAPE): a quote opens a
    // quoted stretch anywhere in the word; escapes work inside and outside quotes.
    char quote = 0;
    while (i < text.size()) {
      char c = text[i];
      if (quote == 0 && is_space(c)) break;
      if (c == '\\') {
        if (i + 1 == text.size())
          return std::unexpected(std::string("a backslash at the end escapes nothing"));
        auto taken = systemd_escape(text, i + 1, word);
        if (!taken) return std::unexpected(taken.error());
        i += 1 + *taken;
      } else if (quote != 0 && c == quote) {
        quote = 0;
        ++i;
      } else if (quote == 0 && (c == '"' || c == '\'')) {
        quote = c;
        ++i;
      } else {
        word += c;
        ++i;
      }
    }
    if (quote != 0) return std::unexpected(fmt::format("no closing {} quotation", quote));
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace config_detail
ARM_END_NAMESPACE
