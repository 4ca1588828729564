// PosixListeners with real sockets (issue 14), and what PosixSpawner gives a process of them:
// descriptors 3.., LISTEN_FDS, LISTEN_PID (its own pid), LISTEN_FDNAMES.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "../config/temporary_directory.hpp"
#include "arm/posix.hpp"
#include "arm/posix/listeners.hpp"

using namespace arm;
using arm::posix::PosixListeners;

namespace {

[[maybe_unused]] const bool tagged = [] {
  return ::setenv("ARMD_TEST_TAG", "posix-tests", 1) == 0;
}();

std::unique_ptr<PosixListeners> make_listeners() {
  auto listeners = PosixListeners::create();
  REQUIRE(listeners);
  return std::move(*listeners);
}

// A service holding `sockets`; port 0 binds a free port (the loader would refuse it; code may).
ServiceSpec holding(std::vector<ListenSocket> sockets) {
  ServiceSpec spec;
  spec.name = "web";
  spec.binary = "/bin/true";
  spec.listen = std::move(sockets);
  return spec;
}

ListenSocket any_tcp_port() {
  ListenSocket socket;
  socket.address = {"127.0.0.1", 0, false};
  return socket;
}

ListenSocket unix_at(const std::string& path) {
  ListenSocket socket;
  socket.kind = ListenSocket::Kind::unix_stream;
  socket.path = path;
  return socket;
}

int port_of(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  return ntohs(address.sin_port);
}

bool connect_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

// Reports of `listeners` within `milliseconds`.
std::vector<std::string> reports(PosixListeners& listeners, int milliseconds = 5000) {
  std::vector<std::string> services;
  pollfd fd{listeners.fd(), POLLIN, 0};
  if (::poll(&fd, 1, milliseconds) > 0)
    listeners.collect([&](std::string_view service) { services.emplace_back(service); });
  return services;
}

}  // namespace

TEST_CASE("a held socket listens, keeps its descriptor when held again, and closes once unheld") {
  auto listeners = make_listeners();
  REQUIRE(listeners->hold("web", holding({any_tcp_port()})));
  std::vector<int> fds;
  listeners->descriptors("web", fds);
  REQUIRE(fds.size() == 1);
  int port = port_of(fds[0]);
  CHECK(connect_tcp(port));  // accepted by the kernel into the backlog: nobody accept()s
  listeners->drop("web");
  CHECK(listeners->open_count() == 1);  // dropped, not yet released
  listeners->release_unheld();
  CHECK(listeners->open_count() == 0);
  CHECK_FALSE(connect_tcp(port));
}

TEST_CASE("an address in use is an error naming the service's key and the socket") {
  auto listeners = make_listeners();
  REQUIRE(listeners->hold("a", holding({any_tcp_port()})));
  std::vector<int> fds;
  listeners->descriptors("a", fds);
  ListenSocket taken;
  taken.address = {"127.0.0.1", static_cast<std::uint16_t>(port_of(fds[0])), false};
  // Another holder of the same address shares the socket (a reload moving it); a second
  // PosixListeners (another armd) cannot bind it.
  auto other = make_listeners();
  auto refused = other->hold("b", holding({any_tcp_port(), taken}));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().key == "services.b.listen[1]");
  CHECK(refused.error().message.find("Address already in use") != std::string::npos);
  CHECK(other->open_count() == 0);  // the first socket it opened was closed again
}

TEST_CASE("a unix socket gets its mode; a stale file is replaced, a live one or a file refused") {
  TemporaryDirectory directory;
  std::string path = (directory.path() / "sub/web.sock").string();
  auto listeners = make_listeners();
  ServiceSpec spec = holding({unix_at(path)});
  spec.listen_mode = 0660;
  REQUIRE(listeners->hold("web", spec));
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK(S_ISSOCK(info.st_mode));
  CHECK((info.st_mode & 07777) == 0660);
  auto rival = make_listeners();
  auto live = rival->hold("other", holding({unix_at(path)}));
  REQUIRE_FALSE(live);
  CHECK(live.error().message.find("in use") != std::string::npos);
  listeners.reset();  // closing removes the file
  CHECK_FALSE(std::filesystem::exists(path));

  // A socket file nobody listens on (left by a process that died) is replaced.
  int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, path.c_str());
  REQUIRE(::bind(stale, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  ::close(stale);
  CHECK(rival->hold("other", holding({unix_at(path)})));
  rival.reset();

  std::ofstream(path) << "not a socket";
  auto third = make_listeners();
  auto file = third->hold("web", holding({unix_at(path)}));
  REQUIRE_FALSE(file);
  CHECK(file.error().message.find("not a socket") != std::string::npos);
  CHECK(std::filesystem::exists(path));  // never removed
}

TEST_CASE("a watch reports a client once; unwatched, nothing is reported") {
  auto listeners = make_listeners();
  REQUIRE(listeners->hold("web", holding({any_tcp_port()})));
  std::vector<int> fds;
  listeners->descriptors("web", fds);
  int port = port_of(fds[0]);
  REQUIRE(connect_tcp(port));
  CHECK(reports(*listeners, 100).empty());  // not watched
  listeners->watch("web");
  CHECK(reports(*listeners) == std::vector<std::string>{"web"});  // the waiting client, at once
  CHECK(reports(*listeners, 100).empty());                        // once per watch
  listeners->watch("web");
  listeners->unwatch("web");
  CHECK(reports(*listeners, 100).empty());
}

TEST_CASE("a spawned process gets the sockets as 3.. with LISTEN_FDS, its own LISTEN_PID, names") {
  TemporaryDirectory directory;
  auto listeners = make_listeners();
  REQUIRE(listeners->hold("web",
                          holding({any_tcp_port(), unix_at((directory.path() / "s").string())})));
  auto spawner = arm::posix::PosixSpawner::create();
  REQUIRE(spawner);
  SpawnRequest request;
  request.service = "web";
  std::string out = (directory.path() / "out").string();
  request.argv = {"/bin/sh", "-c",
                  "echo \"$LISTEN_FDS $LISTEN_PID $$ $LISTEN_FDNAMES\"; "
                  "readlink /proc/$$/fd/3 /proc/$$/fd/4; test -e /proc/$$/fd/5 || echo no-5"};
  request.standard_output = {OutputTarget::Kind::file, out};
  listeners->descriptors("web", request.listen_fds);
  auto pid = (*spawner)->spawn(request);
  REQUIRE(pid);
  for (int waited = 0; waited < 30'000; waited += 10) {
    pollfd fd{(*spawner)->exit_fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    bool done = false;
    (*spawner)->collect_exits([&](ProcessId, ExitStatus) { done = true; });
    if (done) break;
  }
  std::ifstream file(out);
  std::string count, listen_pid, own_pid, names;
  file >> count >> listen_pid >> own_pid >> names;
  CHECK(count == "2");
  CHECK(listen_pid == own_pid);
  CHECK(names == "web:web");
  std::string fd3, fd4, rest;
  file >> fd3 >> fd4 >> rest;
  CHECK(fd3.starts_with("socket:"));
  CHECK(fd4.starts_with("socket:"));
  CHECK(rest == "no-5");
}

TEST_CASE("listen_nonblocking sets O_NONBLOCK on the socket, and a reload clears it again") {
  auto listeners = make_listeners();
  ServiceSpec spec = holding({any_tcp_port()});
  REQUIRE(listeners->hold("web", spec));
  std::vector<int> fds;
  listeners->descriptors("web", fds);
  CHECK((::fcntl(fds[0], F_GETFL) & O_NONBLOCK) == 0);  // blocking, as systemd passes them
  spec.listen_nonblocking = true;
  REQUIRE(listeners->hold("web", spec));
  CHECK((::fcntl(fds[0], F_GETFL) & O_NONBLOCK) != 0);
  spec.listen_nonblocking = false;
  REQUIRE(listeners->hold("web", spec));
  CHECK((::fcntl(fds[0], F_GETFL) & O_NONBLOCK) == 0);
}

TEST_CASE("a socket a reload moves to another watched service stays watched for it") {
  // Three free ports, found by binding and closing (nothing else here takes them meanwhile).
  auto port_socket = [] {
    auto probe = make_listeners();
    REQUIRE(probe->hold("probe", holding({any_tcp_port()})));
    std::vector<int> fds;
    probe->descriptors("probe", fds);
    ListenSocket socket;
    socket.address = {"127.0.0.1", static_cast<std::uint16_t>(port_of(fds[0])), false};
    return socket;
  };
  ListenSocket moved = port_socket(), kept = port_socket(), other = port_socket();
  auto listeners = make_listeners();
  REQUIRE(listeners->hold("web", holding({moved, kept})));
  REQUIRE(listeners->hold("api", holding({other})));
  listeners->watch("web");
  listeners->watch("api");
  // The reload's order: api takes the socket, then web lets it go.
  REQUIRE(listeners->hold("api", holding({other, moved})));
  REQUIRE(listeners->hold("web", holding({kept})));
  REQUIRE(connect_tcp(moved.address.port));
  auto reported = reports(*listeners);
  CHECK(std::ranges::find(reported, "api") != reported.end());
}
