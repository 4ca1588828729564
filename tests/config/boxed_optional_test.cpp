// ServiceSpec's rarely set settings: std::optional's behaviour, and 8 bytes while unset.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "arm/boxed_optional.hpp"
#include "arm/config.hpp"

using arm::BoxedOptional;

TEST_CASE("a ServiceSpec pays a pointer, not a whole std::optional, for each setting left unset") {
  arm::ServiceSpec spec;
  CHECK(sizeof(spec.config_file) == sizeof(void*));
  CHECK(sizeof(spec.config_section) == sizeof(void*));
  CHECK(sizeof(spec.prefix) == sizeof(void*));
  CHECK(sizeof(spec.working_directory) == sizeof(void*));
  CHECK(sizeof(spec.log_file) == sizeof(void*));
  CHECK_FALSE(spec.config_file);
  CHECK(spec.log_file == std::nullopt);
}

TEST_CASE("it is set, read, compared and unset as a std::optional is") {
  BoxedOptional<std::string> path;
  CHECK_FALSE(path.has_value());
  CHECK(path.value_or("none") == "none");
  CHECK_THROWS_AS(path.value(), std::bad_optional_access);

  path = "/etc/web.conf";
  REQUIRE(path);
  CHECK(*path == "/etc/web.conf");
  CHECK(path->size() == 13);
  CHECK(path == "/etc/web.conf");
  CHECK_FALSE(path == "/etc/db.conf");
  CHECK(path != std::nullopt);

  path = std::nullopt;
  CHECK_FALSE(path);
  path.emplace("again");
  path.reset();
  CHECK(path == std::nullopt);
}

TEST_CASE("a set empty value is set: an empty prefix still overrides the global one") {
  BoxedOptional<std::vector<std::string>> prefix = std::vector<std::string>{};
  CHECK(prefix.has_value());
  CHECK(prefix != BoxedOptional<std::vector<std::string>>{});
}

TEST_CASE("copies are independent, and equal while their values are") {
  BoxedOptional<std::string> a = std::string("x");
  BoxedOptional<std::string> b = a;
  CHECK(a == b);
  *b = std::string("y");  // not a literal: GCC 12 warns falsely (-Wrestrict) on that
  CHECK(*a == "x");
  CHECK(a != b);
  BoxedOptional<std::string> unset;
  CHECK(unset == BoxedOptional<std::string>{});
  CHECK(unset != a);
}

TEST_CASE("it converts to and from std::optional, for code written against one") {
  std::optional<std::string> standard = "/srv";
  BoxedOptional<std::string> boxed = standard;
  CHECK(boxed == "/srv");
  CHECK(boxed == standard);
  std::optional<std::string> back = boxed;
  CHECK(back == standard);
  CHECK(BoxedOptional<std::string>(std::optional<std::string>{}) == std::optional<std::string>{});
}
