// Output captured through pipes: real processes, the spawner and OutputPipes together.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <map>
#include <string>

#include "arm/posix.hpp"
#include "arm/posix/output_pipes.hpp"

using namespace arm;
using arm::posix::OutputChunk;
using arm::posix::OutputPipes;
using arm::posix::PosixSpawner;

namespace {

[[maybe_unused]] const bool tagged = [] {
  return ::setenv("ARMD_TEST_TAG", "posix-tests", 1) == 0;
}();

struct Captured {
  std::map<OutputStream, std::string> bytes;
  std::map<OutputStream, int> ended;
  OutputPipes::OnOutput sink() {
    return [this](const OutputChunk& chunk) {
      CHECK(chunk.service == "talker");
      bytes[chunk.stream].append(chunk.bytes);
      if (chunk.ended) ++ended[chunk.stream];
    };
  }
};

struct Rig {
  std::unique_ptr<OutputPipes> pipes = std::move(*OutputPipes::create());
  std::unique_ptr<PosixSpawner> spawner =
      std::move(*PosixSpawner::create({.output_pipes = pipes.get()}));
  Captured captured;

  ProcessId spawn(std::string script, OutputTarget out, OutputTarget err) {
    SpawnRequest request;
    request.service = "talker";
    request.argv = {"/bin/sh", "-c", std::move(script)};
    request.standard_output = out;
    request.standard_error = err;
    auto pid = spawner->spawn(request);
    REQUIRE(pid);
    return *pid;
  }

  // Reads output as it comes until the process is reaped, then drains its pipes, as armd does.
  void run_until_exit(ProcessId pid) {
    bool exited = false;
    for (int waited = 0; waited < 30'000 && !exited; waited += 10) {
      pollfd fds[2] = {{spawner->exit_fd(), POLLIN, 0}, {pipes->fd(), POLLIN, 0}};
      ::poll(fds, 2, 10);
      pipes->collect(captured.sink());
      spawner->collect_exits([&](ProcessId exited_pid, ExitStatus) {
        if (exited_pid != pid) return;
        CHECK(pipes->drain(pid, captured.sink()) == "talker");
        exited = true;
      });
    }
    REQUIRE(exited);
  }
};

const OutputTarget log_target{OutputTarget::Kind::log, {}};

}  // namespace

TEST_CASE("stdout and stderr sent to the log arrive as bytes of their own stream") {
  Rig rig;
  auto pid = rig.spawn("echo out; echo err >&2; printf 'no newline'", log_target, log_target);
  rig.run_until_exit(pid);
  CHECK(rig.captured.bytes[OutputStream::standard_output] == "out\nno newline");
  CHECK(rig.captured.bytes[OutputStream::standard_error] == "err\n");
  CHECK(rig.captured.ended[OutputStream::standard_output] == 1);
  CHECK(rig.captured.ended[OutputStream::standard_error] == 1);
  CHECK(rig.pipes->open_pipes() == 0);
}

TEST_CASE("stderr merged into stdout shares its pipe, in the order written") {
  Rig rig;
  auto pid = rig.spawn("echo one; echo two >&2; echo three", log_target,
                       OutputTarget{OutputTarget::Kind::same_as_stdout, {}});
  rig.run_until_exit(pid);
  CHECK(rig.captured.bytes[OutputStream::standard_output] == "one\ntwo\nthree\n");
  CHECK_FALSE(rig.captured.bytes.contains(OutputStream::standard_error));
}

TEST_CASE("output larger than a pipe holds is all read: the writer waits, nothing is lost") {
  Rig rig;
  // 1 MiB, far more than the 64 KiB a pipe holds.
  auto pid = rig.spawn("head -c 1048576 /dev/zero", log_target, OutputTarget{});
  rig.run_until_exit(pid);
  CHECK(rig.captured.bytes[OutputStream::standard_output].size() == 1048576);
}

TEST_CASE("the child holds no copy of the pipes beyond its stdout and stderr") {
  Rig rig;
  auto pid = rig.spawn("ls /proc/self/fd | wc -l", log_target, log_target);
  rig.run_until_exit(pid);
  // 0, 1, 2 and the one ls opens to read the directory.
  CHECK(rig.captured.bytes[OutputStream::standard_output] == "4\n");
}

// A host pauses a service whose output it cannot store now (armd: a log FIFO that is full).
TEST_CASE("a paused service's pipes are not read, nor watched, until it is resumed") {
  auto pipes = std::move(*OutputPipes::create());
  auto make_pipe = [] {
    int ends[2];
    REQUIRE(::pipe(ends) == 0);
    return std::pair{posix::UniqueFd(ends[0]), posix::UniqueFd(ends[1])};
  };
  auto [slow_read, slow_write] = make_pipe();
  auto [other_read, other_write] = make_pipe();
  REQUIRE(pipes->add(10, "slow", OutputStream::standard_output, std::move(slow_read)));
  REQUIRE(pipes->add(11, "other", OutputStream::standard_output, std::move(other_read)));
  pipes->pause("slow");
  REQUIRE(::write(slow_write.get(), "held\n", 5) == 5);
  slow_write.reset();  // its end too: a paused pipe's hang-up must not wake the host
  REQUIRE(::write(other_write.get(), "flows\n", 6) == 6);
  std::map<std::string, std::string> got;
  auto sink = [&](const OutputChunk& chunk) { got[chunk.service].append(chunk.bytes); };
  pipes->collect(sink);
  CHECK(got["other"] == "flows\n");
  CHECK(got["slow"].empty());
  pollfd polled{pipes->fd(), POLLIN, 0};
  CHECK(::poll(&polled, 1, 0) == 0);
  // A pipe added for it while paused waits too.
  auto [late_read, late_write] = make_pipe();
  REQUIRE(pipes->add(12, "slow", OutputStream::standard_error, std::move(late_read)));
  REQUIRE(::write(late_write.get(), "late\n", 5) == 5);
  pipes->collect(sink);
  CHECK(got["slow"].empty());
  pipes->resume("slow");
  for (int i = 0; i < 10 && got["slow"].size() < 10; ++i) pipes->collect(sink);
  CHECK(got["slow"].size() == 10);
  CHECK(got["slow"].find("held\n") != std::string::npos);
  CHECK(got["slow"].find("late\n") != std::string::npos);
}

TEST_CASE("a pipe that hands over a lot at one read is made bigger; a quiet one keeps its size") {
  auto pipes = std::move(*OutputPipes::create());
  auto make_pipe = [&](ProcessId pid, OutputStream stream) {
    int ends[2];
    REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
    REQUIRE(pipes->add(pid, "talker", stream, posix::UniqueFd(ends[0])));
    return posix::UniqueFd(ends[1]);
  };
  posix::UniqueFd busy = make_pipe(1001, OutputStream::standard_output);
  posix::UniqueFd quiet = make_pipe(1001, OutputStream::standard_error);
  int default_size = ::fcntl(busy.get(), F_GETPIPE_SZ);
  std::string full(static_cast<std::size_t>(default_size), 'x');
  REQUIRE(::write(busy.get(), full.data(), full.size()) == default_size);
  REQUIRE(::write(quiet.get(), "one line\n", 9) == 9);
  std::size_t got = 0;
  pipes->collect([&](const OutputChunk& chunk) { got += chunk.bytes.size(); });
  CHECK(got == full.size() + 9);
  // As large as the kernel lets an unprivileged process make it, up to 1 MiB.
  CHECK(::fcntl(busy.get(), F_GETPIPE_SZ) > default_size);
  CHECK(::fcntl(quiet.get(), F_GETPIPE_SZ) == default_size);
}

TEST_CASE("a busy pipe is read a few times per collect, within a budget the others still get") {
  auto pipes = std::move(*OutputPipes::create());
  auto make_pipe = [&](ProcessId pid, std::string service) {
    int ends[2];
    REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
    REQUIRE(::fcntl(ends[1], F_SETPIPE_SZ, 1024 * 1024) > 0);
    REQUIRE(pipes->add(pid, std::move(service), OutputStream::standard_output,
                       posix::UniqueFd(ends[0])));
    return posix::UniqueFd(ends[1]);
  };
  posix::UniqueFd chatty = make_pipe(1001, "chatty");
  posix::UniqueFd quiet = make_pipe(1002, "quiet");
  // More than one collect() may read of it.
  std::size_t budget = OutputPipes::reads_per_collect * OutputPipes::read_per_call;
  std::string lots(budget + OutputPipes::read_per_call, 'x');
  REQUIRE(::fcntl(chatty.get(), F_GETPIPE_SZ) >= static_cast<int>(lots.size()));
  REQUIRE(::write(chatty.get(), lots.data(), lots.size()) == static_cast<ssize_t>(lots.size()));
  REQUIRE(::write(quiet.get(), "one line\n", 9) == 9);
  std::map<std::string, std::size_t> got;
  pipes->collect([&](const OutputChunk& chunk) { got[chunk.service] += chunk.bytes.size(); });
  CHECK(got["chatty"] == budget);  // several reads, not one: fewer turns of the host's loop
  CHECK(got["quiet"] == 9);        // and the others are read in the same call
  pipes->collect([&](const OutputChunk& chunk) { got[chunk.service] += chunk.bytes.size(); });
  CHECK(got["chatty"] == lots.size());  // the rest at the next call
}
