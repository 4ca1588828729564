#!/bin/sh
# Quick start 2: install what is missing, build, and run the whole test suite (unit,
# simulation, fuzz corpora, POSIX adapters, and armd/armctl against real processes). Exits with
# meson test's status. Extra arguments go to meson test (e.g. `--suite long`, a test's name).
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
exec meson test -C build --print-errorlogs "$@"
