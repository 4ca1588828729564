#!/bin/sh
# Runs for a few seconds, then fails: armd restarts it after a growing backoff (demo.toml).
echo "flaky: up (pid $$)"
sleep 3 2>/dev/null  # stderr dropped so that a stop is not reported as "Terminated"
echo "flaky: failing with status 1"
exit 1
