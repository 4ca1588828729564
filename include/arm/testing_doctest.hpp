// For tests written with doctest: libarm's enums print as their names in failure messages
// ("stopping == running", not "4 == 3"). doctest 2.4 prints every enum as its underlying number
// unless a toString overload is found by argument-dependent lookup; these are those overloads.
// Include after <doctest/doctest.h>.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "arm/supervisor.hpp"

ARM_BEGIN_NAMESPACE

inline doctest::String toString(ServiceState state) {
  return std::string(to_string(state)).c_str();
}

inline doctest::String toString(Outcome outcome) {
  return std::string(to_string(outcome)).c_str();
}

inline doctest::String toString(HealthState state) {
  return std::string(to_string(state)).c_str();
}

ARM_END_NAMESPACE
