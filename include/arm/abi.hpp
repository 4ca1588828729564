// What every public header includes first: the check that the compiler and standard library are
// C++23 enough, the inline namespace that versions libarm's ABI, and the export macro.
//
// ABI policy (docs/embedding.md): there is no ABI stability before 1.0. The shared library's
// soname is libarm.so.0 for every 0.x release, and its symbols live in arm::v0 (this header's
// inline namespace), so a program built against one 0.x release must be rebuilt for the next.
// From 1.0 on, the soname's number (and this namespace) changes with every incompatible change.
#pragma once

#if __has_include(<version>)
#include <version>
#endif
#if !defined(__cpp_lib_expected) || __cpp_lib_expected < 202202L
// The flag is in pkg-config's --cflags for libarm and in libarm's meson dependency.
#error "libarm needs C++23's std::expected: compile with -std=c++2b (GCC 12, clang 16 + libc++)"
#endif

// The ABI's inline namespace: arm::ServiceSupervisor is arm::v0::ServiceSupervisor to the
// linker. Code writes arm::..., never arm::v0::....
#define ARM_BEGIN_NAMESPACE \
  namespace arm {           \
  inline namespace v0 {
#define ARM_END_NAMESPACE \
  }                       \
  }

// libarm is compiled with -fvisibility=hidden -fvisibility-inlines-hidden: only what is marked
// ARM_EXPORT (the public API in include/arm) is visible outside libarm.so.
// ARM_HIDDEN is for the implementation's classes nested in exported ones (the Impl of a pimpl),
// which would otherwise take the exported class's visibility.
#if defined(__GNUC__) || defined(__clang__)
#define ARM_EXPORT __attribute__((visibility("default")))
#define ARM_HIDDEN __attribute__((visibility("hidden")))
#else
#define ARM_EXPORT
#define ARM_HIDDEN
#endif
