#!/bin/sh
# The benchmark suite in one command: installs what is missing (matplotlib for the plot),
# builds, and runs bench/run.py (armd against the floor; see docs/performance.md).
#
#   scripts/bench.sh [--sizes 100,1000] [--kills 30] [--idle 30] [--out build/bench-results]
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh python3-matplotlib
# Debian's own interpreter: python3-matplotlib is installed for it.
exec /usr/bin/python3 bench/run.py --build build "$@"
