// load_config_file: reading the file, errors that name it, and relative paths taken relative to
// the file's directory.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "arm/config.hpp"
#include "temporary_directory.hpp"

using namespace arm;
namespace fs = std::filesystem;

TEST_CASE("a file is read and parsed") {
  TemporaryDirectory directory;
  auto path = directory.write("armd.toml", "[services.a]\nbinary = \"/bin/a\"\n");
  auto config = load_config_file(path);
  REQUIRE(config);
  CHECK(config->services.at("a").binary == "/bin/a");
}

TEST_CASE("errors in a file name it as it was given") {
  TemporaryDirectory directory;
  auto path = directory.write("armd.toml", "[services.a]\nbinary = \"/x\"\nrestat = \"never\"\n");
  auto config = load_config_file(path);
  REQUIRE_FALSE(config);
  CHECK(config.error().file == path.string());
  CHECK(config.error().to_string().starts_with(path.string() + ":3:1: services.a.restat: "));

  path = directory.write("syntax.toml", "[services.a\n");
  config = load_config_file(path);
  REQUIRE_FALSE(config);
  CHECK(config.error().file == path.string());
  CHECK(config.error().line == 1);
}

TEST_CASE("a missing file is an error naming it, without a position") {
  auto config = load_config_file("/nonexistent/armd.toml");
  REQUIRE_FALSE(config);
  CHECK(config.error().file == "/nonexistent/armd.toml");
  CHECK(config.error().line == 0);
  CHECK(config.error().to_string() == "/nonexistent/armd.toml: No such file or directory");
}

TEST_CASE("a directory is not taken for an empty configuration") {
  TemporaryDirectory directory;
  auto config = load_config_file(directory.path());
  REQUIRE_FALSE(config);
  CHECK(config.error().message == "Is a directory");
}

TEST_CASE("a FIFO is refused at once, not waited on for a writer") {
  TemporaryDirectory directory;
  fs::path fifo = directory.path() / "armd.toml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Before: open(2) blocked here until someone opened the FIFO for writing.
  auto config = load_config_file(fifo);
  REQUIRE_FALSE(config);
  CHECK(config.error().to_string() ==
        fifo.string() + ": a FIFO; armd reads its configuration only from a regular file");
}

TEST_CASE("a device is refused, even one that reads as an endless empty file") {
  auto config = load_config_file("/dev/zero");
  REQUIRE_FALSE(config);
  CHECK(config.error().to_string() ==
        "/dev/zero: a character device; armd reads its configuration only from a regular file");
}

TEST_CASE("a file larger than 8 MiB is refused before it is read") {
  TemporaryDirectory directory;
  fs::path big = directory.write("big.toml", "# a comment\n");
  fs::resize_file(big, 8 * 1024 * 1024 + 1);  // a sparse file: nothing is written
  auto config = load_config_file(big);
  REQUIRE_FALSE(config);
  CHECK(config.error().to_string() ==
        big.string() + ": larger than 8 MiB; not a configuration file");
}

TEST_CASE("a file of exactly 8 MiB is read") {
  TemporaryDirectory directory;
  std::string text = "[services.a]\nbinary = \"/bin/a\"\n";
  text += "#" + std::string(8 * 1024 * 1024 - text.size() - 2, 'x') + "\n";
  REQUIRE(text.size() == 8 * 1024 * 1024);
  auto config = load_config_file(directory.write("armd.toml", text));
  CHECK(config);
}

TEST_CASE("an unreadable file is an error naming it") {
  if (::geteuid() == 0) return;  // root reads through any permission bits
  TemporaryDirectory directory;
  auto path = directory.write("secret.toml", "");
  fs::permissions(path, fs::perms::none);
  auto config = load_config_file(path);
  REQUIRE_FALSE(config);
  CHECK(config.error().to_string() == path.string() + ": Permission denied");
}

TEST_CASE("relative paths in a file are taken relative to the file's directory") {
  TemporaryDirectory directory;
  auto path = directory.write("armd.toml", R"([arm]
socket = "run/armd.sock"
global_prefix = "tools/wrap -v"
log_dir = "logs/armd"
[services.a]
binary = "bin/a.sh"
config = "conf/../a.conf"
working_directory = "."
prefix = ["./trace", "-f"]
stdout = "file:logs/a.out"
stderr = "null"
[services.b]
binary = "sleep"
prefix = "strace -f"
config = "/etc/b.conf"
stderr = "file:/var/log/b.err"
)");
  auto config = load_config_file(path);
  REQUIRE(config);
  fs::path base = directory.path();
  CHECK(config->arm.socket == (base / "run/armd.sock").string());
  CHECK(config->arm.global_prefix ==
        std::vector<std::string>{(base / "tools/wrap").string(), "-v"});
  const ServiceSpec& a = config->services.at("a");
  CHECK(a.binary == (base / "bin/a.sh").string());
  CHECK(a.config_file == (base / "a.conf").string());
  CHECK(a.working_directory == base.string());
  CHECK(a.prefix == std::vector<std::string>{(base / "trace").string(), "-f"});
  CHECK(a.standard_output ==
        OutputTarget{OutputTarget::Kind::file, (base / "logs/a.out").string()});
  CHECK(a.standard_error == OutputTarget{OutputTarget::Kind::null, {}});
  CHECK(config->arm.log_dir == (base / "logs/armd").string());
  CHECK(a.log_file == (base / "logs/armd/a.log").string());
  // Programs without a slash are left for PATH lookup; absolute paths stay as they are.
  const ServiceSpec& b = config->services.at("b");
  CHECK(b.binary == "sleep");
  CHECK(b.prefix == std::vector<std::string>{"strace", "-f"});
  CHECK(b.config_file == "/etc/b.conf");
  CHECK(b.standard_output == OutputTarget{OutputTarget::Kind::log, {}});  // the default
  CHECK(b.standard_error == OutputTarget{OutputTarget::Kind::file, "/var/log/b.err"});
}

TEST_CASE("a file named relative to the current directory resolves against its absolute place") {
  TemporaryDirectory directory;
  directory.write("armd.toml", "[services.a]\nbinary = \"./a\"\n");
  fs::path before = fs::current_path();
  fs::current_path(directory.path());
  auto config = load_config_file("armd.toml");
  fs::current_path(before);
  REQUIRE(config);
  CHECK(config->services.at("a").binary == (directory.path() / "a").string());
  CHECK(fs::path(config->services.at("a").binary).is_absolute());
}
