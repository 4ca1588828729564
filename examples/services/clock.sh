#!/bin/sh
# Usage: clock.sh -c CONFIG. Prints the time every `interval` seconds (read from CONFIG).
config=""
while [ $# -gt 0 ]; do
  case "$1" in
    -c) config="$2"; shift 2 ;;
    *) shift ;;
  esac
done
interval=$(sed -n 's/^interval *= *\([0-9][0-9]*\).*/\1/p' "$config")
interval=${interval:-3}
echo "clock: started, ticking every ${interval}s"
trap 'echo "clock: stopping"; exit 0' TERM
while :; do
  echo "clock: $(date +%T)"
  sleep "$interval" &
  wait $!
done
