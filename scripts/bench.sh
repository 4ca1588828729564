#!/bin/sh
# The benchmark suite in one command: installs what is missing (matplotlib for the plot; the
# peers supervisord, s6 and runit, best effort: a peer that cannot be installed is skipped with
# a note), builds, and runs bench/run.py (see docs/performance.md). About 10 minutes.
#
#   scripts/bench.sh [--sizes 100,1000,10000] [--repeats 3] [--kills 30] [--idle 30]
#                    [--out build/bench-results]
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh python3-matplotlib
scripts/install-deps.sh python3-matplotlib supervisor s6 runit ||
  echo "bench: the peers could not be installed; those missing are skipped" >&2
# Debian's own interpreter: python3-matplotlib is installed for it.
exec /usr/bin/python3 bench/run.py --build build "$@"
