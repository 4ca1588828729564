// Readiness from real processes: the sd_notify parser, NotifySocket, and what the spawner gives
// a service to tell it is ready ($NOTIFY_SOCKET, the fd:N pipe, $WATCHDOG_USEC).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <vector>

#include "arm/posix.hpp"
#include "arm/posix/notify_socket.hpp"
#include "arm/posix/output_pipes.hpp"

using namespace arm;
using arm::posix::NotifyMessage;
using arm::posix::NotifySocket;
using arm::posix::parse_notification;
using arm::posix::PosixSpawner;

namespace {

[[maybe_unused]] const bool tagged = [] {
  return ::setenv("ARMD_TEST_TAG", "posix-tests", 1) == 0;
}();

std::string scratch(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("arm-notify-" + name + "-" + std::to_string(::getpid())))
      .string();
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::unique_ptr<NotifySocket> make_socket(const std::string& name) {
  auto made = NotifySocket::create(scratch(name) + ".notify");
  REQUIRE(made);
  return std::move(*made);
}

// Sends `bytes` as one datagram to `path`, with `fds` passed along (SCM_RIGHTS) if any.
bool send_datagram(const std::string& path, std::string_view bytes, std::vector<int> fds = {}) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  iovec io{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr message{};
  message.msg_name = &address;
  message.msg_namelen = sizeof address;
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * (fds.empty() ? 1 : fds.size())));
  if (!fds.empty()) {
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  bool sent = ::sendmsg(fd, &message, 0) == static_cast<ssize_t>(bytes.size());
  ::close(fd);
  return sent;
}

// Collects (up to 30 s) until `done` says enough.
bool collect_until(NotifySocket& socket, std::vector<NotifyMessage>& got,
                   const std::function<bool()>& done) {
  for (int waited = 0; waited < 30'000; waited += 10) {
    pollfd fd{socket.fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    socket.collect([&](const NotifyMessage& message) { got.push_back(message); });
    if (done()) return true;
  }
  return false;
}

SpawnRequest shell(std::string script) {
  SpawnRequest request;
  request.service = "test";
  request.argv = {"/bin/sh", "-c", std::move(script)};
  return request;
}

}  // namespace

// ---- the parser -------------------------------------------------------------------------------

TEST_CASE("the parser reads each sd_notify key a service may send") {
  auto parsed = parse_notification(
      "READY=1\nSTATUS=listening on 8080\nWATCHDOG=1\nWATCHDOG_USEC=2500\n"
      "EXTEND_TIMEOUT_USEC=3000000\nERRNO=13\nRELOADING=1\nSTOPPING=1");
  REQUIRE(parsed);
  CHECK(parsed->ready);
  CHECK(parsed->reloading);
  CHECK(parsed->stopping);
  CHECK(parsed->watchdog);
  CHECK_FALSE(parsed->watchdog_trigger);
  CHECK(parsed->status == "listening on 8080");
  CHECK(parsed->watchdog_timeout == Milliseconds(3));  // 2.5 ms, rounded up
  CHECK(parsed->extend_timeout == Milliseconds(3000));
  CHECK(parsed->error_number == 13);
  CHECK(parse_notification("WATCHDOG=trigger")->watchdog_trigger);
}

TEST_CASE("unknown keys, lines without '=' and malformed values are ignored") {
  auto parsed = parse_notification(
      "MAINPID=1\nFDSTORE=1\nnonsense\n=\nREADY=2\nWATCHDOG=yes\nWATCHDOG_USEC=12x\n"
      "WATCHDOG_USEC=-1\nEXTEND_TIMEOUT_USEC=-5\nERRNO=-1\nERRNO=99999999999999\n\n");
  REQUIRE(parsed);
  CHECK(*parsed == ServiceNotification{});
  CHECK(parse_notification("")->ready == false);
  CHECK(parse_notification("READY=1\n")->ready);
}

TEST_CASE("WATCHDOG_USEC=0 reaches the core: it turns the watchdog off, as in systemd") {
  // systemd stops the watchdog when the interval a service sets is 0; the core does the same
  // with a watchdog_timeout of 0, so the parser must not drop it as malformed.
  CHECK(parse_notification("WATCHDOG_USEC=0")->watchdog_timeout == Milliseconds(0));
}

TEST_CASE("a datagram holding a NUL byte is dropped whole") {
  using namespace std::string_view_literals;
  CHECK_FALSE(parse_notification("READY=1\0STATUS=x"sv));
}

TEST_CASE(
    "STATUS= text is safe to show: control bytes and broken UTF-8 become '?', and it is cut") {
  using namespace std::string_view_literals;
  CHECK(parse_notification("STATUS=a\x1b[2Jb\r\x7f"sv)->status == "a?[2Jb??");
  CHECK(parse_notification("STATUS=caf\xc3\xa9 \xff\xc3"sv)->status == "caf\xc3\xa9 ??");
  CHECK(parse_notification("STATUS=\xed\xa0\x80"sv)->status == "???");  // a surrogate
  auto long_status = parse_notification("STATUS=" + std::string(5000, 'x'));
  CHECK(long_status->status->size() == arm::posix::max_status_bytes);
  CHECK(parse_notification("STATUS=one\nSTATUS=two")->status == "two");
}

TEST_CASE("random bytes never crash the parser, and what it keeps is printable UTF-8") {
  std::mt19937 random(13);
  for (int round = 0; round < 20'000; ++round) {
    std::string datagram(random() % 64, '\0');
    for (char& c : datagram) {
      // Mostly the bytes that matter to the parser, so keys and values do get formed.
      constexpr std::string_view alphabet = "READYSTATUWCHGOLNX=1\n\xc3\xa9\xff\x1b";
      c = random() % 4 ? alphabet[random() % alphabet.size()] : static_cast<char>(random());
    }
    auto parsed = parse_notification(datagram);
    if (!parsed || !parsed->status) continue;
    for (unsigned char c : *parsed->status) CHECK((c >= 0x20 && c != 0x7f));
  }
}

// ---- the socket -------------------------------------------------------------------------------

TEST_CASE("a datagram arrives with the sender the kernel vouches for") {
  auto socket = make_socket("sender");
  struct stat info {};
  REQUIRE(::stat(socket->path().c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0666);  // a service running as another user can send
  REQUIRE(send_datagram(socket->path(), "READY=1\nSTATUS=up"));
  std::vector<NotifyMessage> got;
  REQUIRE(collect_until(*socket, got, [&] { return !got.empty(); }));
  CHECK(got[0].sender == ::getpid());
  CHECK_FALSE(got[0].from_pipe);
  CHECK(got[0].notification.ready);
  CHECK(got[0].notification.status == "up");
}

TEST_CASE("an oversized datagram is dropped, and the next one still arrives") {
  auto socket = make_socket("oversized");
  REQUIRE(send_datagram(socket->path(), "READY=1\nSTATUS=" + std::string(8000, 'x')));
  REQUIRE(send_datagram(socket->path(), "STATUS=small"));
  std::vector<NotifyMessage> got;
  REQUIRE(collect_until(*socket, got, [&] { return !got.empty(); }));
  CHECK(got.size() == 1);
  CHECK_FALSE(got[0].notification.ready);
  CHECK(got[0].notification.status == "small");
  CHECK(socket->dropped().oversized == 1);
}

TEST_CASE("descriptors passed with a datagram (FDSTORE) are closed at once") {
  auto socket = make_socket("fds");
  int ends[2];
  REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
  REQUIRE(send_datagram(socket->path(), "FDSTORE=1\nREADY=1", {ends[1], ends[1]}));
  ::close(ends[1]);
  std::vector<NotifyMessage> got;
  REQUIRE(collect_until(*socket, got, [&] { return !got.empty(); }));
  CHECK(socket->dropped().descriptors == 2);
  // Every write end is closed: the read end sees the end of the pipe.
  char byte;
  CHECK(::read(ends[0], &byte, 1) == 0);
  ::close(ends[0]);
}

TEST_CASE("the socket file is removed when the socket goes") {
  std::string path;
  {
    auto socket = make_socket("removed");
    path = socket->path();
    CHECK(std::filesystem::exists(path));
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a path too long for a unix socket is refused, naming it") {
  auto made = NotifySocket::create("/tmp/" + std::string(200, 'n'));
  REQUIRE_FALSE(made);
  CHECK(made.error().message.find("notify socket /tmp/nnn") != std::string::npos);
}

// ---- what the spawner gives a service ---------------------------------------------------------

TEST_CASE("a notify service finds NOTIFY_SOCKET; its READY=1 comes back from its pid") {
  auto socket = make_socket("spawned");
  auto spawner = std::move(*PosixSpawner::create({.notify = socket.get()}));
  auto request = SpawnRequest{};
  request.service = "notifier";
  request.readiness.kind = Readiness::Kind::notify;
  request.argv = {"python3", "-c",
                  "import os, socket, time\n"
                  "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                  "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
                  "time.sleep(30)\n"};
  auto pid = spawner->spawn(request);
  REQUIRE(pid);
  std::vector<NotifyMessage> got;
  REQUIRE(collect_until(*socket, got, [&] { return !got.empty(); }));
  CHECK(got[0].sender == *pid);
  CHECK(got[0].notification.ready);
  CHECK(spawner->main_pid_of(got[0].sender) == *pid);
}

TEST_CASE("an exec service gets no NOTIFY_SOCKET, even one the host inherited") {
  auto socket = make_socket("exec");
  auto spawner = std::move(*PosixSpawner::create({.notify = socket.get()}));
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  std::string out = scratch("exec-env");
  auto pid = spawner->spawn(shell("env > " + out + ".tmp; mv " + out + ".tmp " + out));
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_PID");
  REQUIRE(pid);
  for (int waited = 0; waited < 30'000 && !std::filesystem::exists(out); waited += 10)
    ::usleep(10'000);
  std::string env = read_file(out);
  std::filesystem::remove(out);
  CHECK(env.find("ARMD_TEST_TAG=") != std::string::npos);
  CHECK(env.find("NOTIFY_SOCKET=") == std::string::npos);
  CHECK(env.find("WATCHDOG_PID=") == std::string::npos);
}

TEST_CASE("a watchdog reaches the service as WATCHDOG_USEC in microseconds") {
  auto spawner = std::move(*PosixSpawner::create());
  std::string out = scratch("watchdog-env");
  auto request = shell("echo $WATCHDOG_USEC > " + out + ".tmp; mv " + out + ".tmp " + out);
  request.watchdog = Milliseconds(2500);
  REQUIRE(spawner->spawn(request));
  for (int waited = 0; waited < 30'000 && !std::filesystem::exists(out); waited += 10)
    ::usleep(10'000);
  CHECK(read_file(out) == "2500000\n");
  std::filesystem::remove(out);
}

TEST_CASE("fd:N readiness: the service's newline on descriptor N is READY=1; nothing else leaks") {
  auto socket = make_socket("pipe");
  auto spawner = std::move(*PosixSpawner::create({.notify = socket.get()}));
  std::string out = scratch("pipe-fds");
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  auto request = shell("ls /proc/self/fd > " + out + ".tmp; mv " + out + ".tmp " + out +
                       "; sleep 1; echo ready >&5; exec sleep 30");
  request.readiness = Readiness{.kind = Readiness::Kind::fd, .fd = 5, .after = {}};
  auto pid = spawner->spawn(request);
  ::close(leaked);
  REQUIRE(pid);
  CHECK(socket->open_pipes() == 1);
  std::vector<NotifyMessage> got;
  REQUIRE(collect_until(*socket, got, [&] { return !got.empty(); }));
  CHECK(got[0].sender == *pid);
  CHECK(got[0].from_pipe);
  CHECK(got[0].notification.ready);
  CHECK(socket->open_pipes() == 0);  // one line, then the pipe is closed
  // 0-2, the readiness descriptor, and ls's own (3).
  CHECK(read_file(out) == "0\n1\n2\n3\n5\n");
  std::filesystem::remove(out);
}

TEST_CASE("fd:N readiness next to captured output: each pipe goes where it should") {
  auto socket = make_socket("pipe-and-output");
  auto pipes = std::move(*arm::posix::OutputPipes::create());
  auto spawner =
      std::move(*PosixSpawner::create({.output_pipes = pipes.get(), .notify = socket.get()}));
  auto request = shell("echo hello; echo oops >&2; echo >&3; exec sleep 30");
  request.standard_output.kind = OutputTarget::Kind::log;
  request.standard_error.kind = OutputTarget::Kind::log;
  request.readiness = Readiness{.kind = Readiness::Kind::fd, .fd = 3, .after = {}};
  auto pid = spawner->spawn(request);
  REQUIRE(pid);
  std::string out, err;
  std::vector<NotifyMessage> got;
  REQUIRE(collect_until(*socket, got, [&] {
    pipes->collect([&](const arm::posix::OutputChunk& chunk) {
      (chunk.stream == OutputStream::standard_output ? out : err).append(chunk.bytes);
    });
    return !got.empty() && out == "hello\n" && err == "oops\n";
  }));
  CHECK(got[0].sender == *pid);
  CHECK(got[0].notification.ready);
}

TEST_CASE("fd:N readiness: a service that closes the descriptor without a newline is never ready") {
  auto socket = make_socket("pipe-eof");
  auto spawner = std::move(*PosixSpawner::create({.notify = socket.get()}));
  auto request = shell("printf partial >&3; exec 3>&-; exec sleep 30");
  request.readiness = Readiness{.kind = Readiness::Kind::fd, .fd = 3, .after = {}};
  REQUIRE(spawner->spawn(request));
  std::vector<NotifyMessage> got;
  REQUIRE(collect_until(*socket, got, [&] { return socket->open_pipes() == 0; }));
  CHECK(got.empty());
}

TEST_CASE("readiness that needs a notify socket fails to spawn without one, saying why") {
  auto spawner = std::move(*PosixSpawner::create());
  auto request = shell("true");
  request.readiness.kind = Readiness::Kind::notify;
  auto spawned = spawner->spawn(request);
  REQUIRE_FALSE(spawned);
  CHECK(spawned.error().message.find("notify socket") != std::string::npos);
}

TEST_CASE("main_pid_of: a service's child is its service's, a stranger is no one's") {
  auto spawner = std::move(*PosixSpawner::create());
  std::string out = scratch("child-pid");
  auto pid = spawner->spawn(
      shell("sleep 30 & echo $! > " + out + ".tmp; mv " + out + ".tmp " + out + "; wait"));
  REQUIRE(pid);
  for (int waited = 0; waited < 30'000 && !std::filesystem::exists(out); waited += 10)
    ::usleep(10'000);
  pid_t child = std::stoi(read_file(out));
  std::filesystem::remove(out);
  CHECK(spawner->main_pid_of(*pid) == *pid);
  CHECK(spawner->main_pid_of(child) == *pid);
  CHECK(spawner->main_pid_of(::getpid()) == std::nullopt);
  CHECK(spawner->main_pid_of(0) == std::nullopt);
}

TEST_CASE("in cgroup mode, main_pid_of finds a service's process by its cgroup") {
  auto own = arm::posix::own_cgroup_directory();
  if (!own || ::access((*own + "/cgroup.procs").c_str(), W_OK) != 0) {
    MESSAGE("skipped: no writable cgroup v2 here");
    return;
  }
  auto spawner = std::move(
      *PosixSpawner::create({.cgroup = *own + "/arm-notify-" + std::to_string(::getpid())}));
  std::string out = scratch("cgroup-child");
  // The child leaves the process group: only its cgroup says whose it is.
  auto pid = spawner->spawn(
      shell("setsid sleep 30 & echo $! > " + out + ".tmp; mv " + out + ".tmp " + out + "; wait"));
  REQUIRE(pid);
  for (int waited = 0; waited < 30'000 && !std::filesystem::exists(out); waited += 10)
    ::usleep(10'000);
  pid_t child = std::stoi(read_file(out));
  std::filesystem::remove(out);
  CHECK(spawner->main_pid_of(child) == *pid);
  CHECK(spawner->main_pid_of(::getpid()) == std::nullopt);
}
