// Invalid configurations: each is refused, and the error names the file, the line (and where it
// matters the column) of the offending value, and its dotted key.
#include <doctest/doctest.h>

#include "arm/config.hpp"

using namespace arm;

namespace {

ConfigError error_of(std::string_view text) {
  auto config = parse_config(text, "test.toml");
  REQUIRE_FALSE(config);
  CHECK(config.error().file == "test.toml");
  return config.error();
}

// The error is about `key`, on `line`, and its message contains `words`.
void check_refused(std::string_view text, std::string_view key, int line, std::string_view words) {
  CAPTURE(text);
  ConfigError error = error_of(text);
  CAPTURE(error.to_string());
  CHECK(error.key == key);
  CHECK(error.line == line);
  CHECK(error.message.find(words) != std::string::npos);
}

}  // namespace

TEST_CASE("an error reads FILE:LINE:COLUMN: KEY: MESSAGE") {
  auto error = error_of("[services.web]\nbinary = \"/x\"\nrestart = \"sometimes\"\n");
  CHECK(error.line == 3);
  CHECK(error.column == 11);
  CHECK(error.key == "services.web.restart");
  CHECK(error.to_string() ==
        "test.toml:3:11: services.web.restart: 'sometimes': expected one of always, on-failure, "
        "never");
}

TEST_CASE("stdout and stderr take log, inherit, null or file:PATH; stderr also stdout") {
  check_refused("[services.a]\nbinary = \"/x\"\nstdout = \"journal\"\n", "services.a.stdout", 3,
                "expected \"log\", \"inherit\", \"null\", \"file:PATH\"");
  check_refused("[services.a]\nbinary = \"/x\"\nstderr = \"journal\"\n", "services.a.stderr", 3,
                "\"file:PATH\" or \"stdout\"");
  check_refused("[services.a]\nbinary = \"/x\"\nstdout = \"stdout\"\n", "services.a.stdout", 3,
                "for stderr only");
  check_refused("[services.a]\nbinary = \"/x\"\nstderr = \"file:\"\n", "services.a.stderr", 3,
                "needs a path");
  check_refused("[services.a]\nbinary = \"/x\"\nstderr = 2\n", "services.a.stderr", 3,
                "expected a string");
}

TEST_CASE("log_buffer is a size between 1KiB and 1024MiB; crash_context_lines a count") {
  check_refused("[services.a]\nbinary = \"/x\"\nlog_buffer = \"64kb\"\n", "services.a.log_buffer",
                3, "expected bytes, as a number or with KiB or MiB");
  check_refused("[services.a]\nbinary = \"/x\"\nlog_buffer = 10\n", "services.a.log_buffer", 3,
                "between 1KiB and 1024MiB");
  check_refused("[services.a]\nbinary = \"/x\"\nlog_buffer = true\n", "services.a.log_buffer", 3,
                "expected a size");
  check_refused("[services.a]\nbinary = \"/x\"\nlog_max_size = \"1GiB\"\n",
                "services.a.log_max_size", 3, "expected bytes");
  check_refused("[services.a]\nbinary = \"/x\"\nlog_max_files = 0\n", "services.a.log_max_files", 3,
                "between 1 and 1000");
  check_refused("[services.a]\nbinary = \"/x\"\ncrash_context_lines = -1\n",
                "services.a.crash_context_lines", 3, "between 0 and 1000");
}

TEST_CASE("log_file is a path or false; log_dir a path") {
  check_refused("[services.a]\nbinary = \"/x\"\nlog_file = true\n", "services.a.log_file", 3,
                "expected a path, or false for no log file");
  check_refused("[services.a]\nbinary = \"/x\"\nlog_file = 3\n", "services.a.log_file", 3,
                "a path, or false");
  check_refused("[arm]\nlog_dir = \"\"\n", "arm.log_dir", 2, "must not be empty");
  check_refused("[arm]\nlog_dir = false\n", "arm.log_dir", 2, "expected a string");
  check_refused("[services.a]\nbinary = \"/x\"\nlog_overflow = \"lose\"\n",
                "services.a.log_overflow", 3, "expected \"block\" or \"drop\"");
}

TEST_CASE("an error without a position or a key leaves those parts out") {
  CHECK(Error::at("armd.toml", 0, 0, "", "Permission denied").to_string() ==
        "armd.toml: Permission denied");
  CHECK(Error::at("armd.toml", 0, 0, "arm.socket", "bad").to_string() ==
        "armd.toml: arm.socket: bad");
  CHECK(Error::at("armd.toml", 4, 2, "", "bad").to_string() == "armd.toml:4:2: bad");
}

TEST_CASE("unknown keys are refused, with a suggestion for near misses") {
  check_refused("[services.web]\nbinary = \"/x\"\nrestat = \"always\"\n", "services.web.restat", 3,
                "unknown key 'restat' (did you mean 'restart'?)");
  check_refused("[arm]\n\nsockett = \"/x\"\n", "arm.sockett", 3,
                "unknown key 'sockett' (did you mean 'socket'?)");
  check_refused("[services.web]\nbinary = \"/x\"\ncolour = \"blue\"\n", "services.web.colour", 3,
                "unknown key 'colour'");
  CHECK(error_of("[services.web]\nbinary = \"/x\"\ncolour = 1\n").message ==
        "unknown key 'colour'");
}

TEST_CASE("the top level holds only arm and services") {
  check_refused("[servics.web]\nbinary = \"/x\"\n", "servics", 1,
                "unknown key 'servics' (did you mean 'services'?)");
  check_refused("\nlog_level = 3\n", "log_level", 2,
                "unknown key 'log_level' (the top level holds only [arm] and [services])");
  check_refused("arm = 1\n", "arm", 1, "expected a table, got integer");
  check_refused("services = [1]\n", "services", 1, "expected a table, got array");
  check_refused("[services]\nweb = \"/bin/web\"\n", "services.web", 2,
                "expected a table, got string");
}

TEST_CASE("values of the wrong type are refused naming both types") {
  check_refused("[services.web]\nbinary = 12\n", "services.web.binary", 2,
                "expected a string, got integer");
  check_refused("[services.web]\nbinary = \"/x\"\ndebug = \"yes\"\n", "services.web.debug", 3,
                "expected true or false, got string");
  check_refused("[services.web]\nbinary = \"/x\"\noptions = 3\n", "services.web.options", 3,
                "expected a string or an array of strings, got integer");
  check_refused("[services.web]\nbinary = \"/x\"\nprefix = { a = 1 }\n", "services.web.prefix", 3,
                "expected a string or an array of strings, got table");
  check_refused("[arm]\nglobal_prefix = true\n", "arm.global_prefix", 2,
                "expected a string or an array of strings, got boolean");
  check_refused("[arm]\nsocket = 1.5\n", "arm.socket", 2, "expected a string, got float");
  check_refused("[services.web]\nbinary = \"/x\"\nenvironment = \"A=1\"\n",
                "services.web.environment", 3, "expected a table of strings, got string");
  check_refused("[services.web]\nbinary = \"/x\"\nstop_timeout = 1.5\n",
                "services.web.stop_timeout", 3, "expected a duration");
}

TEST_CASE("arrays of words refuse elements that are not strings, naming the element") {
  check_refused("[services.web]\nbinary = \"/x\"\noptions = [\"a\", 3]\n",
                "services.web.options[1]", 3, "expected a string, got integer");
  check_refused("[services.web]\nbinary = \"/x\"\nprefix = [\"strace\",\n  false]\n",
                "services.web.prefix[1]", 4, "expected a string, got boolean");
  check_refused("[arm]\nglobal_prefix = [[\"valgrind\"]]\n", "arm.global_prefix[0]", 2,
                "expected a string, got array");
  check_refused("[arm]\ndefault_services = [1]\n", "arm.default_services[0]", 2,
                "expected a string, got integer");
}

TEST_CASE("environment values must be strings and names must be usable") {
  check_refused("[services.web]\nbinary = \"/x\"\n[services.web.environment]\nPORT = 8080\n",
                "services.web.environment.PORT", 4, "expected a string, got integer");
  check_refused("[services.web]\nbinary = \"/x\"\nenvironment = { \"A=B\" = \"1\" }\n",
                "services.web.environment.A=B", 3, "without '='");
  check_refused("[services.web]\nbinary = \"/x\"\nenvironment = { \"\" = \"1\" }\n",
                "services.web.environment.", 3, "must be non-empty");
}

TEST_CASE("a service without a binary points at its table header") {
  auto error = error_of("[services.a]\nbinary = \"/x\"\n\n[services.b]\ndebug = true\n");
  CHECK(error.key == "services.b.binary");
  CHECK(error.line == 4);
  CHECK(error.column == 1);
  CHECK(error.message == "is required");
}

TEST_CASE("an empty or blank binary is refused") {
  check_refused("[services.a]\nbinary = \"\"\n", "services.a.binary", 2, "must not be empty");
  check_refused("[services.a]\nbinary = \"  \"\n", "services.a.binary", 2, "must not be empty");
  check_refused("[services.a]\nbinary = \"/x\"\nprefix = [\"\", \"-q\"]\n", "services.a.prefix[0]",
                3, "the program must not be empty");
}

TEST_CASE("empty paths are refused") {
  check_refused("[services.a]\nbinary = \"/x\"\nconfig = \"\"\n", "services.a.config", 3,
                "must not be empty");
  check_refused("[services.a]\nbinary = \"/x\"\nworking_directory = \"\"\n",
                "services.a.working_directory", 3, "must not be empty");
  check_refused("[arm]\nsocket = \"\"\n", "arm.socket", 2, "must not be empty");
}

TEST_CASE("strings with a NUL escape are refused, since C would cut them short") {
  check_refused("[services.a]\nbinary = \"/bin/a\\u0000b\"\n", "services.a.binary", 2,
                "must not contain a NUL character");
  check_refused("[services.a]\nbinary = \"/x\"\noptions = [\"-v\", \"a\\u0000\"]\n",
                "services.a.options[1]", 3, "must not contain a NUL character");
  check_refused("[services.a]\nbinary = \"/x\"\nenvironment = { A = \"\\u0000\" }\n",
                "services.a.environment.A", 3, "must not contain a NUL character");
}

TEST_CASE("a restart policy other than always, on-failure or never is refused") {
  check_refused("[services.a]\nbinary = \"/x\"\nrestart = \"Always\"\n", "services.a.restart", 3,
                "'Always': expected one of always, on-failure, never");
  check_refused("[services.a]\nbinary = \"/x\"\nrestart = true\n", "services.a.restart", 3,
                "expected a string, got boolean");
}

TEST_CASE("negative, malformed and overflowing durations are refused where they are written") {
  check_refused("[services.a]\nbinary = \"/x\"\nbackoff_max = -5\n", "services.a.backoff_max", 3,
                "must not be negative");
  check_refused("[services.a]\nbinary = \"/x\"\nstop_timeout = \"-1s\"\n",
                "services.a.stop_timeout", 3, "expected an integer followed by ms, s, m or h");
  check_refused("[services.a]\nbinary = \"/x\"\nstop_timeout = \"5 sec\"\n",
                "services.a.stop_timeout", 3,
                "'5 sec': expected an integer followed by ms, s, m or h");
  check_refused("[services.a]\nbinary = \"/x\"\nbackoff_reset_after = \"99999999999h\"\n",
                "services.a.backoff_reset_after", 3, "too large");
  check_refused("[services.a]\nbinary = \"/x\"\nretry_failed_after = 9223372036854775807\n",
                "services.a.retry_failed_after", 3, "too large");
  check_refused("[services.a]\nbinary = \"/x\"\nbackoff_initial = \"soon\"\n",
                "services.a.backoff_initial", 3, "'soon'");
}

TEST_CASE("backoff_initial above backoff_max is refused at the key that was written") {
  auto error =
      error_of("[services.a]\nbinary = \"/x\"\nbackoff_initial = \"2h\"\nbackoff_max = \"1h\"\n");
  CHECK(error.key == "services.a.backoff_initial");
  CHECK(error.line == 3);
  CHECK(error.message == "7200000 ms is more than backoff_max (3600000 ms)");
  // Only backoff_max written, below the default backoff_initial of 100ms: blame backoff_max.
  check_refused("[services.a]\nbinary = \"/x\"\nbackoff_max = \"50ms\"\n", "services.a.backoff_max",
                3, "50 ms is less than backoff_initial (default 100 ms)");
}

TEST_CASE("default services must be configured services, each listed once") {
  check_refused("[arm]\ndefault_services = [\"a\",\n  \"ghost\"]\n[services.a]\nbinary = \"/x\"\n",
                "arm.default_services[1]", 3, "'ghost' is not a configured service");
  check_refused("[arm]\ndefault_services = \"a ghost\"\n[services.a]\nbinary = \"/x\"\n",
                "arm.default_services[1]", 2, "'ghost' is not a configured service");
  check_refused("[arm]\ndefault_services = [\"ghost\"]\n", "arm.default_services[0]", 2,
                "'ghost' is not a configured service");
  check_refused(
      "[arm]\ndefault_services = [\"a\", \"b\",\n \"a\"]\n[services.a]\nbinary = "
      "\"/x\"\n[services.b]\nbinary = \"/x\"\n",
      "arm.default_services[2]", 3, "'a' is listed twice");
}

TEST_CASE("service names are restricted to what is safe on a command line") {
  check_refused("[services.\"a b\"]\nbinary = \"/x\"\n", "services.a b", 1,
                "may only contain letters, digits and _ . @ -");
  check_refused("\n[services.\"web/1\"]\nbinary = \"/x\"\n", "services.web/1", 2,
                "may only contain letters, digits and _ . @ -");
  check_refused("[services.\"\"]\nbinary = \"/x\"\n", "services.", 1,
                "a service name must not be empty");
}

TEST_CASE("the restart controls refuse values outside their range") {
  check_refused("[services.a]\nbinary = \"/x\"\nbackoff_jitter = 1.5\n",
                "services.a.backoff_jitter", 3, "must be between 0 and 1");
  check_refused("[services.a]\nbinary = \"/x\"\nbackoff_jitter = nan\n",
                "services.a.backoff_jitter", 3, "must be between 0 and 1");
  check_refused("[services.a]\nbinary = \"/x\"\nbackoff_jitter = \"0.1\"\n",
                "services.a.backoff_jitter", 3, "expected a number between 0 and 1, got string");
  check_refused("[services.a]\nbinary = \"/x\"\nmax_restarts = -1\n", "services.a.max_restarts", 3,
                "must be between 0 and 1000000");
  check_refused("[services.a]\nbinary = \"/x\"\nmax_restarts = \"forever\"\n",
                "services.a.max_restarts", 3, "expected an integer or \"unlimited\", got string");
  check_refused("[services.a]\nbinary = \"/x\"\nrestart_window = 0\n", "services.a.restart_window",
                3, "must be more than 0");
  check_refused("[services.a]\nbinary = \"/x\"\nsuccess_exit_codes = [0, 300]\n",
                "services.a.success_exit_codes[1]", 3, "exit codes are between 0 and 255");
  check_refused("[services.a]\nbinary = \"/x\"\nsuccess_exit_codes = 0\n",
                "services.a.success_exit_codes", 3, "expected an array of exit codes");
  check_refused("[services.a]\nbinary = \"/x\"\n\npermanent_failure_exit_codes = [0]\n",
                "services.a.permanent_failure_exit_codes", 4,
                "exit code 0 is also a success exit code");
}

TEST_CASE("syntax errors carry the parser's line and column and no key") {
  auto error = error_of("[services.a]\nbinary = \"/x\n");
  CHECK(error.line == 2);
  CHECK(error.column > 0);
  CHECK(error.key.empty());
  CHECK_FALSE(error.message.empty());

  error = error_of("[services.a]\nbinary = \"/x\"\n\ndebug = = true\n");
  CHECK(error.line == 4);
  CHECK(error.column == 9);

  error = error_of("[services.a]\nbinary = \"/x\"\n[services.a]\nbinary = \"/y\"\n");
  CHECK(error.line == 3);
}

TEST_CASE("control characters are refused with their position") {
  auto error = error_of(std::string_view("[services.a]\nbinary = \"/x\"\n[\0]\n", 31));
  CHECK(error.line == 3);
  CHECK(error.column == 2);
  CHECK(error.message == "control character U+0000 is not allowed in TOML");
}

TEST_CASE("config_section needs a config file and a plain name") {
  check_refused("[services.web]\nbinary = \"/x\"\nconfig_section = \"web\"\n",
                "services.web.config_section", 3, "needs `config`");
  check_refused("[services.web]\nbinary = \"/x\"\nconfig = \"/a\"\nconfig_section = \"\"\n",
                "services.web.config_section", 4, "must not be empty");
  check_refused("[services.web]\nbinary = \"/x\"\nconfig = \"/a\"\nconfig_section = \"a]b\"\n",
                "services.web.config_section", 4, "brackets");
}

TEST_CASE("an error names as much of its place as is known: file, line, column") {
  CHECK(arm::Error::at("a.toml", 3, 5, "services.web", "bad").to_string() ==
        "a.toml:3:5: services.web: bad");
  CHECK(arm::Error::at("a.conf", 3, 0, "web.PORT", "bad").to_string() == "a.conf:3: web.PORT: bad");
  CHECK(arm::Error::at("a.toml", 0, 0, "", "No such file").to_string() == "a.toml: No such file");
}

// toml++ 3.3's parser asserts on this in a debug build; libarm's must report it (the clang +
// libc++ build compiles toml++ itself, with NDEBUG as Debian does: libarm/meson.build).
TEST_CASE("a table header whose '[' ends its line is a parse error, not an abort") {
  ConfigError error = error_of("[\nbinary = 3\n");
  CAPTURE(error.to_string());
  CHECK(error.line == 1);
}
