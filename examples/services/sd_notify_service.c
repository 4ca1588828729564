/* A service that speaks the sd_notify protocol through libsystemd, as services written for
 * systemd's Type=notify do; under armd, run it with readiness = "notify" (examples/readiness.toml).
 *
 * It "warms up" for a second, says READY=1 with a STATUS= line, then feeds the watchdog (when
 * armd gave it one: watchdog = "...", which sd_watchdog_enabled() finds in $WATCHDOG_USEC) at
 * half its interval, and updates its STATUS= every few seconds.
 *
 *   sd_notify_service [REPORT-FILE [FEEDS]]
 * REPORT-FILE: written once ready, one line saying what libsystemd reported:
 *   "notify=R watchdog=W usec=U" (R: sd_notify()'s result, > 0 once sent; W: sd_watchdog_enabled()'s,
 *   > 0 with a watchdog; U: its interval in microseconds).
 * FEEDS: stop feeding the watchdog after this many keep-alives (to see armd abort it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

int main(int argc, char** argv) {
  const char* report = argc > 1 ? argv[1] : NULL;
  long feeds = argc > 2 ? atol(argv[2]) : -1;
  sleep(1); /* opening ports, loading data... */

  uint64_t usec = 0;
  int watchdog = sd_watchdog_enabled(0, &usec);
  int notified = sd_notify(0, "READY=1\nSTATUS=warmed up, serving");
  if (report) {
    FILE* file = fopen(report, "w");
    if (file) {
      fprintf(file, "notify=%d watchdog=%d usec=%llu\n", notified, watchdog,
              (unsigned long long)usec);
      fclose(file);
    }
  }
  for (unsigned long round = 1;; ++round) {
    if (watchdog > 0 && feeds != 0) {
      usleep((useconds_t)(usec / 2));
      sd_notify(0, "WATCHDOG=1");
      if (feeds > 0) --feeds;
    } else {
      sleep(5);
    }
    if (round % 10 == 0) sd_notifyf(0, "STATUS=serving, round %lu", round);
  }
}
