// What an embedder gets for a service's output and environment (issue 16 item 5), through the
// whole chain armd uses too: a ServiceSpec with standard_output/standard_error = log and
// execution.clear_environment, run by a ServiceSupervisor over a PosixSpawner given an
// OutputPipes. Real processes.
#include <doctest/doctest.h>
#include <poll.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "arm/posix.hpp"
#include "arm/posix/output_pipes.hpp"
#include "arm/supervisor.hpp"

using namespace arm;
using arm::posix::OutputChunk;
using arm::posix::OutputPipes;
using arm::posix::PosixSpawner;

namespace {

struct Events final : Notifier {
  void reply(const Reply&) override {}
  void service_event(const ServiceEvent& event) override { events.push_back(event); }
  std::vector<ServiceEvent> events;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE(
    "an embedder's service sends its output to the host's pipes and gets a clean environment") {
  auto pipes = std::move(*OutputPipes::create());
  auto spawner = std::move(*PosixSpawner::create({.output_pipes = pipes.get()}));
  posix::SteadyClock clock;
  Events notifier;

  ServiceSpec spec;
  spec.name = "talker";
  spec.binary = "/bin/sh";
  // The shell sets PWD of its own; everything else printed is what the spawner passed.
  spec.options = {"-c", "echo to-stderr >&2; exec /usr/bin/env"};
  spec.restart = RestartPolicy::never;
  spec.environment = {{"OWN", "1"}};
  spec.standard_output = {OutputTarget::Kind::log, {}};
  spec.standard_error = {OutputTarget::Kind::log, {}};
  ExecutionSettings execution;
  execution.clear_environment = true;
  spec.execution = execution;
  Config config;
  config.services.emplace("talker", spec);
  auto supervisor = std::move(*ServiceSupervisor::create(config, clock, *spawner, notifier));

  std::string out, err;
  auto sink = [&](const OutputChunk& chunk) {
    CHECK(chunk.service == "talker");
    (chunk.stream == OutputStream::standard_output ? out : err).append(chunk.bytes);
  };
  supervisor->start(std::nullopt, "talker");
  bool exited = false;
  for (int waited = 0; waited < 30'000 && !exited; waited += 10) {
    pollfd fds[2] = {{spawner->exit_fd(), POLLIN, 0}, {pipes->fd(), POLLIN, 0}};
    ::poll(fds, 2, 10);
    pipes->collect(sink);
    spawner->collect_exits([&](ProcessId pid, ExitStatus status) {
      pipes->drain(pid, sink);  // its output first, then its exit
      supervisor->on_child_exit(pid, status);
      exited = true;
    });
  }
  REQUIRE(exited);
  CHECK(err == "to-stderr\n");
  auto variables = lines_of(out);
  std::erase_if(variables, [](const std::string& line) { return line.starts_with("PWD="); });
  CHECK(variables == std::vector<std::string>{"OWN=1"});
  CHECK(supervisor->status("talker")->state == ServiceState::stopped);
  REQUIRE_FALSE(notifier.events.empty());
  CHECK(notifier.events.back().exit == ExitStatus::exited(0));
  CHECK(pipes->open_pipes() == 0);
}
