#!/bin/sh
# Quick start 1: install what is missing, build armd and armctl (only those), and run armd in the
# foreground on a scratch copy of examples/ (demo.toml and services/), so that the edits the demo
# suggests change the copy, never the clone. Ctrl-C stops armd and every service with it; the
# copy is removed within a second of armd's exit.
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
# armd replaces this shell (exec below), so Ctrl-C, `kill` of this pid and armd's exit status
# are armd's own. A watcher removes the copy once armd has exited, however it ends (even by
# SIGKILL): it polls armd's pid, which is this shell's. Started in the background, it ignores
# SIGINT; it ignores SIGHUP too, as armd (a reload) outlives a closed terminal.
watched=$$
(
  trap '' HUP
  while kill -0 "$watched" 2>/dev/null; do sleep 1; done
  rm -rf "$scratch"
) </dev/null >/dev/null 2>&1 &
cp -R examples/demo.toml examples/services "$scratch/"
# In the scratch directory, the socket path is short enough for sun_path (108 bytes) however
# deep the clone is.
socket="$scratch/armd.sock"
# The commands below are printed with their paths quoted: a clone or TMPDIR may hold spaces.
cat <<MSG

armd is starting on a copy of examples/ in $scratch: clock ticks, flaky keeps failing and is
restarted with a growing backoff until it has been restarted 5 times within a minute (the default
limit), then it is failed. In another terminal, from $PWD, try:

  '$bin/armctl' --socket '$socket' status
  '$bin/armctl' --socket '$socket' logs -f clock flaky   # what they print (Ctrl-C to stop)
  '$bin/armctl' --socket '$socket' status flaky    # with its last lines before its last exit
  '$bin/armctl' --socket '$socket' start worker
  '$bin/armctl' --socket '$socket' start flaky       # a failed flaky: try again
  '$bin/armctl' --socket '$socket' start api         # starts store first (api depends on it)
  '$bin/armctl' --socket '$socket' graph             # the dependency graph (--dot: Graphviz)
  echo "interval = 1" > '$scratch/services/clock.conf' # clock restarts with the new setting
  printf '{"id":1,"method":"status"}\\n' | socat - 'UNIX-CONNECT:$socket'
  '$bin/armctl' --socket '$socket' shutdown          # or Ctrl-C here

MSG
exec "$bin/armd" --config "$scratch/demo.toml" --socket "$socket"
