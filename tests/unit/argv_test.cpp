#include <doctest/doctest.h>

#include "arm/config.hpp"
#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using arm::compose_argv;
using Argv = std::vector<std::string>;

TEST_CASE("argv is binary, -c config, -L DEBUG, then options, as in the original ARM") {
  auto spec = arm::testing::service("web");
  spec.config_file = "/etc/web.conf";
  spec.debug = true;
  spec.options = {"--port", "80"};
  CHECK(compose_argv(spec, {}) ==
        Argv{"/usr/bin/web", "-c", "/etc/web.conf", "-L", "DEBUG", "--port", "80"});
}

TEST_CASE("the global prefix comes first, and a service's own prefix replaces it") {
  arm::ArmSettings arm;
  arm.global_prefix = {"valgrind", "-q"};
  auto spec = arm::testing::service("web");
  CHECK(compose_argv(spec, arm) == Argv{"valgrind", "-q", "/usr/bin/web"});
  spec.prefix = Argv{"strace", "-f"};
  CHECK(compose_argv(spec, arm) == Argv{"strace", "-f", "/usr/bin/web"});
  spec.prefix = Argv{};  // an empty prefix of its own turns the global one off
  CHECK(compose_argv(spec, arm) == Argv{"/usr/bin/web"});
}
