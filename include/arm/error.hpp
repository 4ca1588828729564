// arm::Error: the one error type of libarm's API. Every failure a caller can see (a configuration
// that does not load or check, a process that cannot be spawned, an adapter that cannot be
// created) is described by it: what went wrong, naming the thing (service, path, key), the errno
// when the OS reported one, and the place in a file when it is about a file.
#pragma once

#include "arm/abi.hpp"

#include <string>

ARM_BEGIN_NAMESPACE

/// What went wrong, where. Returned (in std::expected) by every call of libarm that can fail.
struct ARM_EXPORT Error {
  std::string message;   ///< what went wrong, naming the thing (service, path, key)
  int error_number = 0;  ///< errno value; 0 when the error is not the OS's
  /// Where, for configuration errors: 1-based line and column (0 when unknown) and the dotted
  /// key ("services.web.backoff_max"). Empty for errors that are not about a file.
  std::string file;
  int line = 0;     ///< 1-based line in `file`; 0 when unknown
  int column = 0;   ///< 1-based column in `file`; 0 when unknown
  std::string key;  ///< the dotted key ("services.web.backoff_max"); empty when not about a key

  /// An error the OS reported: "epoll_create1: Too many open files".
  static Error system(int error_number, std::string message);
  /// An error at a place in a configuration.
  static Error at(std::string file, int line, int column, std::string key, std::string message);

  /// "file:line:column: services.web.restart: expected one of always, on-failure, never"; the
  /// parts that are unknown are left out.
  std::string to_string() const;

  bool operator==(const Error&) const = default;  ///< every field equal
};

/// The names under which the API returned it before there was one type; kept so code written
/// against them compiles.
using ConfigError = Error;  ///< a configuration that does not load or check
using SpawnError = Error;   ///< a process that cannot be spawned

ARM_END_NAMESPACE
