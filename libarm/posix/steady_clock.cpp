#include "arm/posix.hpp"

namespace arm::posix {

TimePoint SteadyClock::now() const {
  return std::chrono::steady_clock::now();
}

}  // namespace arm::posix
