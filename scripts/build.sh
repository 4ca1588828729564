#!/bin/sh
# Configures build/ (once) and compiles. Used by demo.sh and test.sh. Arguments are extra
# packages for install-deps.sh; ARM_TARGETS (meson target names, e.g. "armd armctl") compiles
# only those instead of everything.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh "$@"
[ -f build/build.ninja ] || meson setup build
# CI (.ci/run) sets ARM_WERROR=1: any compiler warning fails the build.
[ "${ARM_WERROR:-0}" = 1 ] && meson configure build -Dwerror=true
# shellcheck disable=SC2086 # the target names are words
meson compile -C build ${ARM_TARGETS:-}
