// PosixListeners: which service holds which open socket, and the epoll set that watches them.
#include "arm/posix/listeners.hpp"

#include <sys/epoll.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "listen_bind.hpp"

ARM_BEGIN_NAMESPACE
namespace posix {

struct ARM_HIDDEN PosixListeners::Impl {
  struct Socket {
    ListenSocket address;
    BoundSocket bound;
    SocketOptions options;  // applied to it now: what a refused hold() puts back
    std::uint64_t id = 0;   // the epoll key
    bool armed = false;     // in the epoll set, for a watch of its holder
  };
  UniqueFd epoll;
  std::map<std::string, Socket> sockets;  // by address text
  std::unordered_map<std::uint64_t, std::string> by_id;
  std::map<std::string, std::vector<std::string>, std::less<>> held;  // service -> addresses
  std::set<std::string, std::less<>> watched;
  std::uint64_t next_id = 1;

  void arm(Socket& socket, bool on) {
    if (socket.armed == on) return;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = socket.id;
    // (A failure leaves the socket unwatched: its service is not started on demand, but the
    // clients still wait in its backlog, and a start by request serves them.)
    if (::epoll_ctl(epoll.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, socket.bound.fd.get(),
                    &event) == 0 ||
        !on)
      socket.armed = on;
  }

  void arm_service(std::string_view service, bool on) {
    auto found = held.find(service);
    if (found == held.end()) return;
    for (const auto& text : found->second) arm(sockets.at(text), on);
  }

  // Whether a watched service other than `except` holds the socket `text` (for a moment, during
  // a reload that moves it, two services hold one socket).
  bool watched_elsewhere(const std::string& text, std::string_view except) const {
    for (const auto& service : watched) {
      if (service == except) continue;
      auto found = held.find(service);
      if (found != held.end() && std::ranges::find(found->second, text) != found->second.end())
        return true;
    }
    return false;
  }

  // `service`'s sockets leave the epoll set, but for those another watched service holds.
  void disarm_service(std::string_view service) {
    auto found = held.find(service);
    if (found == held.end()) return;
    for (const auto& text : found->second) {
      if (!watched_elsewhere(text, service)) arm(sockets.at(text), false);
    }
  }

  bool held_by_anyone(const std::string& text) const {
    return std::ranges::any_of(held, [&](const auto& holder) {
      return std::ranges::find(holder.second, text) != holder.second.end();
    });
  }
};

PosixListeners::PosixListeners(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::expected<std::unique_ptr<PosixListeners>, Error> PosixListeners::create() {
  auto impl = std::make_unique<Impl>();
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll)
    return std::unexpected(
        Error::system(errno, fmt::format("epoll_create1: {}", std::strerror(errno))));
  return std::unique_ptr<PosixListeners>(new PosixListeners(std::move(impl)));
}

PosixListeners::~PosixListeners() {
  for (auto& [text, socket] : impl_->sockets) close_socket(socket.bound);
}

int PosixListeners::fd() const {
  return impl_->epoll.get();
}

void PosixListeners::for_each_socket(
    const std::function<void(const std::string&, int)>& visit) const {
  for (const auto& [text, socket] : impl_->sockets) visit(text, socket.bound.fd.get());
}

std::expected<void, Error> PosixListeners::adopt(std::string_view address, UniqueFd fd) {
  auto& impl = *impl_;
  auto parsed = parse_listen_socket(address);
  if (!parsed)
    return std::unexpected(
        Error::system(EINVAL, fmt::format("socket {}: {}", address, parsed.error())));
  std::string text = to_string(*parsed);
  if (impl.sockets.contains(text))
    return std::unexpected(Error::system(EEXIST, fmt::format("socket {} is open already", text)));
  BoundSocket bound;
  bound.fd = std::move(fd);
  if (parsed->kind == ListenSocket::Kind::unix_stream && !parsed->path.starts_with('@')) {
    // Its file is removed with it only while it is still the one bound: the one there now.
    struct stat info {};
    if (::lstat(parsed->path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) {
      bound.device = info.st_dev;
      bound.inode = info.st_ino;
      bound.path = parsed->path;
    }
  }
  // Its options are whatever the previous host set; the hold() that follows retunes them.
  Impl::Socket socket{*parsed, std::move(bound), SocketOptions{}, impl.next_id++, false};
  impl.by_id.emplace(socket.id, text);
  impl.sockets.emplace(std::move(text), std::move(socket));
  return {};
}

std::size_t PosixListeners::open_count() const {
  return impl_->sockets.size();
}

std::expected<void, Error> PosixListeners::hold(std::string_view service, const ServiceSpec& spec) {
  auto& impl = *impl_;
  SocketOptions options{spec.listen_backlog, spec.listen_mode, spec.listen_owner.value_or(""),
                        spec.listen_nonblocking};
  std::vector<std::string> texts;
  std::vector<std::string> opened;   // by this call: closed again on an error
  std::vector<std::string> retuned;  // by this call: their options put back on an error
  auto refuse = [&](std::size_t index, const std::string& why) {
    for (const auto& text : retuned) {
      auto& socket = impl.sockets.at(text);
      (void)retune_socket(socket.address, socket.bound, socket.options);
    }
    for (const auto& text : opened) {
      close_socket(impl.sockets.at(text).bound);
      impl.by_id.erase(impl.sockets.at(text).id);
      impl.sockets.erase(text);
    }
    return std::unexpected(Error::at("", 0, 0,
                                     fmt::format("services.{}.listen[{}]", service, index),
                                     fmt::format("cannot listen on {}: {}", texts[index], why)));
  };
  for (std::size_t i = 0; i < spec.listen.size(); ++i) {
    const ListenSocket& address = spec.listen[i];
    texts.push_back(to_string(address));
    auto existing = impl.sockets.find(texts.back());
    if (existing != impl.sockets.end()) {
      retuned.push_back(texts.back());  // before: a retune that fails halfway is put back too
      if (auto done = retune_socket(address, existing->second.bound, options); !done)
        return refuse(i, done.error());
      continue;
    }
    auto bound = bind_socket(address, options);
    if (!bound) return refuse(i, bound.error());
    Impl::Socket socket{address, std::move(*bound), options, impl.next_id++, false};
    impl.by_id.emplace(socket.id, texts.back());
    impl.sockets.emplace(texts.back(), std::move(socket));
    opened.push_back(texts.back());
  }
  for (const auto& text : retuned) impl.sockets.at(text).options = options;
  bool watching = impl.watched.contains(service);
  if (watching) impl.disarm_service(service);
  if (texts.empty()) {
    drop(service);
  } else {
    impl.held[std::string(service)] = std::move(texts);
    if (watching) impl.arm_service(service, true);
  }
  return {};
}

void PosixListeners::drop(std::string_view service) {
  auto& impl = *impl_;
  impl.disarm_service(service);
  if (auto found = impl.watched.find(service); found != impl.watched.end())
    impl.watched.erase(found);
  if (auto found = impl.held.find(service); found != impl.held.end()) impl.held.erase(found);
}

void PosixListeners::release_unheld() {
  auto& impl = *impl_;
  for (auto it = impl.sockets.begin(); it != impl.sockets.end();) {
    if (impl.held_by_anyone(it->first)) {
      ++it;
      continue;
    }
    impl.arm(it->second, false);
    close_socket(it->second.bound);
    impl.by_id.erase(it->second.id);
    it = impl.sockets.erase(it);
  }
}

void PosixListeners::descriptors(std::string_view service, std::vector<int>& out) const {
  out.clear();
  auto found = impl_->held.find(service);
  if (found == impl_->held.end()) return;
  for (const auto& text : found->second) out.push_back(impl_->sockets.at(text).bound.fd.get());
}

void PosixListeners::watch(std::string_view service) {
  impl_->watched.emplace(service);
  impl_->arm_service(service, true);
}

void PosixListeners::unwatch(std::string_view service) {
  auto& impl = *impl_;
  impl.disarm_service(service);
  if (auto found = impl.watched.find(service); found != impl.watched.end())
    impl.watched.erase(found);
}

std::size_t PosixListeners::collect(const std::function<void(std::string_view)>& on_activity) {
  auto& impl = *impl_;
  epoll_event events[64];
  int ready = ::epoll_wait(impl.epoll.get(), events, 64, 0);
  if (ready <= 0) return 0;
  // The services first, then the reports: a callback may change the sets being read.
  std::vector<std::string> services;
  for (int i = 0; i < ready; ++i) {
    auto id = impl.by_id.find(events[i].data.u64);
    if (id == impl.by_id.end()) continue;
    // Only the watched services (those listening, or in an idle period), not every holder.
    for (const auto& service : impl.watched) {
      auto held = impl.held.find(service);
      if (held == impl.held.end()) continue;
      const auto& texts = held->second;
      if (std::ranges::find(texts, id->second) == texts.end()) continue;
      if (std::ranges::find(services, service) == services.end()) services.push_back(service);
    }
  }
  for (const auto& service : services) {
    // Reported once: the watch ends before the report, so the callback may watch again.
    unwatch(service);
    on_activity(service);
  }
  return services.size();
}

}  // namespace posix
ARM_END_NAMESPACE
