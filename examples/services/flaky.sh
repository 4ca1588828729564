#!/bin/sh
# Runs for a few seconds, then fails: armd restarts it with a growing backoff.
echo "flaky: up (pid $$)"
sleep 3
echo "flaky: failing with status 1"
exit 1
