// InotifyWatcher on real files: content, not events, decides what is a change.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "arm/posix.hpp"
#include "file_content.hpp"
#include "in_forked_process.hpp"

using arm::WatchedFile;
using arm::posix::InotifyWatcher;
namespace fs = std::filesystem;
using Seen = std::multiset<std::string>;

namespace {

struct Scratch {
  Scratch() : directory(fs::temp_directory_path() / ("arm-watch-" + std::to_string(::getpid()))) {
    fs::remove_all(directory);
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

WatchedFile whole(const std::string& path) {
  return {path, {}};
}

std::string label(const WatchedFile& file) {
  return file.section.empty() ? file.path : file.path + "[" + file.section + "]";
}

// What the watcher reports within `wait_ms`; stops early once something is reported, unless
// `whole_window`.
Seen changes(InotifyWatcher& watcher, int wait_ms = 4000, bool whole_window = false) {
  Seen seen;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (std::chrono::steady_clock::now() < until && (whole_window || seen.empty())) {
    pollfd fd{watcher.fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    watcher.collect_changes([&](const WatchedFile& file) { seen.insert(label(file)); });
  }
  return seen;
}

// Nothing reported for a while (longer than the quiet period).
bool quiet(InotifyWatcher& watcher) {
  return changes(watcher, 1500, true).empty();
}

std::unique_ptr<InotifyWatcher> make_watcher() {
  auto watcher = InotifyWatcher::create();
  REQUIRE(watcher);
  return std::move(*watcher);
}

}  // namespace

TEST_CASE("a write to a watched file is reported once") {
  Scratch scratch;
  write(scratch.path("a.conf"), "1");
  auto watcher = make_watcher();
  watcher->watch(whole(scratch.path("a.conf")));
  write(scratch.path("a.conf"), "2");
  CHECK(changes(*watcher) == Seen{scratch.path("a.conf")});
  CHECK(quiet(*watcher));
}

TEST_CASE("a file replaced by rename is reported, an unrelated file is not") {
  Scratch scratch;
  write(scratch.path("a.conf"), "1");
  auto watcher = make_watcher();
  watcher->watch(whole(scratch.path("a.conf")));
  write(scratch.path("other"), "x");
  CHECK(changes(*watcher, 300).empty());
  write(scratch.path("a.conf.new"), "2");
  fs::rename(scratch.path("a.conf.new"), scratch.path("a.conf"));
  CHECK(changes(*watcher) == Seen{scratch.path("a.conf")});
  write(scratch.path("a.conf"), "3");  // still watched after the replacement
  CHECK(changes(*watcher) == Seen{scratch.path("a.conf")});
}

TEST_CASE("a touch, or the same bytes written again, is not a change") {
  Scratch scratch;
  write(scratch.path("a.conf"), "port = 80\n");
  auto watcher = make_watcher();
  watcher->watch(whole(scratch.path("a.conf")));
  // As touch(1) does: open for writing, set the times, close (IN_ATTRIB, IN_CLOSE_WRITE).
  int fd = ::open(scratch.path("a.conf").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  CHECK(::futimens(fd, nullptr) == 0);
  ::close(fd);
  CHECK(quiet(*watcher));
  write(scratch.path("a.conf"), "port = 80\n");
  CHECK(quiet(*watcher));
}

TEST_CASE("a truncate is a change, reported once the file is quiet") {
  Scratch scratch;
  write(scratch.path("a.conf"), "port = 80\n");
  auto watcher = make_watcher();
  watcher->watch(whole(scratch.path("a.conf")));
  REQUIRE(::truncate(scratch.path("a.conf").c_str(), 4) == 0);  // IN_MODIFY, no close
  CHECK(changes(*watcher) == Seen{scratch.path("a.conf")});
}

TEST_CASE("a file recreated slowly is reported once, when it is complete") {
  Scratch scratch;
  std::string path = scratch.path("a.conf");
  write(path, "old\n");
  auto watcher = make_watcher();
  watcher->watch(whole(path));
  fs::remove(path);
  CHECK(changes(*watcher, 300).empty());  // deleting is not a change
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  CHECK(::write(fd, "new ", 4) == 4);
  CHECK(changes(*watcher, 300).empty());  // being written: not yet
  CHECK(::write(fd, "content\n", 8) == 8);
  ::close(fd);
  CHECK(changes(*watcher) == Seen{path});
  CHECK(quiet(*watcher));
}

TEST_CASE("a deleted file recreated with its old content is no change, with new content one") {
  Scratch scratch;
  std::string path = scratch.path("a.conf");
  write(path, "same\n");
  auto watcher = make_watcher();
  watcher->watch(whole(path));
  fs::remove(path);
  CHECK(changes(*watcher, 300).empty());
  write(path, "same\n");
  CHECK(quiet(*watcher));
  fs::remove(path);
  write(path, "different\n");
  CHECK(changes(*watcher) == Seen{path});
}

TEST_CASE("watches are counted and an unwatched file is no longer reported") {
  Scratch scratch;
  auto watcher = make_watcher();
  watcher->watch(whole(scratch.path("a.conf")));
  watcher->watch(whole(scratch.path("a.conf")));
  watcher->unwatch(whole(scratch.path("a.conf")));
  write(scratch.path("a.conf"), "1");  // appears: a change from "no file yet"
  CHECK(changes(*watcher).size() == 1);
  watcher->unwatch(whole(scratch.path("a.conf")));
  write(scratch.path("a.conf"), "2");
  CHECK(changes(*watcher, 300).empty());
}

TEST_CASE("two spellings of one directory share a watch, and each path is reported as given") {
  Scratch scratch;
  std::string plain = scratch.path("a.conf");
  std::string dotted = (scratch.directory / "." / "a.conf").string();
  auto watcher = make_watcher();
  watcher->watch(whole(plain));
  watcher->watch(whole(dotted));
  write(plain, "1");
  CHECK(changes(*watcher) == Seen{dotted, plain});
  watcher->unwatch(whole(dotted));  // the kernel watch is still needed by the other spelling
  write(plain, "2");
  CHECK(changes(*watcher) == Seen{plain});
}

TEST_CASE("a file whose directory does not exist yet is reported once they appear") {
  Scratch scratch;
  std::string path = (scratch.directory / "etc" / "app" / "a.conf").string();
  auto watcher = make_watcher();
  watcher->watch(whole(path));
  CHECK(changes(*watcher, 100).empty());
  fs::create_directories(scratch.directory / "etc" / "app");
  write(path, "1");
  CHECK(changes(*watcher) == Seen{path});
}

TEST_CASE("a directory deleted and recreated keeps being watched") {
  Scratch scratch;
  fs::path directory = scratch.directory / "conf.d";
  fs::create_directories(directory);
  std::string path = (directory / "a.conf").string();
  write(path, "1");
  auto watcher = make_watcher();
  watcher->watch(whole(path));
  fs::remove_all(directory);
  CHECK(changes(*watcher, 300).empty());
  fs::create_directories(directory);
  write(path, "2");
  CHECK(changes(*watcher) == Seen{path});
  write(path, "3");  // and the new directory is watched too
  CHECK(changes(*watcher) == Seen{path});
  // Up the path: the parent goes too, and comes back.
  fs::remove_all(directory);
  CHECK(changes(*watcher, 300).empty());
  fs::create_directories(directory);
  write(path, "4");
  CHECK(changes(*watcher) == Seen{path});
}

TEST_CASE("a Kubernetes ConfigMap update (a new ..data renamed over the old) is reported") {
  Scratch scratch;
  fs::path mount = scratch.directory / "app";
  fs::create_directories(mount / "..2026_12_01_a");
  write((mount / "..2026_12_01_a" / "app.conf").string(), "v1\n");
  fs::create_directory_symlink("..2026_12_01_a", mount / "..data");
  fs::create_symlink("..data/app.conf", mount / "app.conf");
  std::string path = (mount / "app.conf").string();
  auto watcher = make_watcher();
  watcher->watch(whole(path));

  auto publish = [&](const std::string& stamp, const std::string& text) {
    fs::create_directories(mount / stamp);
    write((mount / stamp / "app.conf").string(), text);
    fs::create_directory_symlink(stamp, mount / "..data_tmp");
    fs::rename(mount / "..data_tmp", mount / "..data");  // rename(2): atomic
  };
  publish("..2026_12_01_b", "v2\n");
  fs::remove_all(mount / "..2026_12_01_a");
  CHECK(changes(*watcher) == Seen{path});
  publish("..2026_12_01_c", "v2\n");  // the same content: no change
  fs::remove_all(mount / "..2026_12_01_b");
  CHECK(quiet(*watcher));
  publish("..2026_12_01_d", "v3\n");
  CHECK(changes(*watcher) == Seen{path});
}

TEST_CASE("a watched section is reported only when its own text changes") {
  Scratch scratch;
  std::string path = scratch.path("shared.conf");
  write(path, "[web]\nport = 80\n[db]\nport = 5432\n");
  auto watcher = make_watcher();
  watcher->watch({path, "web"});
  watcher->watch({path, "db"});
  write(path, "[web]\nport = 80\n[db]\nport = 5433\n");
  CHECK(changes(*watcher) == Seen{path + "[db]"});
  write(path, "[web]\nport = 8080\n[db]\nport = 5433\n");
  CHECK(changes(*watcher) == Seen{path + "[web]"});
}

TEST_CASE("a section is the text from its header to the next header, all its parts together") {
  using arm::posix::detail::section_text;
  std::string text = "top = 1\n[web]\na = 1\n  [db] # x\nb = 2\n[web]\nc = 3\n[[arrays]]\nd\n";
  CHECK(section_text(text, "web") == "[web]\na = 1\n[web]\nc = 3\n");
  CHECK(section_text(text, "db") == "  [db] # x\nb = 2\n");
  CHECK(section_text(text, "none").empty());
}

TEST_CASE("array lines inside a section do not end it; only a line that is just a header does") {
  using arm::posix::detail::section_text;
  std::string text = "[web]\nm = [\n  [1, 2],\n  [3]\n]\nport = 80\n[db]\nx = 1\n";
  CHECK(section_text(text, "web") == "[web]\nm = [\n  [1, 2],\n  [3]\n]\nport = 80\n");
}

TEST_CASE("a FIFO at the watched path neither blocks nor counts as content") {
  Scratch scratch;
  std::string path = scratch.path("a.conf");
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  auto watcher = make_watcher();
  watcher->watch(whole(path));
  CHECK(!arm::posix::detail::read_snapshot(path));
  CHECK(quiet(*watcher));
}

TEST_CASE("a file in a directory that may not be read cannot be watched, and watch() says so") {
  Scratch scratch;
  fs::create_directory(scratch.path("locked"));
  write(scratch.path("locked/a.conf"), "1");
  // root reads every directory: the watch is tried as nobody, in a process of its own.
  bool as_root = ::geteuid() == 0;
  fs::permissions(scratch.path("locked"), as_root ? fs::perms::owner_all : fs::perms::none);
  std::string path = scratch.path("locked/a.conf");
  std::string said = in_forked_process([&] {
    if (as_root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return std::string("setuid");
    auto watcher = InotifyWatcher::create();
    if (!watcher) return "create failed: " + watcher.error().message;
    auto watched = (*watcher)->watch(whole(path));
    (*watcher)->unwatch(whole(path));  // counted all the same
    return watched ? std::string("watched") : watched.error().message;
  });
  fs::permissions(scratch.path("locked"), fs::perms::owner_all);
  CHECK(said == "cannot watch " + path + " for changes: inotify_add_watch(" +
                    scratch.path("locked") + "): Permission denied");
}

TEST_CASE("a file that does not exist yet is watched for without an error") {
  Scratch scratch;
  auto watcher = make_watcher();
  CHECK(watcher->watch(whole(scratch.path("later/a.conf"))).has_value());
  fs::create_directory(scratch.path("later"));
  write(scratch.path("later/a.conf"), "1");
  CHECK(changes(*watcher) == Seen{scratch.path("later/a.conf")});
}
