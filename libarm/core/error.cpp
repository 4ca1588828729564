#include "arm/error.hpp"

#include <fmt/format.h>

#include <utility>

ARM_BEGIN_NAMESPACE

Error Error::system(int error_number, std::string message) {
  Error error;
  error.message = std::move(message);
  error.error_number = error_number;
  return error;
}

Error Error::at(std::string file, int line, int column, std::string key, std::string message) {
  Error error;
  error.message = std::move(message);
  error.file = std::move(file);
  error.line = line;
  error.column = column;
  error.key = std::move(key);
  return error;
}

std::string Error::to_string() const {
  std::string text = file;
  // A line without its column (a reader that knows only the line) reads FILE:LINE, not :0.
  if (line > 0) text += column > 0 ? fmt::format(":{}:{}", line, column) : fmt::format(":{}", line);
  if (!key.empty()) text += text.empty() ? key : ": " + key;
  return text.empty() ? message : fmt::format("{}: {}", text, message);
}

ARM_END_NAMESPACE
