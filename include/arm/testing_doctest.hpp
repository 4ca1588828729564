// For tests written with doctest: libarm's enums print as their names in failure messages
// ("stopping == running", not "4 == 3"). doctest 2.4 prints every enum as its underlying number
// unless a toString overload is found by argument-dependent lookup; these are those overloads.
// Include after <doctest/doctest.h>.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "arm/supervisor.hpp"

ARM_BEGIN_NAMESPACE

/// doctest prints a ServiceState as its name.
inline doctest::String toString(ServiceState state) {
  return std::string(to_string(state)).c_str();
}

/// doctest prints an Outcome as its name.
inline doctest::String toString(Outcome outcome) {
  return std::string(to_string(outcome)).c_str();
}

/// doctest prints a HealthState as its name.
inline doctest::String toString(HealthState state) {
  return std::string(to_string(state)).c_str();
}

ARM_END_NAMESPACE
