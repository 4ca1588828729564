// OutputPipes: services' stdout/stderr pipes in one epoll set, read without blocking.
#include "arm/posix/output_pipes.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {
// A process's captured streams, kept together: one map node and one copy of the service's name
// per process (a node per pipe, each with its own name, cost a few hundred bytes per service).
struct Process {
  std::string service;
  UniqueFd fds[2];     // by OutputStream; closed at the end of the stream
  bool grown[2] = {};  // asked for a bigger pipe already
};

// A pipe that gives half of its default size (64 KiB) or more at one read is busy, and is asked
// to hold this much: a service writing fast then fills it while armd works, and each wakeup
// carries more than a default pipe's worth (a full default pipe rarely gives all 64 KiB: the
// writer's chunks do not fill its pages exactly). Only busy pipes grow (a thousand quiet services
// keep the default, and the user's pipe quota); the kernel refuses past /proc/sys/fs/pipe-max-size
// (1 MiB by default) or the quota, and then the pipe stays as it was.
constexpr int grown_pipe_size = 1024 * 1024;
constexpr std::size_t busy_read = 32 * 1024;

constexpr std::size_t index_of(OutputStream stream) {
  return stream == OutputStream::standard_output ? 0 : 1;
}
constexpr OutputStream stream_at(std::size_t index) {
  return index == 0 ? OutputStream::standard_output : OutputStream::standard_error;
}
// The epoll key of a pipe: its process and its stream.
std::uint64_t key_of(ProcessId pid, std::size_t index) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 1) | index;
}
}  // namespace

struct ARM_HIDDEN OutputPipes::Impl {
  UniqueFd epoll;
  std::unordered_map<ProcessId, Process> processes;  // until drain(), even once both ended
  std::size_t open = 0;                              // pipes not yet at their end
  std::set<std::string, std::less<>> paused;  // services whose pipes are out of the epoll set
  // Keys of the pipes asked to grow already: only busy ones, so a flag in every Process (8
  // bytes more per service, with the padding) is not paid by the quiet thousands.
  std::unordered_set<std::uint64_t> grown;
  // Not touched until a read fills it: armd with quiet services does not pay for it.
  std::unique_ptr<char[]> buffer{new char[read_per_call]};

  // Puts `pid`'s stream `index` in the epoll set (EPOLL_CTL_ADD) or takes it out (DEL).
  int watch(int operation, ProcessId pid, const Process& process, std::size_t index);

  enum class Read { more, nothing_now, ended };
  // One read of `pid`'s stream `index`; the bytes go to `on_output`.
  Read read_once(ProcessId pid, Process& process, std::size_t index, const OnOutput& on_output,
                 std::size_t most, std::size_t* got_bytes = nullptr);
  void close(ProcessId pid, Process& process, std::size_t index, const OnOutput& on_output);
};

OutputPipes::Impl::Read OutputPipes::Impl::read_once(ProcessId pid, Process& process,
                                                     std::size_t index, const OnOutput& on_output,
                                                     std::size_t most, std::size_t* got_bytes) {
  for (;;) {
    ssize_t got = ::read(process.fds[index].get(), buffer.get(), std::min(most, read_per_call));
    if (got > 0) {
      if (got_bytes) *got_bytes = static_cast<std::size_t>(got);
      if (static_cast<std::size_t>(got) >= busy_read && grown.insert(key_of(pid, index)).second)
        ::fcntl(process.fds[index].get(), F_SETPIPE_SZ, grown_pipe_size);  // a refusal is fine
      on_output(OutputChunk{pid, process.service, stream_at(index),
                            std::string_view(buffer.get(), static_cast<std::size_t>(got)), false});
      return Read::more;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Read::nothing_now;
    return Read::ended;  // end of file, or an error that will not go away
  }
}

void OutputPipes::Impl::close(ProcessId pid, Process& process, std::size_t index,
                              const OnOutput& on_output) {
  if (!process.fds[index]) return;
  process.fds[index].reset();  // closing takes it out of the epoll set
  grown.erase(key_of(pid, index));
  --open;
  on_output(OutputChunk{pid, process.service, stream_at(index), {}, true});
}

int OutputPipes::Impl::watch(int operation, ProcessId pid, const Process& process,
                             std::size_t index) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = key_of(pid, index);
  return ::epoll_ctl(epoll.get(), operation, process.fds[index].get(), &event);
}

std::expected<std::unique_ptr<OutputPipes>, Error> OutputPipes::create() {
  auto impl = std::make_unique<Impl>();
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll)
    return std::unexpected(
        Error::system(errno, fmt::format("epoll_create1: {}", std::strerror(errno))));
  return std::unique_ptr<OutputPipes>(new OutputPipes(std::move(impl)));
}

OutputPipes::OutputPipes(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutputPipes::~OutputPipes() = default;

int OutputPipes::fd() const {
  return impl_->epoll.get();
}

std::size_t OutputPipes::open_pipes() const {
  return impl_->open;
}

std::expected<void, Error> OutputPipes::add(ProcessId pid, std::string service, OutputStream stream,
                                            UniqueFd read_end) {
  // Already so when handed over by a previous host (a live re-exec): one syscall less each.
  int flags = ::fcntl(read_end.get(), F_GETFL);
  if (flags < 0 ||
      ((flags & O_NONBLOCK) == 0 && ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0))
    return std::unexpected(Error::system(errno, fmt::format("fcntl: {}", std::strerror(errno))));
  std::size_t index = index_of(stream);
  bool paused = impl_->paused.contains(service);
  if (!paused) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = key_of(pid, index);
    if (::epoll_ctl(impl_->epoll.get(), EPOLL_CTL_ADD, read_end.get(), &event) != 0)
      return std::unexpected(
          Error::system(errno, fmt::format("epoll_ctl: {}", std::strerror(errno))));
  }
  Process& process = impl_->processes[pid];
  if (process.service != service) process.service = std::move(service);
  if (process.fds[index]) --impl_->open;  // replaced (a number reused before drain): not leaked
  process.fds[index] = std::move(read_end);
  impl_->grown.erase(key_of(pid, index));
  ++impl_->open;
  return {};
}

void OutputPipes::for_each_open_pipe(
    const std::function<void(ProcessId, const std::string&, OutputStream, int)>& visit) const {
  for (const auto& [pid, process] : impl_->processes)
    for (std::size_t index = 0; index < 2; ++index)
      if (process.fds[index])
        visit(pid, process.service, stream_at(index), process.fds[index].get());
}

// Out of the epoll set rather than watched for nothing: a pipe at its end would still report
// EPOLLHUP, and the host's poll would spin on it.
void OutputPipes::pause(const std::string& service) {
  if (!impl_->paused.insert(service).second) return;
  for (auto& [pid, process] : impl_->processes) {
    if (process.service != service) continue;
    for (std::size_t index = 0; index < 2; ++index)
      if (process.fds[index]) impl_->watch(EPOLL_CTL_DEL, pid, process, index);
  }
}

void OutputPipes::resume(const std::string& service) {
  if (impl_->paused.erase(service) == 0) return;
  for (auto& [pid, process] : impl_->processes) {
    if (process.service != service) continue;
    for (std::size_t index = 0; index < 2; ++index)
      if (process.fds[index]) impl_->watch(EPOLL_CTL_ADD, pid, process, index);
  }
}

std::size_t OutputPipes::collect(const OnOutput& on_output) {
  constexpr int batch = 64;
  epoll_event events[batch];
  int ready = ::epoll_wait(impl_->epoll.get(), events, batch, 0);
  std::size_t reads = 0;
  for (int i = 0; i < ready; ++i) {
    auto pid = static_cast<ProcessId>(events[i].data.u64 >> 1);
    std::size_t index = events[i].data.u64 & 1;
    auto found = impl_->processes.find(pid);
    if (found == impl_->processes.end() || !found->second.fds[index]) continue;
    // A pipe that filled the buffer likely holds more (a busy pipe is 1 MiB): it is read
    // again, up to reads_per_collect times, rather than once per turn of the host's loop (each
    // turn is an epoll_wait and a poll more per 64 KiB). The budget keeps one chatty service
    // from starving the others. EPOLLHUP with bytes still in the pipe: they come first, the
    // end at a later read.
    for (std::size_t turn = 0; turn < reads_per_collect; ++turn) {
      ++reads;
      std::size_t got = 0;
      Impl::Read read = impl_->read_once(pid, found->second, index, on_output, read_per_call, &got);
      if (read == Impl::Read::ended) impl_->close(pid, found->second, index, on_output);
      if (read != Impl::Read::more || got < read_per_call) break;
    }
  }
  return reads;
}

std::string OutputPipes::drain(ProcessId pid, const OnOutput& on_output, std::size_t most_bytes) {
  auto found = impl_->processes.find(pid);
  if (found == impl_->processes.end()) return {};
  Process& process = found->second;
  for (std::size_t index = 0; index < 2; ++index) {
    if (!process.fds[index]) continue;
    std::size_t read = 0;
    while (read < most_bytes &&
           impl_->read_once(pid, process, index, on_output,
                            std::min(read_per_call, most_bytes - read)) == Impl::Read::more) {
      read += read_per_call;  // an upper bound of what one read took
    }
    impl_->close(pid, process, index, on_output);
  }
  std::string service = std::move(process.service);
  impl_->processes.erase(found);
  return service;
}

}  // namespace posix
ARM_END_NAMESPACE
