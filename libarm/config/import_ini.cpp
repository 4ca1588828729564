// The two file syntaxes `armctl import` reads (import_detail.hpp): supervisord's INI, read as
// Python's configparser reads it for supervisord, and systemd's unit files.
#include <fmt/format.h>
#include <algorithm>

#include "import_detail.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

std::size_t indentation(std::string_view line) {
  std::size_t count = 0;
  while (count < line.size() && is_blank(line[count])) ++count;
  return count;
}

// The file cut into lines (without their '\n'), each checked for what no reader should meet:
// a NUL byte (a binary file, or one cut short) and a line longer than any configuration needs.
std::expected<std::vector<std::string_view>, Error> split_lines(std::string_view text,
                                                                const std::string& file) {
  if (text.size() > max_import_bytes)
    return std::unexpected(Error::at(file, 0, 0, "",
                                     fmt::format("the file is larger than {} MiB: not a "
                                                 "configuration",
                                                 max_import_bytes >> 20)));
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    int number = static_cast<int>(lines.size()) + 1;
    if (line.find('\0') != std::string_view::npos)
      return std::unexpected(Error::at(file, number, 1, "", "a NUL byte: this is not a text file"));
    if (line.size() > max_import_line)
      return std::unexpected(Error::at(
          file, number, 1, "",
          fmt::format("a line of {} bytes (at most {} are read)", line.size(), max_import_line)));
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// Look-ups are linear: bounded so that a hostile file cannot take minutes (no real one comes
// near).
constexpr std::size_t most_sections = 10'000;
constexpr std::size_t most_keys_per_section = 10'000;

Error too_many_sections(const std::string& file, int line) {
  return Error::at(file, line, 1, "", fmt::format("more than {} sections", most_sections));
}

ImportSection& section_named(std::vector<ImportSection>& sections, std::string_view name,
                             int line) {
  // configparser with strict=False (supervisord's) merges a section given twice.
  auto found = std::ranges::find(sections, name, &ImportSection::name);
  if (found != sections.end()) return *found;
  sections.push_back({std::string(name), line, {}});
  return sections.back();
}

// configparser's inline comments as supervisord sets them: ';' or '#' after whitespace.
std::string_view without_inline_comment(std::string_view text) {
  for (std::size_t i = 1; i < text.size(); ++i)
    if ((text[i] == ';' || text[i] == '#') && is_blank(text[i - 1])) return text.substr(0, i);
  return text;
}

}  // namespace

std::expected<std::vector<ImportSection>, Error> read_supervisord_ini(std::string_view text,
                                                                      const std::string& file) {
  auto lines = split_lines(text, file);
  if (!lines) return std::unexpected(lines.error());
  std::vector<ImportSection> sections;
  ImportSection* current = nullptr;
  ImportEntry* open_entry = nullptr;  // the key a more indented line continues
  std::size_t open_indent = 0;
  for (std::size_t index = 0; index < lines->size(); ++index) {
    int number = static_cast<int>(index) + 1;
    std::string_view raw = (*lines)[index];
    std::string_view stripped = trim(raw);
    if (stripped.empty()) {
      open_entry = nullptr;
      continue;
    }
    if (stripped.front() == ';' || stripped.front() == '#') continue;
    std::size_t indent = indentation(raw);
    if (open_entry != nullptr && indent > open_indent) {
      auto piece = trim(without_inline_comment(stripped));
      if (!piece.empty()) open_entry->value += "\n" + std::string(piece);
      continue;
    }
    open_entry = nullptr;
    if (stripped.front() == '[') {
      auto close = stripped.find(']');
      if (close == std::string_view::npos || close == 1)
        return std::unexpected(Error::at(
            file, number, 1, "",
            close == 1 ? "an empty section name" : "a section header without its closing ']'"));
      if (sections.size() >= most_sections) return std::unexpected(too_many_sections(file, number));
      current = &section_named(sections, stripped.substr(1, close - 1), number);
      continue;
    }
    auto delimiter = stripped.find_first_of("=:");
    if (delimiter == std::string_view::npos || delimiter == 0)
      return std::unexpected(
          Error::at(file, number, 1, "",
                    fmt::format("'{}' is neither a [section], a key = value nor a comment",
                                stripped.substr(0, 60))));
    if (current == nullptr)
      return std::unexpected(Error::at(file, number, 1, "", "a key before any [section] header"));
    std::string key(trim(stripped.substr(0, delimiter)));
    std::ranges::transform(key, key.begin(), [](unsigned char c) {
      return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    });
    auto value = trim(without_inline_comment(trim(stripped.substr(delimiter + 1))));
    // A later value of the same key replaces the earlier one (configparser, strict=False).
    if (current->entries.size() >= most_keys_per_section)
      return std::unexpected(Error::at(
          file, number, 1, "",
          fmt::format("more than {} keys in [{}]", most_keys_per_section, current->name)));
    std::erase_if(current->entries, [&](const ImportEntry& entry) { return entry.key == key; });
    current->entries.push_back({key, std::string(value), number});
    open_entry = &current->entries.back();
    open_indent = indent;
  }
  return sections;
}

std::expected<std::vector<ImportSection>, Error> read_systemd_unit(std::string_view text,
                                                                   const std::string& file) {
  auto lines = split_lines(text, file);
  if (!lines) return std::unexpected(lines.error());
  std::vector<ImportSection> sections;
  ImportSection* current = nullptr;
  std::string logical;  // a line continued with '\', so far
  int logical_start = 0;
  for (std::size_t index = 0; index < lines->size(); ++index) {
    int number = static_cast<int>(index) + 1;
    std::string_view stripped = trim((*lines)[index]);
    bool continuing = logical_start != 0;
    if (stripped.empty() && !continuing) continue;
    // Comment lines are skipped, also inside a continued line (systemd does the same).
    if (!stripped.empty() && (stripped.front() == '#' || stripped.front() == ';')) continue;
    if (!continuing) logical_start = number;
    if (!stripped.empty() && stripped.back() == '\\') {
      logical += std::string(stripped.substr(0, stripped.size() - 1)) + " ";
      if (logical.size() > max_import_line)
        return std::unexpected(
            Error::at(file, logical_start, 1, "", "a continued line longer than 64 KiB"));
      continue;
    }
    logical += stripped;
    std::string line = std::move(logical);
    logical.clear();
    int line_number = logical_start;
    logical_start = 0;
    std::string_view content = trim(line);
    if (content.empty()) continue;
    if (content.front() == '[') {
      if (content.back() != ']' || content.size() < 3)
        return std::unexpected(Error::at(file, line_number, 1, "",
                                         "a section header must be '[Name]' on a line of its own"));
      if (sections.size() >= most_sections)
        return std::unexpected(too_many_sections(file, line_number));
      current = &section_named(sections, content.substr(1, content.size() - 2), line_number);
      continue;
    }
    auto equals = content.find('=');
    if (equals == std::string_view::npos || trim(content.substr(0, equals)).empty())
      return std::unexpected(
          Error::at(file, line_number, 1, "",
                    fmt::format("'{}' is neither a [Section], a Key=Value nor a comment",
                                content.substr(0, 60))));
    if (current == nullptr)
      return std::unexpected(
          Error::at(file, line_number, 1, "", "an assignment before any [Section] header"));
    current->entries.push_back({std::string(trim(content.substr(0, equals))),
                                std::string(trim(content.substr(equals + 1))), line_number});
  }
  if (logical_start != 0)
    return std::unexpected(
        Error::at(file, logical_start, 1, "", "the line is continued with '\\' but the file ends"));
  return sections;
}

void ImportNotes::add(int line, std::string_view key, std::string_view value,
                      std::string_view why) {
  std::string shown(value.substr(0, 80));
  std::ranges::replace(shown, '\n', ' ');
  lines.push_back(fmt::format("{}:{}: {}={}: {}", file, line, key, shown, why));
}

std::string import_service_name(std::string_view text) {
  std::string name(text);
  for (char& c : name) {
    bool kept = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '@' || c == '-';
    if (!kept) c = '_';
  }
  return name;
}

}  // namespace config_detail
ARM_END_NAMESPACE
