// InotifyWatcher on real files.
#include <doctest/doctest.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "arm/posix.hpp"

using arm::posix::InotifyWatcher;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  Scratch() : directory(fs::temp_directory_path() / ("arm-watch-" + std::to_string(::getpid()))) {
    fs::create_directories(directory);
  }
  ~Scratch() { fs::remove_all(directory); }
  std::string path(const std::string& name) const { return (directory / name).string(); }
  fs::path directory;
};

void write(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
}

// What the watcher reports within `wait_ms` (it stops early once something is reported).
std::multiset<std::string> changes(InotifyWatcher& watcher, int wait_ms = 2000) {
  std::multiset<std::string> seen;
  for (int waited = 0; waited < wait_ms && seen.empty(); waited += 10) {
    pollfd fd{watcher.fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    watcher.collect_changes([&](const std::string& path) { seen.insert(path); });
  }
  return seen;
}

}  // namespace

TEST_CASE("a write to a watched file is reported once") {
  Scratch scratch;
  write(scratch.path("a.conf"), "1");
  auto watcher = InotifyWatcher::create();
  REQUIRE(watcher);
  (*watcher)->watch(scratch.path("a.conf"));
  write(scratch.path("a.conf"), "2");
  CHECK(changes(**watcher) == std::multiset<std::string>{scratch.path("a.conf")});
}

TEST_CASE("a file replaced by rename is reported, an unrelated file is not") {
  Scratch scratch;
  write(scratch.path("a.conf"), "1");
  auto watcher = InotifyWatcher::create();
  REQUIRE(watcher);
  (*watcher)->watch(scratch.path("a.conf"));
  write(scratch.path("other"), "x");
  CHECK(changes(**watcher, 300).empty());
  write(scratch.path("a.conf.new"), "2");
  fs::rename(scratch.path("a.conf.new"), scratch.path("a.conf"));
  CHECK(changes(**watcher) == std::multiset<std::string>{scratch.path("a.conf")});
  write(scratch.path("a.conf"), "3");  // still watched after the replacement
  CHECK(changes(**watcher) == std::multiset<std::string>{scratch.path("a.conf")});
}

TEST_CASE("watches are counted and an unwatched file is no longer reported") {
  Scratch scratch;
  auto watcher = InotifyWatcher::create();
  REQUIRE(watcher);
  (*watcher)->watch(scratch.path("a.conf"));
  (*watcher)->watch(scratch.path("a.conf"));
  (*watcher)->unwatch(scratch.path("a.conf"));
  write(scratch.path("a.conf"), "1");
  CHECK(changes(**watcher).size() == 1);
  (*watcher)->unwatch(scratch.path("a.conf"));
  write(scratch.path("a.conf"), "2");
  CHECK(changes(**watcher, 300).empty());
}

TEST_CASE("a path in a directory that does not exist is accepted and reports nothing") {
  auto watcher = InotifyWatcher::create();
  REQUIRE(watcher);
  (*watcher)->watch("/no/such/dir/a.conf");
  CHECK(changes(**watcher, 100).empty());
  (*watcher)->unwatch("/no/such/dir/a.conf");
}

TEST_CASE("two spellings of one directory share a watch, and each path is reported as given") {
  Scratch scratch;
  std::string plain = scratch.path("a.conf");
  std::string dotted = (scratch.directory / "." / "a.conf").string();
  auto watcher = InotifyWatcher::create();
  REQUIRE(watcher);
  (*watcher)->watch(plain);
  (*watcher)->watch(dotted);
  write(plain, "1");
  CHECK(changes(**watcher) == std::multiset<std::string>{dotted, plain});
  (*watcher)->unwatch(dotted);  // the kernel watch is still needed by the other spelling
  write(plain, "2");
  CHECK(changes(**watcher) == std::multiset<std::string>{plain});
}

TEST_CASE("after its directory is deleted and re-created, the next watch() watches it again") {
  Scratch scratch;
  fs::path directory = scratch.directory / "conf.d";
  fs::create_directories(directory);
  std::string first = (directory / "a.conf").string();
  std::string second = (directory / "b.conf").string();
  auto watcher = InotifyWatcher::create();
  REQUIRE(watcher);
  (*watcher)->watch(first);
  fs::remove_all(directory);
  CHECK(changes(**watcher, 300).empty());  // reads the kernel's notice that the watch is gone
  fs::create_directories(directory);
  (*watcher)->watch(second);
  write(first, "1");
  CHECK(changes(**watcher) == std::multiset<std::string>{first});
}
