// The one FNV-1a of libarm (libarm/core/fnv1a.hpp): the published 64-bit values, and a hash
// continued over a second text equal to the hash of both at once, which the file watcher and
// the GNUnet digest rely on.
#include <doctest/doctest.h>

#include "fnv1a.hpp"

using arm::detail::fnv1a;

TEST_CASE("fnv1a gives FNV-1a's published 64-bit values") {
  CHECK(fnv1a("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a("foobar") == 0x85944171f73967e8ULL);
}

TEST_CASE("fnv1a continued over a second text is the hash of both") {
  CHECK(fnv1a("bar", fnv1a("foo")) == fnv1a("foobar"));
  CHECK(fnv1a("bar", fnv1a("foo")) != fnv1a("foo", fnv1a("bar")));
  static_assert(fnv1a("x") != fnv1a("y"), "usable at compile time");
}
