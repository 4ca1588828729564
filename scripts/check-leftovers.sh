#!/bin/sh
# Fails when the test suite left something running: a process carrying the tests' tag
# (ARMD_TEST_TAG, which the integration harness gives armd and so every service it starts, and
# the POSIX tests give their children), or a cgroup that the tests' armds (their sockets are all
# named armd-test.sock) or the POSIX tests made. CI (.ci/run) runs it after each suite, when
# nothing else runs tests; it kills and removes what it finds, so one bad run does not poison
# the next.
set -u
found=0
for environ in /proc/[0-9]*/environ; do
  pid=${environ#/proc/}
  pid=${pid%/environ}
  [ "$pid" = "$$" ] && continue
  if { tr '\0' '\n' < "$environ"; } 2>/dev/null | grep -q '^ARMD_TEST_TAG='; then
    echo "left running: pid $pid: $(tr '\0' ' ' < /proc/"$pid"/cmdline 2>/dev/null)"
    kill -9 "$pid" 2>/dev/null
    found=1
  fi
done
cgroup_root=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
if [ -n "$cgroup_root" ]; then
  own=$(sed -n 's/^0:://p' /proc/self/cgroup)
  [ "$own" = "/" ] && own=""
  for directory in "$cgroup_root$own"/armd.armd-test.sock.* "$cgroup_root$own"/arm-posix-*; do
    [ -d "$directory" ] || continue
    echo "left behind: cgroup $directory"
    found=1
    for child in "$directory"/*/; do
      [ -d "$child" ] || continue
      echo 1 > "$child/cgroup.kill" 2>/dev/null
      for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$child" 2>/dev/null && break; sleep 0.2; done
    done
    rmdir "$directory" 2>/dev/null
  done
fi
if [ "$found" = 1 ]; then
  echo "check-leftovers: the test suite left the above behind" >&2
  exit 1
fi
echo "check-leftovers: nothing left running"
