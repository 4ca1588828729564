// GNUnet's INI dialect: see gnunet_ini.hpp for the rules and where they come from.
#include "gnunet_ini.hpp"

#include <fmt/format.h>
#include <strings.h>

#include <algorithm>
#include <filesystem>

ARM_BEGIN_NAMESPACE
namespace config_detail {

namespace {

constexpr std::string_view blanks = " \t\r\n\f\v";

std::string_view trim(std::string_view text) {
  auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

// One pair of double quotes around the whole value goes, as GNUnet's deserializer does it.
std::string_view unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    return value.substr(1, value.size() - 2);
  return value;
}

// The words after a directive, split at the first run of blanks (`@INLINE-SECRET@ SEC FILE`).
std::pair<std::string_view, std::string_view> first_word(std::string_view text) {
  text = trim(text);
  auto end = text.find_first_of(blanks);
  if (end == std::string_view::npos) return {text, {}};
  return {text.substr(0, end), trim(text.substr(end))};
}

struct Parser {
  const ReadTextFile& read_file;
  IniDocument& document;
  std::vector<std::string> including;  // the files being read, outermost first (loops)
  int files_included = 0;          // in all: a file may include another many times without a loop
  std::size_t bytes_included = 0;  // their texts, in all

  int column = 1;  // of the line being read: where its first non-blank character is

  Error at(const std::string& file, int line, std::string message) const {
    return Error::at(file, line, column, "", std::move(message));
  }

  std::string resolve(const std::string& from_file, std::string_view name) const {
    std::filesystem::path path{std::string(name)};
    if (path.is_relative()) path = std::filesystem::path(from_file).parent_path() / path;
    return path.lexically_normal().string();
  }

  IniSection& section_named(std::string_view name) {
    auto found = document.sections.find(name);
    if (found == document.sections.end())
      found =
          document.sections.emplace(std::string(name), IniSection{std::string(name), {}, {}, {}})
              .first;
    return found->second;
  }

  std::expected<void, Error> include(const std::string& from_file, int line,
                                     std::string_view directive, const std::string& path,
                                     const std::string* only_section) {
    if (std::find(including.begin(), including.end(), path) != including.end())
      return std::unexpected(at(from_file, line,
                                fmt::format("{} {}: the file includes itself (an include loop: {})",
                                            directive, path, fmt::join(including, " -> "))));
    if (static_cast<int>(including.size()) > max_include_depth)
      return std::unexpected(at(from_file, line,
                                fmt::format("{} {}: includes nested deeper than {}", directive,
                                            path, max_include_depth)));
    if (++files_included > max_included_files)
      return std::unexpected(at(from_file, line,
                                fmt::format("{} {}: more than {} files included in all", directive,
                                            path, max_included_files)));
    auto text = read_file(path);
    if (!text) {
      if (only_section) {
        // GNUnet goes on without the section and refuses every lookup in it.
        IniSection& section = section_named(*only_section);
        section.inaccessible = true;
        section.inaccessible_because = fmt::format("{}:{}: {} {} {}: {}", from_file, line,
                                                   directive, *only_section, path, text.error());
        document.warnings.push_back(fmt::format("{}; section [{}] is left out",
                                                section.inaccessible_because, *only_section));
        return {};
      }
      return std::unexpected(
          at(from_file, line, fmt::format("{} {}: {}", directive, path, text.error())));
    }
    bytes_included += text->size();
    if (bytes_included > max_included_bytes)
      return std::unexpected(at(from_file, line,
                                fmt::format("{} {}: more than {} MiB included in all", directive,
                                            path, max_included_bytes >> 20)));
    return parse(*text, path, only_section);
  }

  std::expected<void, Error> parse(std::string_view text, const std::string& file,
                                   const std::string* only_section) {
    including.push_back(file);
    std::string current;  // the section's name; empty before the first header
    bool in_section = false;
    int line_number = 0;
    std::size_t skipped = 0;  // values of other sections in a secret file, left out
    while (!text.empty()) {
      ++line_number;
      auto end = text.find('\n');
      std::string_view whole = text.substr(0, end);
      column = static_cast<int>(std::min(whole.find_first_not_of(blanks), whole.size())) + 1;
      std::string_view line = trim(whole);
      text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
      // A NUL would cut the word it is in when armd passes it to execve, so the service would
      // run with other arguments than armd shows: not text, refused.
      if (whole.find('\0') != std::string_view::npos)
        return std::unexpected(at(file, line_number, "a NUL byte: a configuration is text"));
      if (line.empty() || line.front() == '#' || line.front() == '%') continue;
      if (line.front() == '[') {
        if (line.back() != ']' || line.size() < 3)
          return std::unexpected(at(file, line_number, "a section header is [NAME]"));
        current = std::string(line.substr(1, line.size() - 2));
        in_section = true;
        continue;
      }
      if (line.starts_with("@INLINE@")) {
        std::string_view name = trim(line.substr(8));
        if (name.empty())
          return std::unexpected(at(file, line_number, "@INLINE@ needs a file name"));
        auto done = include(file, line_number, "@INLINE@", resolve(file, name), only_section);
        if (!done) return done;
        continue;
      }
      if (line.starts_with("@INLINE-SECRET@")) {
        auto [section, name] = first_word(line.substr(15));
        if (section.empty() || name.empty())
          return std::unexpected(
              at(file, line_number, "@INLINE-SECRET@ needs a section and a file name"));
        std::string restricted(section);
        auto done = include(file, line_number, "@INLINE-SECRET@", resolve(file, name), &restricted);
        if (!done) return done;
        continue;
      }
      auto equals = line.find('=');
      if (equals == std::string_view::npos) {
        // A line of an @INLINE-SECRET@ file may hold a password: named by its place only.
        if (only_section)
          return std::unexpected(at(file, line_number,
                                    "this line (not shown: a secret file) is not KEY = VALUE, a "
                                    "comment (# or %) or @INLINE@"));
        return std::unexpected(
            at(file, line_number,
               fmt::format("'{}' is not [SECTION], KEY = VALUE, a comment "
                           "(# or %) or @INLINE@",
                           line.substr(0, std::min<std::size_t>(line.size(), 60)))));
      }
      std::string_view key = trim(line.substr(0, equals));
      if (key.empty())
        return std::unexpected(at(file, line_number, "a value without a key (nothing before '=')"));
      if (!in_section) {
        if (only_section)  // the key of a secret file may be the secret (base64 ends in '=')
          return std::unexpected(at(file, line_number,
                                    "a value (not shown: a secret file) is outside any section: "
                                    "put a [SECTION] header above it"));
        return std::unexpected(at(file, line_number,
                                  fmt::format("{} is outside any section: put a [SECTION] "
                                              "header above it",
                                              key)));
      }
      if (only_section && strcasecmp(only_section->c_str(), current.c_str()) != 0) {
        ++skipped;
        continue;
      }
      IniSection& section = section_named(current);
      section.values.insert_or_assign(
          std::string(key),
          IniValue{std::string(unquote(trim(line.substr(equals + 1)))), file, line_number, column});
    }
    if (skipped > 0)
      document.warnings.push_back(fmt::format(
          "{}: {} value(s) outside section [{}] ignored: an @INLINE-SECRET@ file gives only its "
          "section",
          file, skipped, *only_section));
    including.pop_back();
    return {};
  }
};

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view left, std::string_view right) const {
  return std::lexicographical_compare(
      left.begin(), left.end(), right.begin(), right.end(), [](unsigned char a, unsigned char b) {
        auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
        return lower(a) < lower(b);
      });
}

const IniSection* IniDocument::section(std::string_view name) const {
  auto found = sections.find(name);
  return found == sections.end() ? nullptr : &found->second;
}

const IniValue* IniDocument::find(std::string_view section_name, std::string_view key) const {
  const IniSection* found = section(section_name);
  if (!found || found->inaccessible) return nullptr;
  auto value = found->values.find(key);
  return value == found->values.end() ? nullptr : &value->second;
}

std::expected<void, Error> parse_gnunet_ini(std::string_view text, const std::string& file,
                                            const ReadTextFile& read_file, IniDocument& document) {
  Parser parser{read_file, document, {}};
  return parser.parse(text, file, nullptr);
}

YesNo read_yes_no(std::string_view text) {
  if (text.size() == 3 && strncasecmp(text.data(), "yes", 3) == 0) return YesNo::yes;
  if (text.size() == 2 && strncasecmp(text.data(), "no", 2) == 0) return YesNo::no;
  return YesNo::neither;
}

}  // namespace config_detail
ARM_END_NAMESPACE
