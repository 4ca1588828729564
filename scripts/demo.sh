#!/bin/sh
# Quick start 1: install what is missing, build, and run armd on examples/demo.toml in the
# foreground (Ctrl-C stops it, and every service with it).
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
socket="$PWD/build/demo.sock"
# A Unix socket path must fit in sun_path (108 bytes); a deeply nested clone falls back to /tmp.
if [ "${#socket}" -ge 100 ]; then
  socket="$(mktemp -d /tmp/armd-demo.XXXXXX)/armd.sock"
fi
cat <<MSG

armd is starting on examples/demo.toml: clock ticks, flaky keeps failing and is restarted
with a growing backoff. In another terminal, from $PWD, try:

  build/armd/armctl --socket $socket status
  build/armd/armctl --socket $socket logs -f clock flaky   # what they print (Ctrl-C to stop)
  build/armd/armctl --socket $socket status flaky    # with its last lines before its last exit
  build/armd/armctl --socket $socket start worker
  build/armd/armctl --socket $socket stop flaky
  build/armd/armctl --socket $socket start api       # starts store first (api depends on it)
  build/armd/armctl --socket $socket graph           # the dependency graph (--dot: Graphviz)
  echo "interval = 1" > examples/services/clock.conf   # clock restarts with the new setting
  printf '{"id":1,"method":"status"}\\n' | socat - UNIX-CONNECT:$socket
  build/armd/armctl --socket $socket shutdown          # or Ctrl-C here

MSG
exec build/armd/armd --config examples/demo.toml --socket "$socket"
