// <arm/version.hpp> against the library: the macros are the headers' version, arm::version() the
// version compiled into libarm.so. This program is linked with the shared library, so it checks
// what a program built against these headers runs with.
#include "arm/version.hpp"

#include <doctest/doctest.h>

#include <string>

TEST_CASE("the library reports the version its headers carry") {
  CHECK(arm::version() == ARM_VERSION);
}

TEST_CASE("the version macros are the project's version, part by part") {
  // ARM_PROJECT_VERSION is meson.project_version(), passed by tests/packaging/meson.build.
  CHECK(std::string(ARM_VERSION) == ARM_PROJECT_VERSION);
  const std::string parts = std::to_string(ARM_VERSION_MAJOR) + "." +
                            std::to_string(ARM_VERSION_MINOR) + "." +
                            std::to_string(ARM_VERSION_PATCH);
  CHECK(parts == ARM_PROJECT_VERSION);
}
