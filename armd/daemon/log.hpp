// armd's log: one line per event on stderr, prefixed with the wall-clock time, so that an
// operator reading `journalctl` or a container log can follow what happened.
//
// Writing it never blocks armd: a log reader that stalls, or a pipe filled by a service sharing
// it, would otherwise freeze every restart and every reply. Lines go to a bounded buffer
// (log_buffer_bytes) that the poll loop writes out when stderr can take it; a line that does not
// fit is dropped and counted, and once output flows again a line says how many were lost.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <string_view>

namespace armd {

inline constexpr std::size_t log_buffer_bytes = 256 * 1024;

namespace detail {
void append_log_line(std::string_view message);
}

template <typename... Args>
void log(fmt::format_string<Args...> format, Args&&... args) {
  detail::append_log_line(fmt::format(format, std::forward<Args>(args)...));
}

// Writes what stderr takes now, without waiting. Once per loop turn, and when log_poll_fd()
// polled writable.
void flush_log();
// The descriptor to poll for POLLOUT while lines wait to be written; -1 when none wait.
int log_poll_fd();
// At exit: waits at most `timeout` for the waiting lines to be written.
void flush_log_at_exit(std::chrono::milliseconds timeout);

}  // namespace armd
