#!/bin/sh
# Pretends to work: `worker.sh --jobs N`, named by $WORKER_NAME (set in demo.toml). Not a
# default service: `armctl start worker` starts it.
echo "worker ${WORKER_NAME:-?}: started with $*"
trap 'echo "worker ${WORKER_NAME:-?}: done"; exit 0' TERM
while :; do
  sleep 5 2>/dev/null  # armd signals the process group: this sleep ends with the shell
  echo "worker ${WORKER_NAME:-?}: still working"
done
