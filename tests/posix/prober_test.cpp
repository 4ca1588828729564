// Health probes against real processes and real sockets: PosixProber's exec, tcp and http
// probes, what each reports, and what cancel() leaves behind (nothing).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "arm/posix/prober.hpp"
#include "arm/posix/unique_fd.hpp"

using namespace arm;
using arm::posix::PosixProber;
using arm::posix::UniqueFd;
using namespace std::chrono_literals;

namespace {

// Generous: the machine running the tests may be loaded; a result normally takes milliseconds.
constexpr auto deadline = 20s;

std::unique_ptr<PosixProber> make_prober() {
  auto made = PosixProber::create();
  REQUIRE(made);
  return std::move(*made);
}

HealthCheck exec_check(std::vector<std::string> command) {
  HealthCheck check;
  check.kind = HealthCheck::Kind::exec;
  check.command = std::move(command);
  return check;
}

HealthCheck socket_check(HealthCheck::Kind kind, std::uint16_t port, std::string path = "/") {
  HealthCheck check;
  check.kind = kind;
  check.address = ListenAddress{"127.0.0.1", port, false};
  check.http_host = "127.0.0.1:" + std::to_string(port);
  check.http_path = std::move(path);
  return check;
}

void start(PosixProber& prober, ProbeId id, const HealthCheck& check,
           const std::map<std::string, std::string>& environment = {},
           std::string_view working_directory = {}) {
  prober.start(ProbeRequest{.id = id,
                            .service = "svc",
                            .check = check,
                            .main_pid = 0,
                            .environment = environment,
                            .working_directory = working_directory});
}

// Waits on the prober's descriptor, as a host's loop does, until probe `id` reports (or
// `wait` passes). Results of other probes fail the test.
std::optional<ProbeResult> result_of(PosixProber& prober, ProbeId id,
                                     std::chrono::milliseconds wait = deadline) {
  auto until = std::chrono::steady_clock::now() + wait;
  std::optional<ProbeResult> found;
  while (!found && std::chrono::steady_clock::now() < until) {
    pollfd polled{prober.fd(), POLLIN, 0};
    ::poll(&polled, 1, 50);
    prober.collect([&](ProbeId reported, const ProbeResult& result) {
      CHECK(reported == id);
      found = result;
    });
  }
  return found;
}

std::optional<ProbeResult> run(const HealthCheck& check,
                               const std::map<std::string, std::string>& environment = {},
                               std::string_view working_directory = {}) {
  auto prober = make_prober();
  start(*prober, 1, check, environment, working_directory);
  auto result = result_of(*prober, 1);
  CHECK(prober->in_flight() == 0);
  return result;
}

// Gone, or a zombie (dead, waiting for whoever adopted it to reap it).
bool process_dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

bool eventually_dead(pid_t pid) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!process_dead(pid)) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string scratch(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("arm-prober-" + name + "-" + std::to_string(::getpid())))
      .string();
}

// The number in `path` once something has written it there.
pid_t pid_written_to(const std::string& path) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream file(path);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (text.ends_with('\n')) return std::stoi(text);
    std::this_thread::sleep_for(10ms);
  }
  FAIL("nothing written to " << path);
  return 0;
}

// A TCP socket bound to 127.0.0.1 on a port of the kernel's choosing; listening if asked.
struct LocalSocket {
  UniqueFd fd;
  std::uint16_t port = 0;
};

LocalSocket local_socket(bool listening) {
  LocalSocket made;
  made.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(made.fd);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(made.fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(made.fd.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  made.port = ntohs(address.sin_port);
  if (listening) REQUIRE(::listen(made.fd.get(), 16) == 0);
  return made;
}

// Serves one connection on another thread: reads the request up to its blank line, then
// sends `reply` (one byte at a time if asked) and closes.
class OneShotHttpServer {
 public:
  OneShotHttpServer(std::string reply, bool byte_by_byte = false)
      : listener_(local_socket(true)),
        thread_([this, reply = std::move(reply), byte_by_byte] { serve(reply, byte_by_byte); }) {}
  ~OneShotHttpServer() { thread_.join(); }
  std::uint16_t port() const { return listener_.port; }
  // What the client sent (read once the thread is done: after the probe's result).
  const std::string& request() const { return request_; }

 private:
  void serve(const std::string& reply, bool byte_by_byte) {
    pollfd polled{listener_.fd.get(), POLLIN, 0};
    if (::poll(&polled, 1, 20'000) != 1) return;
    UniqueFd connection(::accept4(listener_.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    char bytes[1024];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      ssize_t got = ::recv(connection.get(), bytes, sizeof bytes, 0);
      if (got <= 0) return;
      request_.append(bytes, static_cast<std::size_t>(got));
    }
    if (byte_by_byte) {
      for (char c : reply) {
        ::send(connection.get(), &c, 1, MSG_NOSIGNAL);
        std::this_thread::sleep_for(2ms);
      }
    } else {
      ::send(connection.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
    }
  }

  LocalSocket listener_;
  std::string request_;
  std::thread thread_;
};

}  // namespace

TEST_SUITE("prober: exec") {
  TEST_CASE("a command that exits 0 is healthy") {
    auto result = run(exec_check({"true"}));
    REQUIRE(result);
    CHECK(result->healthy);
    CHECK(result->detail == "exit code 0");
  }

  TEST_CASE("a command that exits 1 is unhealthy, with the first line of its output") {
    auto result = run(exec_check({"sh", "-c", "echo 'not ready yet'; echo second >&2; exit 1"}));
    REQUIRE(result);
    CHECK_FALSE(result->healthy);
    CHECK(result->detail == "exit code 1: not ready yet");
  }

  TEST_CASE("a command killed by a signal is unhealthy, naming the signal") {
    auto result = run(exec_check({"sh", "-c", "kill -9 $$"}));
    REQUIRE(result);
    CHECK_FALSE(result->healthy);
    CHECK(result->detail == "killed by signal 9");
  }

  TEST_CASE("a command that cannot run is an unhealthy result naming it") {
    auto result = run(exec_check({"/nonexistent/probe-program"}));
    REQUIRE(result);
    CHECK_FALSE(result->healthy);
    CHECK(result->detail == "cannot run /nonexistent/probe-program: No such file or directory");
  }

  TEST_CASE("a command runs with the service's environment and working directory") {
    auto result = run(exec_check({"sh", "-c", "test \"$PROBE_VAR\" = yes && test \"$(pwd)\" = /"}),
                      {{"PROBE_VAR", "yes"}}, "/");
    REQUIRE(result);
    CHECK(result->healthy);
  }

  TEST_CASE("a command does not get the host's own sd_notify variables, as a service does not") {
    ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
    ::setenv("WATCHDOG_USEC", "30000000", 1);
    auto result =
        run(exec_check({"sh", "-c",
                        "test -z \"$NOTIFY_SOCKET$WATCHDOG_USEC\" || echo \"$NOTIFY_SOCKET\"; "
                        "test -z \"$NOTIFY_SOCKET$WATCHDOG_USEC\""}));
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    REQUIRE(result);
    CHECK(result->detail == "exit code 0");
    CHECK(result->healthy);
  }

  TEST_CASE("output beyond what is kept is read and dropped, so a chatty probe never blocks") {
    auto result = run(exec_check({"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' y; exit 3"}));
    REQUIRE(result);
    CHECK_FALSE(result->healthy);
    CHECK(result->detail.starts_with("exit code 3: yyyy"));
    CHECK(result->detail.size() < 300);
  }

  TEST_CASE("what a probe leaves running in its process group is killed when it ends") {
    auto result = run(exec_check({"sh", "-c", "sleep 60 & echo $!"}));
    REQUIRE(result);
    CHECK(result->healthy);
    REQUIRE(result->detail.starts_with("exit code 0: "));
    pid_t left = std::stoi(result->detail.substr(13));
    CHECK(eventually_dead(left));
  }

  TEST_CASE("cancel kills a probe and its child, reaps it, and reports nothing") {
    std::string pids = scratch("cancel");
    std::filesystem::remove(pids);
    auto prober = make_prober();
    start(*prober, 7,
          exec_check({"sh", "-c",
                      "sleep 60 & echo $! > " + pids + ".child; echo $$ > " + pids + "; wait"}));
    pid_t probe = pid_written_to(pids);
    pid_t child = pid_written_to(pids + ".child");
    CHECK(prober->owns_process(probe));
    prober->cancel(7);
    // The probe's zombie is reaped by collect() once its pidfd says it died.
    auto until = std::chrono::steady_clock::now() + deadline;
    while (prober->in_flight() != 0 && std::chrono::steady_clock::now() < until) {
      pollfd polled{prober->fd(), POLLIN, 0};
      ::poll(&polled, 1, 50);
      prober->collect([](ProbeId, const ProbeResult&) { FAIL("a cancelled probe reported"); });
    }
    CHECK(prober->in_flight() == 0);
    CHECK_FALSE(prober->owns_process(probe));
    CHECK(::kill(probe, 0) != 0);  // reaped: no zombie of ours
    CHECK(eventually_dead(child));
    std::filesystem::remove(pids);
    std::filesystem::remove(pids + ".child");
  }
}

TEST_SUITE("prober: tcp") {
  TEST_CASE("a listener that accepts is healthy") {
    auto listener = local_socket(true);
    auto result = run(socket_check(HealthCheck::Kind::tcp, listener.port));
    REQUIRE(result);
    CHECK(result->healthy);
    CHECK(result->detail == "connected");
  }

  TEST_CASE("out of descriptors, a probe is not run, and says so without counting as failed") {
    auto prober = make_prober();
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    // No descriptor left for this process: the lowest free one is at or past the new limit.
    int lowest_free = ::fcntl(0, F_DUPFD, 0);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit tight{static_cast<rlim_t>(lowest_free), saved.rlim_max};
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    HealthCheck tcp = socket_check(HealthCheck::Kind::tcp, 9);
    HealthCheck exec = exec_check({"true"});
    start(*prober, 1, tcp);
    start(*prober, 2, exec);
    ::setrlimit(RLIMIT_NOFILE, &saved);
    std::map<ProbeId, ProbeResult> results;
    auto until = std::chrono::steady_clock::now() + deadline;
    while (results.size() < 2 && std::chrono::steady_clock::now() < until) {
      pollfd polled{prober->fd(), POLLIN, 0};
      ::poll(&polled, 1, 50);
      prober->collect([&](ProbeId id, const ProbeResult& result) { results[id] = result; });
    }
    REQUIRE(results.size() == 2);
    CHECK_FALSE(results[1].ran);
    CHECK(results[1].detail == "socket: Too many open files");
    CHECK_FALSE(results[2].ran);
    CHECK(results[2].detail == "cannot run true: pipe: Too many open files");
  }

  TEST_CASE("a port nobody listens on is unhealthy: connection refused") {
    auto bound = local_socket(false);  // bound, so no one else takes the port meanwhile
    auto result = run(socket_check(HealthCheck::Kind::tcp, bound.port));
    REQUIRE(result);
    CHECK_FALSE(result->healthy);
    CHECK(result->detail == "Connection refused");
  }

  TEST_CASE("an IPv6 listener on ::1 is healthy") {
    UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      MESSAGE("no IPv6 loopback here: skipped");
      return;
    }
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
    REQUIRE(::listen(fd.get(), 4) == 0);
    HealthCheck check = socket_check(HealthCheck::Kind::tcp, ntohs(address.sin6_port));
    check.address = ListenAddress{"::1", ntohs(address.sin6_port), true};
    auto result = run(check);
    REQUIRE(result);
    CHECK(result->healthy);
  }
}

TEST_SUITE("prober: http") {
  TEST_CASE("a 200 is healthy, and the request is a plain GET with Host and Connection: close") {
    OneShotHttpServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    auto result = run(socket_check(HealthCheck::Kind::http, server.port(), "/healthz"));
    REQUIRE(result);
    CHECK(result->healthy);
    CHECK(result->detail == "HTTP 200 OK");
    CHECK(server.request() ==
          "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
              "\r\nUser-Agent: armd\r\nConnection: close\r\n\r\n");
  }

  TEST_CASE("a 503 is unhealthy, with its status line") {
    OneShotHttpServer server("HTTP/1.1 503 Service Unavailable\r\n\r\n");
    auto result = run(socket_check(HealthCheck::Kind::http, server.port()));
    REQUIRE(result);
    CHECK_FALSE(result->healthy);
    CHECK(result->detail == "HTTP 503 Service Unavailable");
  }

  TEST_CASE("a reply sent one byte at a time is read whole") {
    OneShotHttpServer server("HTTP/1.0 204 No Content\r\n\r\n", true);
    auto result = run(socket_check(HealthCheck::Kind::http, server.port()));
    REQUIRE(result);
    CHECK(result->healthy);
    CHECK(result->detail == "HTTP 204 No Content");
  }

  TEST_CASE("something that is not HTTP is unhealthy") {
    OneShotHttpServer server("SSH-2.0-OpenSSH_9.2\r\n");
    auto result = run(socket_check(HealthCheck::Kind::http, server.port()));
    REQUIRE(result);
    CHECK_FALSE(result->healthy);
    CHECK(result->detail == "not an HTTP response");
  }

  TEST_CASE("a connection closed without a reply is unhealthy") {
    OneShotHttpServer server("");
    auto result = run(socket_check(HealthCheck::Kind::http, server.port()));
    REQUIRE(result);
    CHECK_FALSE(result->healthy);
    CHECK(result->detail == "connection closed before a response");
  }

  TEST_CASE("a listener that accepts and never answers: no result; cancel closes the connection") {
    auto listener = local_socket(true);
    auto prober = make_prober();
    start(*prober, 3, socket_check(HealthCheck::Kind::http, listener.port));
    pollfd incoming{listener.fd.get(), POLLIN, 0};
    REQUIRE(::poll(&incoming, 1, 20'000) == 1);
    UniqueFd connection(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(connection);
    CHECK_FALSE(result_of(*prober, 3, 300ms));  // the core's timeout is what ends it
    prober->cancel(3);
    CHECK(prober->in_flight() == 0);
    // The request, then the end of the connection.
    std::string seen;
    char bytes[1024];
    for (;;) {
      pollfd readable{connection.get(), POLLIN, 0};
      REQUIRE(::poll(&readable, 1, 20'000) == 1);
      ssize_t got = ::recv(connection.get(), bytes, sizeof bytes, 0);
      if (got <= 0) break;
      seen.append(bytes, static_cast<std::size_t>(got));
    }
    CHECK(seen.starts_with("GET / HTTP/1.1\r\n"));
  }
}
