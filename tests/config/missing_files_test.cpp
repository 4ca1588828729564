// find_missing_files: what `armd --check-config` reports beyond a valid file — programs that
// cannot be executed and service config files that do not exist, each at the key naming it.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>

#include "arm/config.hpp"
#include "temporary_directory.hpp"

using namespace arm;
namespace fs = std::filesystem;

namespace {

// The configuration in `text`, written to armd.toml in `directory` and loaded.
struct Loaded {
  fs::path path;
  Config config;
};

Loaded load(const TemporaryDirectory& directory, std::string_view text) {
  fs::path path = directory.write("armd.toml", text);
  auto config = load_config_file(path);
  REQUIRE(config);
  return {path, std::move(*config)};
}

fs::path executable(const TemporaryDirectory& directory, const std::string& name) {
  fs::path path = directory.write(name, "#!/bin/sh\n");
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

}  // namespace

TEST_CASE("a configuration whose files all exist has nothing missing") {
  TemporaryDirectory directory;
  executable(directory, "server");
  directory.write("server.conf", "");
  auto [path, config] = load(directory, R"([services.a]
binary = "server"
[services.b]
binary = "./server"
config = "server.conf"
)");
  // "server" alone is looked up in the search path, which here is the directory itself.
  CHECK(find_missing_files(path, config, directory.path().string()).empty());
}

TEST_CASE("a program path that does not exist is reported at its key") {
  TemporaryDirectory directory;
  auto [path, config] = load(directory, "[services.web]\nbinary = \"/nonexistent/web\"\n");
  auto missing = find_missing_files(path, config, "/usr/bin:/bin");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].to_string() == path.string() +
                                      ":2:10: services.web.binary: cannot execute "
                                      "/nonexistent/web: No such file or directory");
}

TEST_CASE("a file that is not executable, and a directory, are reported") {
  TemporaryDirectory directory;
  directory.write("plain", "");
  fs::create_directory(directory.path() / "folder");
  auto [path, config] = load(directory, R"([services.a]
binary = "./plain"
[services.b]
binary = "./folder"
)");
  auto missing = find_missing_files(path, config, "/usr/bin:/bin");
  REQUIRE(missing.size() == 2);
  CHECK(missing[0].key == "services.a.binary");
  CHECK(missing[0].line == 2);
  CHECK(missing[0].message ==
        "cannot execute " + (directory.path() / "plain").string() + ": not executable");
  CHECK(missing[1].key == "services.b.binary");
  CHECK(missing[1].line == 4);
  CHECK(missing[1].message ==
        "cannot execute " + (directory.path() / "folder").string() + ": Is a directory");
}

TEST_CASE("a bare name is looked up in the search path, as execvp does") {
  TemporaryDirectory directory;
  fs::create_directory(directory.path() / "bin");
  fs::permissions(executable(directory, "tool"), fs::perms::owner_all);
  fs::rename(directory.path() / "tool", directory.path() / "bin" / "tool");
  auto [path, config] = load(directory, "[services.a]\nbinary = \"tool\"\n");
  std::string bin = (directory.path() / "bin").string();
  CHECK(find_missing_files(path, config, "/nonexistent:" + bin).empty());
  auto missing = find_missing_files(path, config, "/nonexistent:/usr/bin");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].to_string() ==
        path.string() +
            ":2:10: services.a.binary: cannot execute tool: no executable of that name in PATH "
            "(/nonexistent:/usr/bin)");
}

TEST_CASE("with a prefix, the program run is the prefix's first word") {
  TemporaryDirectory directory;
  executable(directory, "server");
  auto [path, config] = load(directory, R"([arm]
global_prefix = "no-such-wrapper -q"
[services.own]
binary = "./server"
prefix = ["./no-such-tracer", "-f"]
[services.none]
binary = "./no-such-server"
prefix = []
[services.global1]
binary = "./server"
[services.global2]
binary = "./no-such-server"
)");
  auto missing = find_missing_files(path, config, directory.path().string());
  REQUIRE(missing.size() == 3);
  // A prefix of its own replaces the global one: its program is the one that must exist.
  CHECK(missing[0].key == "services.none.binary");
  CHECK(missing[0].line == 7);
  CHECK(missing[1].key == "services.own.prefix[0]");
  CHECK(missing[1].line == 5);
  CHECK(missing[1].column == 11);
  // The global prefix's program, once, naming the services it would start; the binary behind a
  // prefix is its argument, not checked.
  CHECK(missing[2].to_string() ==
        path.string() +
            ":2:17: arm.global_prefix: cannot execute no-such-wrapper: no executable of that "
            "name in PATH (" +
            directory.path().string() + ") (it starts global1, global2)");
}

TEST_CASE("a service config file that does not exist is reported at its key") {
  TemporaryDirectory directory;
  executable(directory, "server");
  auto [path, config] = load(directory, R"([services."web.1"]
binary = "./server"
config = "web.conf"
)");
  auto missing = find_missing_files(path, config, "/usr/bin:/bin");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].to_string() == path.string() + ":3:10: services.web.1.config: " +
                                      (directory.path() / "web.conf").string() +
                                      ": No such file or directory");
}
