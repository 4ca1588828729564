// Durations as people write them (arm::human_duration), and their agreement with the parser of
// configured durations.
#include <doctest/doctest.h>

#include "arm/config.hpp"
#include "arm/types.hpp"

using namespace arm;
using namespace std::chrono_literals;

TEST_CASE("durations print in the largest unit that reads naturally") {
  CHECK(human_duration(0ms) == "0ms");
  CHECK(human_duration(250ms) == "250ms");
  CHECK(human_duration(999ms) == "999ms");
  CHECK(human_duration(1s) == "1s");
  CHECK(human_duration(1500ms) == "1.5s");
  CHECK(human_duration(60s) == "60s");
  CHECK(human_duration(90s) == "90s");
  CHECK(human_duration(2min) == "2m");
  CHECK(human_duration(150s) == "2m30s");
  CHECK(human_duration(5min + 5s) == "5m05s");
  CHECK(human_duration(1h + 2min) == "1h02m");
  CHECK(human_duration(3h) == "3h");
}

TEST_CASE("durations are truncated, never rounded up") {
  CHECK(human_duration(1999ms) == "1.9s");
  CHECK(human_duration(10999ms) == "10s");
  CHECK(human_duration(59min + 59s + 999ms) == "59m59s");
  CHECK(human_duration(1h + 59s) == "1h");
}

TEST_CASE("a negative duration keeps its sign") {
  CHECK(human_duration(-1500ms) == "-1.5s");
}

TEST_CASE("a whole number of one unit prints as a configuration writes it, and reads back") {
  for (Milliseconds value : {250ms, Milliseconds(1s), Milliseconds(5s), Milliseconds(60s),
                             Milliseconds(5min), Milliseconds(2h)}) {
    CAPTURE(value.count());
    auto parsed = parse_duration(human_duration(value));
    REQUIRE(parsed);
    CHECK(*parsed == value);
  }
}

TEST_CASE("the most negative duration prints its sign too, without overflowing") {
  // armctl prints whatever number armd's JSON holds, so every value must be safe.
  CHECK(human_duration(Milliseconds::min()) == "-2562047788015h12m");
  CHECK(human_duration(Milliseconds::max()) == "2562047788015h12m");
}
