#!/bin/sh
# Quick start 2: install what is missing, build, and run the whole test suite (unit,
# simulation, fuzz corpora, POSIX adapters, and armd/armctl against real processes).
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
meson test -C build --print-errorlogs
