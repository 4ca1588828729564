#include "log.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace armd {

namespace {

// How stderr is written without blocking depends on what it is. O_NONBLOCK on descriptor 2
// itself is not an option: the flag belongs to the open file description, which armd shares
// with its parent and its services, and they would start getting EAGAIN.
enum class Route {
  file,          // a regular file (or a block device): writes never block
  private_open,  // a pipe, FIFO or terminal reopened through /proc as our own non-blocking
                 // description
  socket,        // journald's stream socket: send(MSG_DONTWAIT) is non-blocking per call
  polled,        // could not reopen: write at most PIPE_BUF bytes, and only when poll says so
  nowhere,       // no stderr at all
};

class LogWriter {
 public:
  LogWriter() {
    struct stat info {};
    if (::fstat(STDERR_FILENO, &info) != 0) {
      route_ = Route::nowhere;
    } else if (S_ISREG(info.st_mode) || S_ISBLK(info.st_mode)) {
      route_ = Route::file;
    } else if (S_ISSOCK(info.st_mode)) {
      route_ = Route::socket;
    } else {
      int own = ::open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (own >= 0) {
        fd_ = own;
        route_ = Route::private_open;
      } else {
        route_ = Route::polled;
      }
    }
  }

  void set_format(LogFormat format) { format_ = format; }

  void append(Level level, std::string_view service, std::string_view message) {
    std::string line = stamped(level, service, message);
    // A turn that logs more than the buffer holds (10,000 services started at once) writes
    // what waits first: a file, or a pipe with room, takes it now, and only lines stderr
    // really does not take are dropped. The write never blocks (see Route); once a line has
    // been dropped, stderr was found full, and the next lines are not tried until the loop's
    // own flush gets something out.
    if (pending_.size() + line.size() > log_buffer_bytes && dropped_ == 0) flush();
    // The note comes first, so that the log reads in order.
    if (dropped_ > 0 && !note_dropped(line.size())) {
      ++dropped_;
      return;
    }
    if (pending_.size() + line.size() > log_buffer_bytes) {
      ++dropped_;
      return;
    }
    pending_ += line;
  }

  void flush() {
    std::size_t written = 0;
    while (written < pending_.size()) {
      ssize_t done = write_some(pending_.data() + written,
                                whole_lines(pending_.data() + written, pending_.size() - written));
      if (done > 0) {
        written += static_cast<std::size_t>(done);
        continue;
      }
      if (done < 0 && errno == EINTR) continue;
      if (done < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        written = pending_.size();  // EPIPE, EBADF...: nobody will ever read these
      }
      break;
    }
    pending_.erase(0, written);
    if (pending_.empty() && pending_.capacity() > 64 * 1024) std::string().swap(pending_);
    if (dropped_ > 0 && written > 0) note_dropped(0);
  }

  int poll_fd() const {
    if (pending_.empty() || route_ == Route::nowhere) return -1;
    return fd_;
  }

  void flush_at_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      flush();
      int fd = poll_fd();
      if (fd < 0) return;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      pollfd polled{fd, POLLOUT, 0};
      ::poll(&polled, 1, static_cast<int>(left.count()));
    }
  }

 private:
  std::string stamped(Level level, std::string_view service, std::string_view message) const {
    auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    return format_log_line(format_, now, level, service, message);
  }

  // How much of `data` to write at once. A pipe (or journald's socket) is shared with the
  // services that inherit stderr: a write the pipe takes only in part leaves the rest of a line
  // for later, and another writer's bytes would land inside it (a JSON line that no longer
  // parses). Whole lines of at most PIPE_BUF bytes in all are written whole or not at all (a
  // non-blocking write of up to PIPE_BUF bytes to a pipe is atomic); a single longer line goes
  // alone. A regular file takes every write whole.
  std::size_t whole_lines(const char* data, std::size_t size) const {
    if (route_ == Route::file || size <= PIPE_BUF) return size;
    std::string_view text(data, size);
    std::size_t last = text.rfind('\n', PIPE_BUF - 1);
    if (last != std::string_view::npos) return last + 1;
    std::size_t end = text.find('\n', PIPE_BUF);
    return end == std::string_view::npos ? size : end + 1;
  }

  // Queues the line saying how many lines were lost, if it fits with `then_bytes` more after it.
  bool note_dropped(std::size_t then_bytes) {
    std::string note =
        stamped(Level::warning, {},
                fmt::format("{} log lines were dropped: stderr was not taking them", dropped_));
    if (pending_.size() + note.size() + then_bytes > log_buffer_bytes) return false;
    pending_ += note;
    dropped_ = 0;
    return true;
  }

  ssize_t write_some(const char* data, std::size_t size) {
    switch (route_) {
      case Route::file:
      case Route::private_open:
        return ::write(fd_, data, size);
      case Route::socket:
        return ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      case Route::polled: {
        pollfd polled{fd_, POLLOUT, 0};
        if (::poll(&polled, 1, 0) == 1 && (polled.revents & (POLLERR | POLLHUP | POLLNVAL))) {
          errno = EPIPE;  // its reader is gone: nothing will ever take these (no spinning)
          return -1;
        }
        if (!(polled.revents & POLLOUT)) {
          errno = EAGAIN;
          return -1;
        }
        // Writable means PIPE_BUF bytes fit at least: a write no larger cannot block.
        return ::write(fd_, data, std::min<std::size_t>(size, PIPE_BUF));
      }
      case Route::nowhere:
        break;
    }
    return static_cast<ssize_t>(size);
  }

  LogFormat format_ = LogFormat::text;
  Route route_ = Route::file;
  int fd_ = STDERR_FILENO;
  std::string pending_;
  std::size_t dropped_ = 0;  // lines lost since the last note saying so
};

LogWriter& writer() {
  static LogWriter instance;
  return instance;
}

}  // namespace

void set_log_format(LogFormat format) {
  writer().set_format(format);
}

namespace detail {
void append_log_line(Level level, std::string_view service, std::string_view message) {
  writer().append(level, service, message);
}
}  // namespace detail

void flush_log() {
  writer().flush();
}

int log_poll_fd() {
  return writer().poll_fd();
}

void flush_log_at_exit(std::chrono::milliseconds timeout) {
  writer().flush_at_exit(timeout);
}

}  // namespace armd
