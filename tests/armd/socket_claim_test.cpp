// Claiming the socket path: the lock beside the socket, and the directory it lives in. The
// integration tests (tests/integration/test_hardening_config.py) race two real armds; here each
// rule is checked alone. A flock is held per open file, so one process can play both armds.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/socket_claim.hpp"

namespace fs = std::filesystem;

namespace {

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern = (fs::temp_directory_path() / "armd-claim-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) FAIL("mkdtemp failed");
    path_ = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

TEST_CASE("the lock is <socket>.lock, mode 0600, naming its holder") {
  TemporaryDirectory directory;
  std::string socket = (directory.path() / "armd.sock").string();
  auto lock = armd::claim_socket_path(socket);
  REQUIRE(lock);
  CHECK(armd::lock_path_for(socket) == socket + ".lock");
  struct stat status {};
  REQUIRE(::stat((socket + ".lock").c_str(), &status) == 0);
  CHECK((status.st_mode & 07777) == 0600);
  std::ifstream file(socket + ".lock");
  long pid = 0;
  file >> pid;
  CHECK(pid == ::getpid());
}

TEST_CASE("a held lock refuses a second claim, naming the holder; a released one is taken") {
  TemporaryDirectory directory;
  std::string socket = (directory.path() / "armd.sock").string();
  auto first = armd::claim_socket_path(socket);
  REQUIRE(first);
  auto second = armd::claim_socket_path(socket);
  REQUIRE_FALSE(second);
  CHECK(second.error() == fmt::format("another armd (pid {}) already holds {}.lock; it serves {}",
                                      ::getpid(), socket, socket));
  first->reset();
  CHECK(fs::exists(socket + ".lock"));  // never unlinked
  CHECK(armd::claim_socket_path(socket));
}

TEST_CASE("a directory writable by others is refused unless it is sticky") {
  TemporaryDirectory directory;
  for (mode_t mode : {0777, 0770, 0722}) {
    CAPTURE(mode);
    fs::permissions(directory.path(), static_cast<fs::perms>(mode));
    auto claim = armd::claim_socket_path((directory.path() / "armd.sock").string());
    REQUIRE_FALSE(claim);
    CHECK(claim.error() ==
          fmt::format("socket directory {} (mode {:04o}) is writable by group or others and has "
                      "no sticky bit: another user could replace armd's socket; use a directory "
                      "only armd's user can write, such as $XDG_RUNTIME_DIR",
                      directory.path().string(), mode));
    CHECK(fs::is_empty(directory.path()));
  }
  fs::permissions(directory.path(), static_cast<fs::perms>(01777));
  CHECK(armd::claim_socket_path((directory.path() / "armd.sock").string()));
}

TEST_CASE("a socket in the current directory is claimed there") {
  TemporaryDirectory directory;
  fs::path before = fs::current_path();
  fs::current_path(directory.path());
  auto claim = armd::claim_socket_path("armd.sock");
  fs::current_path(before);
  CHECK(claim);
  CHECK(fs::exists(directory.path() / "armd.sock.lock"));
}

TEST_CASE("a symlink at the lock's name is not followed") {
  TemporaryDirectory directory;
  fs::path target = directory.path() / "elsewhere";
  std::ofstream(target) << "keep\n";
  std::string socket = (directory.path() / "armd.sock").string();
  fs::create_symlink(target, socket + ".lock");
  auto claim = armd::claim_socket_path(socket);
  REQUIRE_FALSE(claim);
  CHECK(claim.error().starts_with("cannot open lock " + socket + ".lock: "));
  std::ifstream file(target);
  std::string kept;
  file >> kept;
  CHECK(kept == "keep");
}

TEST_CASE("in a sticky directory, another user's socket or lock is not used") {
  if (::geteuid() != 0) return;  // only root can give a file away
  TemporaryDirectory directory;
  fs::permissions(directory.path(), static_cast<fs::perms>(01777));
  std::string socket = (directory.path() / "armd.sock").string();
  for (const std::string& path : {socket, socket + ".lock"}) {
    CAPTURE(path);
    std::ofstream(path).close();
    REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    auto claim = armd::claim_socket_path(socket);
    REQUIRE_FALSE(claim);
    CHECK(claim.error() == fmt::format("{} belongs to uid 65534, not to armd's user (uid 0), in "
                                       "a directory others can write: not using it",
                                       path));
    fs::remove(path);
  }
}
