// PosixProber: one epoll set over every probe's descriptors, the results it found, cancel.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include <fmt/format.h>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "prober_impl.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

std::uint64_t key_of(ProbeId id, ProbeRole role) {
  return (id << 2) | static_cast<std::uint64_t>(role);
}

// Events handled per collect(): a host with many probes ending at once still gets its turn.
constexpr int events_per_call = 64;

}  // namespace

std::string detail_line(std::string_view text) {
  constexpr std::size_t most = 200;
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  std::string line;
  for (unsigned char c : text.substr(0, most))
    line += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : (c == '\t' ? ' ' : '?');
  return line;
}

std::string error_text(int error) {
  return std::strerror(error);
}

void PosixProber::Impl::watch(int fd, ProbeId id, ProbeRole role, std::uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = key_of(id, role);
  ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &event);
}

void PosixProber::Impl::rewatch(int fd, ProbeId id, ProbeRole role, std::uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = key_of(id, role);
  ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, fd, &event);
}

void PosixProber::Impl::unwatch(int fd) {
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void PosixProber::Impl::not_run(ProbeId id, std::string detail) {
  report(id, false, std::move(detail));
  pending.back().second.ran = false;
}

void PosixProber::Impl::report(ProbeId id, bool healthy, std::string detail) {
  pending.emplace_back(id, ProbeResult{healthy, std::move(detail)});
  std::uint64_t one = 1;
  [[maybe_unused]] auto ignored = ::write(wake.get(), &one, sizeof one);
}

std::expected<std::unique_ptr<PosixProber>, Error> PosixProber::create(
    std::optional<SpawnerOptions::DescriptorLimit> child_nofile) {
  auto impl = std::make_unique<Impl>();
  if (child_nofile)
    impl->child_nofile =
        rlimit{static_cast<rlim_t>(child_nofile->soft), static_cast<rlim_t>(child_nofile->hard)};
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll)
    return std::unexpected(
        Error::system(errno, fmt::format("prober: epoll_create1: {}", error_text(errno))));
  impl->wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->wake)
    return std::unexpected(
        Error::system(errno, fmt::format("prober: eventfd: {}", error_text(errno))));
  impl->watch(impl->wake.get(), 0, ProbeRole::wake, EPOLLIN);
  return std::unique_ptr<PosixProber>(new PosixProber(std::move(impl)));
}

PosixProber::PosixProber(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PosixProber::~PosixProber() {
  end_all();
}

int PosixProber::fd() const {
  return impl_->epoll.get();
}

std::size_t PosixProber::collect(const OnResult& on_result) {
  std::uint64_t count;
  [[maybe_unused]] auto ignored = ::read(impl_->wake.get(), &count, sizeof count);
  epoll_event events[events_per_call];
  int ready;
  do {
    ready = ::epoll_wait(impl_->epoll.get(), events, events_per_call, 0);
  } while (ready < 0 && errno == EINTR);
  for (int i = 0; i < ready; ++i) {
    ProbeId id = events[i].data.u64 >> 2;
    switch (static_cast<ProbeRole>(events[i].data.u64 & 3)) {
      case ProbeRole::exit:
        impl_->on_exec_exit(id);
        break;
      case ProbeRole::output:
        impl_->on_exec_output(id);
        break;
      case ProbeRole::connection:
        impl_->on_socket_event(id);
        break;
      case ProbeRole::wake:
        break;
    }
  }
  // Taken out first: the callback may start probes whose results are queued for next time.
  auto results = std::move(impl_->pending);
  impl_->pending.clear();
  for (const auto& [id, result] : results) on_result(id, result);
  return results.size();
}

void PosixProber::start(const ProbeRequest& request) {
  switch (request.check.kind) {
    case HealthCheck::Kind::exec:
      impl_->start_exec(request);
      break;
    case HealthCheck::Kind::tcp:
    case HealthCheck::Kind::http:
      impl_->start_socket(request);
      break;
  }
}

void PosixProber::cancel(ProbeId id) {
  std::erase_if(impl_->pending, [id](const auto& entry) { return entry.first == id; });
  if (auto found = impl_->sockets.find(id); found != impl_->sockets.end()) {
    impl_->unwatch(found->second.socket.get());
    impl_->sockets.erase(found);
  }
  if (auto found = impl_->execs.find(id); found != impl_->execs.end())
    impl_->cancel_exec(found->second);
}

void PosixProber::end_all() {
  for (auto& [id, probe] : impl_->execs) {
    if (!probe.cancelled) ::kill(-probe.pid, SIGKILL);
    siginfo_t info{};
    // A SIGKILLed process dies at once (unless stuck in the kernel): no zombie is left.
    ::waitid(P_PIDFD, static_cast<id_t>(probe.pidfd.get()), &info, WEXITED);
  }
  impl_->execs.clear();
  impl_->exec_pids.clear();
  for (auto& [id, probe] : impl_->sockets) impl_->unwatch(probe.socket.get());
  impl_->sockets.clear();
  impl_->pending.clear();
}

bool PosixProber::owns_process(ProcessId pid) const {
  return impl_->exec_pids.contains(pid);
}

std::size_t PosixProber::in_flight() const {
  return impl_->execs.size() + impl_->sockets.size() + impl_->pending.size();
}

}  // namespace posix
ARM_END_NAMESPACE
