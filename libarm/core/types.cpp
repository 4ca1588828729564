#include "arm/types.hpp"

#include <fmt/format.h>

namespace arm {

std::string describe(const ExitStatus& status) {
  if (status.kind == ExitStatus::Kind::signaled) return fmt::format("signal {}", status.value);
  return fmt::format("exit code {}", status.value);
}

}  // namespace arm
