#!/bin/sh
# Usage: clock.sh -c CONFIG [-L DEBUG]. Prints the time every `interval` seconds, read from
# CONFIG (a line `interval = N`); armd restarts it when CONFIG changes.
config=""
while [ $# -gt 0 ]; do
  case "$1" in
    -c) config="${2:-}"; shift; [ $# -gt 0 ] && shift ;;
    *) shift ;;
  esac
done
interval=""
if [ -n "$config" ] && [ -r "$config" ]; then
  interval=$(sed -n 's/^ *interval *= *\([0-9][0-9]*\).*/\1/p' "$config" | head -n 1)
fi
[ "${interval:-0}" -gt 0 ] 2>/dev/null || interval=2
echo "clock: started, ticking every ${interval}s (config: ${config:-none})"
# armd signals the whole process group, so `sleep` gets the SIGTERM too and the trap runs at
# once. Its stderr is dropped only so that dash does not report it as "Terminated".
trap 'echo "clock: stopping"; exit 0' TERM
while :; do
  echo "clock: $(date +%T)"
  sleep "$interval" 2>/dev/null
done
