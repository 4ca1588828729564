#include "file_content.hpp"

#include <algorithm>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "arm/posix/unique_fd.hpp"

ARM_BEGIN_NAMESPACE
namespace posix::detail {

namespace {

std::string_view without_leading_blanks(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

// The name of a `[name]` (or TOML `[[name]]`) header line; nullopt for any other line. Only a
// line that is nothing but a header counts: `[1, 2],` inside a multi-line array is a value.
std::optional<std::string_view> header_name(std::string_view line) {
  line = without_leading_blanks(line);
  if (line.empty() || line.front() != '[') return std::nullopt;
  bool doubled = line.starts_with("[[");
  std::string_view opening = doubled ? "[[" : "[";
  std::string_view closing = doubled ? "]]" : "]";
  auto close = line.find(closing);
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view name = line.substr(opening.size(), close - opening.size());
  std::string_view rest = without_leading_blanks(line.substr(close + closing.size()));
  bool only_a_comment_after = rest.empty() || rest.front() == '\n' || rest.front() == '\r' ||
                              rest.front() == '#' || rest.front() == ';';
  if (!only_a_comment_after || name.find_first_of("[],") != std::string_view::npos)
    return std::nullopt;
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  return name;
}

// How many more '[' than ']' a value line opens (outside quotes and comments): a multi-line
// array goes on while the sum stays above zero, and no line inside it is a header.
int bracket_balance(std::string_view line) {
  int balance = 0;
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      break;
    } else if (c == '[') {
      ++balance;
    } else if (c == ']') {
      --balance;
    }
  }
  return balance;
}

}  // namespace

std::string section_text(std::string_view text, std::string_view name) {
  std::string section;
  bool inside = false;
  int open_brackets = 0;  // of a multi-line array value
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end == std::string_view::npos ? text.size() : end + 1);
    text.remove_prefix(line.size());
    auto header = open_brackets > 0 ? std::nullopt : header_name(line);
    if (header) {
      inside = *header == name;
    } else {
      open_brackets = std::max(0, open_brackets + bracket_balance(line));
    }
    if (inside) section += line;
  }
  return section;
}

std::uint64_t Snapshot::hash(std::string_view section) const {
  std::uint64_t hash = section.empty() ? fnv1a(text) : fnv1a(section_text(text, section));
  return too_big_mark == 0 ? hash : hash ^ too_big_mark;
}

std::optional<Snapshot> read_snapshot(const std::string& path) {
  // O_NONBLOCK: a FIFO put at the path must not stall the host's loop (it is refused below).
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!file) return std::nullopt;
  struct stat info {};
  if (::fstat(file.get(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  Snapshot snapshot{{}, 0};
  std::size_t wanted = std::min<std::size_t>(static_cast<std::size_t>(info.st_size), read_limit);
  snapshot.text.resize(wanted);
  std::size_t have = 0;
  while (have < wanted) {
    ssize_t got = ::read(file.get(), snapshot.text.data() + have, wanted - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::nullopt;
    if (got == 0) break;  // shrank meanwhile: what is there is what counts
    have += static_cast<std::size_t>(got);
  }
  snapshot.text.resize(have);
  if (static_cast<std::size_t>(info.st_size) > read_limit) {
    std::string mark = std::to_string(info.st_size) + ':' + std::to_string(info.st_mtim.tv_sec) +
                       '.' + std::to_string(info.st_mtim.tv_nsec);
    snapshot.too_big_mark = fnv1a(mark) | 1;
  }
  return snapshot;
}

}  // namespace posix::detail
ARM_END_NAMESPACE
