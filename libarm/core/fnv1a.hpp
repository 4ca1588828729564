// FNV-1a, 64 bits: how libarm tells texts apart where nothing is secret and speed matters more
// than strength: a watched file's content (libarm/posix) and a GNUnet service's configuration
// digest (libarm/config). One definition, so the two can never hash the same text differently.
#pragma once

#include <cstdint>
#include <string_view>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

inline constexpr std::uint64_t fnv1a_offset_basis = 0xcbf29ce484222325ULL;

// `hash` continued over `bytes`: fnv1a(b, fnv1a(a)) == fnv1a(a + b).
constexpr std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = fnv1a_offset_basis) {
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace detail
ARM_END_NAMESPACE
