#include "arm/posix.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

SystemRandom::SystemRandom() : generator_(std::random_device{}()) {}  // getrandom(2)

double SystemRandom::unit() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator_);
}

}  // namespace posix
ARM_END_NAMESPACE
