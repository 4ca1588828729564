// armd's log: one line per event on stderr, with the wall-clock time, a level and the service
// it is about (log_line.hpp says how a line looks, as text or JSON), so that an operator reading
// `journalctl` or a container log, or a log shipper, can follow what happened.
//
// Writing it never blocks armd: a log reader that stalls, or a pipe filled by a service sharing
// it, would otherwise freeze every restart and every reply. Lines go to a bounded buffer
// (log_buffer_bytes) that the poll loop writes out when stderr can take it. A line that does not
// fit has the buffer written first (without waiting: a file takes it all); only if it still does
// not fit is it dropped and counted, and once output flows again a line says how many were lost.
// The loop writes what waits before each time it waits (daemon.cpp), so a line is out before the
// next event it could be confused with.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <string_view>

#include "log_line.hpp"

namespace armd {

inline constexpr std::size_t log_buffer_bytes = 256 * 1024;

// Text unless told otherwise (--log-format); set once, before the first line.
void set_log_format(LogFormat format);

namespace detail {
void append_log_line(Level level, std::string_view service, std::string_view message);
}

// A line about armd itself (listening, a signal, a client).
template <typename... Args>
void log(Level level, fmt::format_string<Args...> format, Args&&... args) {
  detail::append_log_line(level, {}, fmt::format(format, std::forward<Args>(args)...));
}

// A line about one service: its name is a field of its own, not part of the message.
template <typename... Args>
void log_service(Level level, std::string_view service, fmt::format_string<Args...> format,
                 Args&&... args) {
  detail::append_log_line(level, service, fmt::format(format, std::forward<Args>(args)...));
}

// Writes what stderr takes now, without waiting. Once per loop turn, and when log_poll_fd()
// polled writable.
void flush_log();
// The descriptor to poll for POLLOUT while lines wait to be written; -1 when none wait.
int log_poll_fd();
// At exit: waits at most `timeout` for the waiting lines to be written.
void flush_log_at_exit(std::chrono::milliseconds timeout);

}  // namespace armd
