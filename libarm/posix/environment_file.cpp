#include "environment_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <expected>

#include "arm/posix/unique_fd.hpp"

namespace arm::posix {

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

Error file_error(const std::string& path, int error) {
  return Error::system(error, fmt::format("environment_file: {}: {}", path, std::strerror(error)));
}

// The whole file. Never blocks: a FIFO or a device is refused, not waited on.
std::expected<std::string, Error> read_whole(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return std::unexpected(file_error(path, errno));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return std::unexpected(file_error(path, errno));
  if (!S_ISREG(info.st_mode))
    return std::unexpected(
        Error::system(EINVAL, fmt::format("environment_file: {}: not a regular file", path)));
  if (static_cast<std::size_t>(info.st_size) > largest_file)
    return std::unexpected(Error::system(
        EFBIG, fmt::format("environment_file: {}: larger than {} bytes", path, largest_file)));
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::unexpected(file_error(path, errno));
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
    if (text.size() > largest_file)
      return std::unexpected(Error::system(
          EFBIG, fmt::format("environment_file: {}: larger than {} bytes", path, largest_file)));
  }
  return text;
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

}  // namespace arm::posix
