// Where the control socket is: one precedence for armd and armctl (README, "armd" and "armctl").
#include <doctest/doctest.h>

#include <cstdlib>

#include "protocol/socket_path.hpp"

using armd::resolve_socket_path;
using armd::SocketPathSources;

namespace {

// Every source set, each to a path that names it.
SocketPathSources all_sources() {
  return {.command_line = "/tmp/flag.sock",
          .armd_socket = "/tmp/environment.sock",
          .config_file = "/tmp/config.sock",
          .xdg_runtime_dir = "/run/user/1"};
}

// Sets an environment variable for one test and restores what was there before.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
  ~ScopedEnvironment() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("--socket wins over everything else") {
  CHECK(resolve_socket_path(all_sources()) == "/tmp/flag.sock");
}

TEST_CASE("$ARMD_SOCKET comes next, before the configuration file") {
  auto sources = all_sources();
  sources.command_line.reset();
  CHECK(resolve_socket_path(sources) == "/tmp/environment.sock");
}

TEST_CASE("[arm].socket comes next, before $XDG_RUNTIME_DIR") {
  auto sources = all_sources();
  sources.command_line.reset();
  sources.armd_socket.reset();
  CHECK(resolve_socket_path(sources) == "/tmp/config.sock");
}

TEST_CASE("without any of those the socket is armd.sock in $XDG_RUNTIME_DIR, else in /run") {
  CHECK(resolve_socket_path({.xdg_runtime_dir = "/run/user/1"}) == "/run/user/1/armd.sock");
  CHECK(resolve_socket_path({}) == "/run/armd.sock");
}

TEST_CASE("armctl, which reads no configuration, goes from $ARMD_SOCKET straight to XDG") {
  auto sources = all_sources();
  sources.command_line.reset();
  sources.config_file.reset();
  CHECK(resolve_socket_path(sources) == "/tmp/environment.sock");
  sources.armd_socket.reset();
  CHECK(resolve_socket_path(sources) == "/run/user/1/armd.sock");
}

TEST_CASE("the environment is read from ARMD_SOCKET and XDG_RUNTIME_DIR, empty meaning unset") {
  {
    ScopedEnvironment armd_socket("ARMD_SOCKET", "/tmp/environment.sock");
    ScopedEnvironment runtime_dir("XDG_RUNTIME_DIR", "/run/user/1");
    auto sources = armd::socket_path_sources("/tmp/flag.sock", "/tmp/config.sock");
    CHECK(sources.command_line == "/tmp/flag.sock");
    CHECK(sources.armd_socket == "/tmp/environment.sock");
    CHECK(sources.config_file == "/tmp/config.sock");
    CHECK(sources.xdg_runtime_dir == "/run/user/1");
  }
  {
    ScopedEnvironment armd_socket("ARMD_SOCKET", "");
    ScopedEnvironment runtime_dir("XDG_RUNTIME_DIR", nullptr);
    auto sources = armd::socket_path_sources(std::nullopt, std::nullopt);
    CHECK_FALSE(sources.armd_socket);
    CHECK_FALSE(sources.xdg_runtime_dir);
    CHECK(resolve_socket_path(sources) == "/run/armd.sock");
  }
}
