// Reading one service's keys in the config tests: a table `[services.a]` with `binary = "/x"`
// and the keys under test, read by parse_config as the file "test.toml".
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "arm/config.hpp"

namespace arm::test {

// The service `a` that `keys` (TOML lines) configure; the test fails if they are refused.
inline ServiceSpec read_service(std::string_view keys) {
  std::string text = "[services.a]\nbinary = \"/x\"\n" + std::string(keys);
  auto config = parse_config(text, "test.toml");
  if (!config) FAIL(config.error().to_string());
  return config->services.at("a");
}

// `keys` are refused: the error is about `key`, on `line` (line 3 is the first of `keys`), and
// its message contains `words`.
inline void check_refused(std::string_view keys, std::string_view key, int line,
                          std::string_view words) {
  std::string text = "[services.a]\nbinary = \"/x\"\n" + std::string(keys);
  CAPTURE(text);
  auto config = parse_config(text, "test.toml");
  REQUIRE_FALSE(config);
  CAPTURE(config.error().to_string());
  CHECK(config.error().file == "test.toml");
  CHECK(config.error().key == key);
  CHECK(config.error().line == line);
  CHECK(config.error().message.find(words) != std::string::npos);
}

}  // namespace arm::test
