#!/bin/sh
# Pretends to work: `worker.sh --jobs N`.
echo "worker $WORKER_NAME: started with $*"
trap 'echo "worker: done"; exit 0' TERM
while :; do sleep 5 & wait $!; echo "worker $WORKER_NAME: still working"; done
