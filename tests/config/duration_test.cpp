// parse_duration: integer milliseconds, or a non-negative integer with ms, s, m or h.
#include <doctest/doctest.h>

#include "arm/config.hpp"

using namespace arm;
using namespace std::chrono_literals;

TEST_CASE("a bare integer is milliseconds") {
  CHECK(parse_duration("250") == 250ms);
  CHECK(parse_duration("0") == 0ms);
}

TEST_CASE("each unit scales the number") {
  CHECK(parse_duration("250ms") == 250ms);
  CHECK(parse_duration("5s") == 5s);
  CHECK(parse_duration("3m") == 3min);
  CHECK(parse_duration("2h") == 2h);
  CHECK(parse_duration("0s") == 0ms);
}

TEST_CASE("anything but digits and a unit is refused with the same explanation") {
  for (auto bad : {"5 sec", "", "s", "-1s", "+1s", "1.5s", "5d", "5S", " 5s", "5s ", "1h30m"}) {
    CAPTURE(bad);
    auto parsed = parse_duration(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().find("expected an integer followed by ms, s, m or h") !=
          std::string::npos);
    CHECK(parsed.error().starts_with("'" + std::string(bad) + "'"));
  }
  CHECK(parse_duration("5 sec").error().starts_with(
      "'5 sec': expected an integer followed by ms, s, m or h"));
}

TEST_CASE("durations past a century are refused as too large") {
  CHECK(parse_duration("876000h") == std::chrono::hours(876000));  // 100 years of 365 days
  for (auto huge : {"876001h", "99999999999999999999999h", "99999999999999999999"}) {
    CAPTURE(huge);
    auto parsed = parse_duration(huge);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().find("too large") != std::string::npos);
  }
}
