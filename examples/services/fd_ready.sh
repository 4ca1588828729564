#!/bin/sh
# A service that tells armd it is ready the s6 way (readiness = "fd:3"): one newline written to
# descriptor 3 once it is ready, then that descriptor closed. Nothing else to link or call.
echo "warming up"
sleep 1
echo >&3      # ready
exec 3>&-     # armd has closed its end already: nothing more goes there
exec sleep 100000
