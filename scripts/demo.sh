#!/bin/sh
# Quick start 1: install what is missing, build, and run armd on examples/demo.toml in the
# foreground (Ctrl-C stops it, and every service with it).
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
socket="$PWD/build/demo.sock"
cat <<MSG

armd is starting on examples/demo.toml. In another terminal, try:

  build/armd/armctl --socket $socket status
  build/armd/armctl --socket $socket start worker
  build/armd/armctl --socket $socket stop flaky
  echo "interval = 1" > examples/services/clock.conf   # clock restarts on its own
  build/armd/armctl --socket $socket shutdown

MSG
exec build/armd/armd --config examples/demo.toml --socket "$socket"
