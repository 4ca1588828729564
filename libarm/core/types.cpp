#include "arm/types.hpp"

#include <fmt/format.h>

ARM_BEGIN_NAMESPACE

std::string describe(const ExitStatus& status) {
  if (status.kind == ExitStatus::Kind::signaled) return fmt::format("signal {}", status.value);
  return fmt::format("exit code {}", status.value);
}

ARM_END_NAMESPACE
