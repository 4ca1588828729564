// OutputPipes: services' stdout/stderr pipes in one epoll set, read without blocking.
#include "arm/posix/output_pipes.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <unordered_map>

namespace arm::posix {

namespace {
struct Pipe {
  ProcessId pid;
  std::string service;
  OutputStream stream;
  UniqueFd fd;
};
}  // namespace

struct OutputPipes::Impl {
  UniqueFd epoll;
  std::uint64_t next_key = 1;
  std::unordered_map<std::uint64_t, Pipe> pipes;  // by epoll key
  std::unordered_multimap<ProcessId, std::uint64_t> keys_of;
  std::unordered_map<ProcessId, std::string> service_of;  // until drain(), even once ended
  std::string buffer = std::string(read_per_call, '\0');

  enum class Read { more, nothing_now, ended };
  // One read; the bytes go to `on_output`.
  Read read_once(Pipe& pipe, const OnOutput& on_output, std::size_t most);
  void close(std::uint64_t key, const OnOutput& on_output);
};

OutputPipes::Impl::Read OutputPipes::Impl::read_once(Pipe& pipe, const OnOutput& on_output,
                                                     std::size_t most) {
  for (;;) {
    ssize_t got = ::read(pipe.fd.get(), buffer.data(), std::min(most, buffer.size()));
    if (got > 0) {
      on_output(OutputChunk{pipe.pid, pipe.service, pipe.stream,
                            std::string_view(buffer.data(), static_cast<std::size_t>(got)), false});
      return Read::more;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Read::nothing_now;
    return Read::ended;  // end of file, or an error that will not go away
  }
}

void OutputPipes::Impl::close(std::uint64_t key, const OnOutput& on_output) {
  auto found = pipes.find(key);
  if (found == pipes.end()) return;
  Pipe pipe = std::move(found->second);
  pipes.erase(found);
  auto [begin, end] = keys_of.equal_range(pipe.pid);
  for (auto it = begin; it != end; ++it) {
    if (it->second == key) {
      keys_of.erase(it);
      break;
    }
  }
  // Closing takes it out of the epoll set.
  pipe.fd.reset();
  on_output(OutputChunk{pipe.pid, pipe.service, pipe.stream, {}, true});
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
  return impl_->pipes.size();
}

std::expected<void, Error> OutputPipes::add(ProcessId pid, std::string service, OutputStream stream,
                                            UniqueFd read_end) {
  int flags = ::fcntl(read_end.get(), F_GETFL);
  if (flags < 0 || ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    return std::unexpected(Error::system(errno, fmt::format("fcntl: {}", std::strerror(errno))));
  std::uint64_t key = impl_->next_key++;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = key;
  if (::epoll_ctl(impl_->epoll.get(), EPOLL_CTL_ADD, read_end.get(), &event) != 0)
    return std::unexpected(
        Error::system(errno, fmt::format("epoll_ctl: {}", std::strerror(errno))));
  impl_->pipes.emplace(key, Pipe{pid, std::move(service), stream, std::move(read_end)});
  impl_->keys_of.emplace(pid, key);
  impl_->service_of.insert_or_assign(pid, impl_->pipes.at(key).service);
  return {};
}

std::size_t OutputPipes::collect(const OnOutput& on_output) {
  constexpr int batch = 64;
  epoll_event events[batch];
  int ready = ::epoll_wait(impl_->epoll.get(), events, batch, 0);
  std::size_t reads = 0;
  for (int i = 0; i < ready; ++i) {
    auto found = impl_->pipes.find(events[i].data.u64);
    if (found == impl_->pipes.end()) continue;
    ++reads;
    // EPOLLHUP with bytes still in the pipe: they come first, the end at a later read.
    if (impl_->read_once(found->second, on_output, read_per_call) == Impl::Read::ended)
      impl_->close(events[i].data.u64, on_output);
  }
  return reads;
}

std::string OutputPipes::drain(ProcessId pid, const OnOutput& on_output, std::size_t most_bytes) {
  std::vector<std::uint64_t> keys;
  auto [begin, end] = impl_->keys_of.equal_range(pid);
  for (auto it = begin; it != end; ++it) keys.push_back(it->second);
  for (std::uint64_t key : keys) {
    Pipe& pipe = impl_->pipes.at(key);
    std::size_t read = 0;
    while (read < most_bytes &&
           impl_->read_once(pipe, on_output, std::min(read_per_call, most_bytes - read)) ==
               Impl::Read::more) {
      read += read_per_call;  // an upper bound of what one read took
    }
    impl_->close(key, on_output);
  }
  auto service = impl_->service_of.extract(pid);
  return service ? std::move(service.mapped()) : std::string();
}

}  // namespace arm::posix
