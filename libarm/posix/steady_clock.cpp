#include "arm/posix.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

TimePoint SteadyClock::now() const {
  return std::chrono::steady_clock::now();
}

}  // namespace posix
ARM_END_NAMESPACE
