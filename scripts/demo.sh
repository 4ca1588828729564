#!/bin/sh
# Quick start 1: install what is missing, build armd and armctl (only those), and run armd in the
# foreground on a scratch copy of examples/ (demo.toml and services/), so that the edits the demo
# suggests change the copy, never the clone. Ctrl-C stops armd and every service with it; the
# copy is removed once armd has exited.
#
# ARMD_DEMO_BIN=DIR skips the build and runs DIR/armd (the integration test does, with its own).
set -eu
cd "$(dirname "$0")/.."
if [ -n "${ARMD_DEMO_BIN:-}" ]; then
  bin="$ARMD_DEMO_BIN"
else
  ARM_TARGETS="armd armctl" scripts/build.sh
  bin=build/armd
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/armd-demo.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
# Ctrl-C reaches armd too (the terminal signals the whole foreground group) and armd stops every
# service before it exits. The shell waits for that, then removes the copy. A handler, not an
# ignored signal: armd must not inherit SIGINT ignored.
trap ':' INT
cp -R examples/demo.toml examples/services "$scratch/"
# In the scratch directory, the socket path is short enough for sun_path (108 bytes) however
# deep the clone is.
socket="$scratch/armd.sock"
cat <<MSG

armd is starting on a copy of examples/ in $scratch: clock ticks, flaky keeps failing and is
restarted with a growing backoff until it has been restarted 5 times within a minute (the default
limit), then it is failed. In another terminal, from $PWD, try:

  $bin/armctl --socket $socket status
  $bin/armctl --socket $socket start worker
  $bin/armctl --socket $socket reset flaky       # a failed flaky: try again
  $bin/armctl --socket $socket start api         # starts store first (api depends on it)
  $bin/armctl --socket $socket graph             # the dependency graph (--dot: Graphviz)
  echo "interval = 1" > $scratch/services/clock.conf   # clock restarts with the new setting
  printf '{"id":1,"method":"status"}\\n' | socat - UNIX-CONNECT:$socket
  $bin/armctl --socket $socket shutdown          # or Ctrl-C here

MSG
"$bin/armd" --config "$scratch/demo.toml" --socket "$socket"
