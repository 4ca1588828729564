#!/bin/sh
# libarm built with clang 16 and libc++ 16 and its own test suites run (issue 16, item 7): the
# library (core, config, output, posix, shared and static) and the doctest suites that need no
# armd. Any build error, warning-as-error (ARM_WERROR=1) or test failure fails the run.
#
# Why libc++ and header-only fmt/toml++: see scripts/clang16-libcxx.ini. Not built here: armd
# and armctl, their tests, the examples and the benchmarks (docs/embedding.md, "Requirements",
# says why); the consumer tests (they build libarm again with the default compiler, GCC).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh clang-16 libc++-16-dev libc++abi-16-dev

[ -f build-clang/build.ninja ] || meson setup --native-file scripts/clang16-libcxx.ini \
  -Darmd=disabled -Dexamples=disabled -Dbench=disabled build-clang
[ "${ARM_WERROR:-0}" = 1 ] && meson configure build-clang -Dwerror=true
meson compile -C build-clang
# By name: the default setup would add the consumer tests (see above).
meson test -C build-clang --no-rebuild --print-errorlogs \
  supervisor output simulation config posix version exported-symbols expected-missing
