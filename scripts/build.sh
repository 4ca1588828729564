#!/bin/sh
# Configures build/ (once) and compiles. Used by demo.sh and test.sh.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh "$@"
[ -f build/build.ninja ] || meson setup build
# CI (.ci/run) sets ARM_WERROR=1: any compiler warning fails the build.
[ "${ARM_WERROR:-0}" = 1 ] && meson configure build -Dwerror=true
meson compile -C build
