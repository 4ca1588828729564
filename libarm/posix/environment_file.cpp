#include "environment_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <expected>

#include "regular_file.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

std::string_view trimmed(std::string_view text) {
  constexpr std::string_view blanks = " \t\r";
  auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

bool is_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

// An environment file is a few lines; more than this is the wrong file.
constexpr std::size_t largest_file = 1024 * 1024;

// The whole file. Never blocks: a FIFO or a device is refused, not waited on.
std::expected<std::string, Error> read_whole(const std::string& path) {
  auto text = detail::read_regular_file(path, largest_file);
  if (text) return std::move(*text);
  switch (text.error().why) {
    case detail::FileRefusal::Why::system: {
      int error = text.error().error_number;
      return std::unexpected(Error::system(
          error, fmt::format("environment_file: {}: {}", path, std::strerror(error))));
    }
    case detail::FileRefusal::Why::not_regular:
      return std::unexpected(
          Error::system(EINVAL, fmt::format("environment_file: {}: not a regular file", path)));
    case detail::FileRefusal::Why::too_large:
      break;
  }
  return std::unexpected(Error::system(
      EFBIG, fmt::format("environment_file: {}: larger than {} bytes", path, largest_file)));
}

}  // namespace

std::expected<std::vector<std::pair<std::string, std::string>>, Error> read_environment_file(
    const std::string& path) {
  auto content = read_whole(path);
  if (!content) return std::unexpected(content.error());
  std::vector<std::pair<std::string, std::string>> variables;
  std::string_view rest = *content;
  for (int number = 1; !rest.empty(); ++number) {
    auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    std::string_view text = trimmed(line);
    if (text.empty() || text.front() == '#') continue;
    // The errors never quote a value, nor a line without '=' (a value's continuation): an
    // environment file holds secrets, and the error goes to armd's log and to armctl.
    auto equals = text.find('=');
    if (equals == std::string_view::npos)
      return std::unexpected(Error::system(
          EINVAL, fmt::format("environment_file: {}:{}: expected KEY=VALUE, found a line "
                              "without '=' (a value cannot span lines)",
                              path, number)));
    std::string_view name = trimmed(text.substr(0, equals));
    if (!is_name(name)) {
      constexpr std::size_t shown = 64;
      return std::unexpected(Error::system(
          EINVAL,
          fmt::format("environment_file: {}:{}: '{}{}' is not a variable name (letters, "
                      "digits and _, not starting with a digit)",
                      path, number, name.substr(0, shown), name.size() > shown ? "..." : "")));
    }
    std::string_view value = trimmed(text.substr(equals + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    if (value.find('\0') != std::string_view::npos)
      return std::unexpected(Error::system(
          EINVAL,
          fmt::format("environment_file: {}:{}: a NUL character in the value", path, number)));
    variables.emplace_back(std::string(name), std::string(value));
  }
  return variables;
}

}  // namespace posix
ARM_END_NAMESPACE
