// armd's log: one line per event on stderr, prefixed with the wall-clock time, so that an
// operator reading `journalctl` or a container log can follow what happened. Lines are
// buffered and flushed once per turn of armd's loop (flush_log), so a burst of events — a
// thousand services stopping — costs one write, not a thousand.
#pragma once

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

namespace armd {

template <typename... Args>
void log(fmt::format_string<Args...> format, Args&&... args) {
  auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  fmt::print(stderr, "{:%Y-%m-%d %H:%M:%S} armd: {}\n", now,
             fmt::format(format, std::forward<Args>(args)...));
}

// Makes stderr fully buffered; call once at start-up.
inline void buffer_log() {
  static char buffer[64 * 1024];
  std::setvbuf(stderr, buffer, _IOFBF, sizeof buffer);
}

inline void flush_log() {
  std::fflush(stderr);
}

}  // namespace armd
