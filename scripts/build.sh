#!/bin/sh
# Configures build/ (once) and compiles. Used by demo.sh and test.sh.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh "$@"
[ -f build/build.ninja ] || meson setup build
meson compile -C build
