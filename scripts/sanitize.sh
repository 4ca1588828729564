#!/bin/sh
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (leaks included):
# any report fails the run.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbuildtype=debug
[ "${ARM_WERROR:-0}" = 1 ] && meson configure build-asan -Dwerror=true
meson compile -C build-asan
# The sanitizers make the code several times slower: every test's timeout is 4x its own, so a
# unit suite that takes 20-26 s here is not held to the plain build's 30 s.
ARM_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --timeout-multiplier 4
