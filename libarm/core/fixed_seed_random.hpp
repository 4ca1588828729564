// The supervisor's own deterministic randomness (splitmix64), for hosts that inject none.
#pragma once

#include <cstdint>

#include "arm/effects.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

class FixedSeedRandom final : public Random {
 public:
  double unit() override {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t state_ = 0;
};

}  // namespace detail
ARM_END_NAMESPACE
