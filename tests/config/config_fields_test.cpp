// Valid configurations: every key lands in its field, the defaults are the documented ones, and
// the short (string) and exact (array) forms of word lists mean what docs/config.md says.
#include <doctest/doctest.h>

#include "arm/config.hpp"

using namespace arm;
using namespace std::chrono_literals;
using Words = std::vector<std::string>;

namespace {
Config parsed(std::string_view text) {
  auto config = parse_config(text, "test.toml");
  if (!config) FAIL(config.error().to_string());
  return *config;
}
}  // namespace

TEST_CASE("every documented key is read into its field") {
  Config config = parsed(R"([arm]
socket = "/run/x.sock"
default_services = ["web", "db"]
global_prefix = "valgrind -q"

[services.web]
binary = "/usr/bin/web"
config = "/etc/web.conf"
config_section = "web"
prefix = ["strace", "-f"]
options = "--x  y"
debug = true
restart = "on-failure"
backoff_initial = "1ms"
backoff_max = "30m"
backoff_reset_after = "2h"
stop_timeout = 2500
backoff_jitter = 0.25
max_restarts = 5
restart_window = "90s"
retry_failed_after = "10m"
success_exit_codes = [0, 143]
permanent_failure_exit_codes = [78]
environment = { KEY = "value", OTHER = "2" }
working_directory = "/srv"
stdout = "log"
stderr = "stdout"
log_buffer = "2MiB"
crash_context_lines = 5
log_file = "/var/log/web.log"
log_max_size = "1MiB"
log_max_files = 3
log_overflow = "drop"

[services.db]
binary = "postgres"
)");
  CHECK(config.arm.socket == "/run/x.sock");
  CHECK(config.arm.default_services == Words{"web", "db"});
  CHECK(config.arm.global_prefix == Words{"valgrind", "-q"});
  REQUIRE(config.services.size() == 2);

  const ServiceSpec& web = config.services.at("web");
  CHECK(web.name == "web");
  CHECK(web.binary == "/usr/bin/web");
  CHECK(web.config_file == "/etc/web.conf");
  CHECK(web.config_section == "web");
  CHECK(web.prefix == Words{"strace", "-f"});
  CHECK(web.options == Words{"--x", "y"});
  CHECK(web.debug);
  CHECK(web.restart == RestartPolicy::on_failure);
  CHECK(web.backoff_initial == 1ms);
  CHECK(web.backoff_max == 30min);
  CHECK(web.backoff_reset_after == 2h);
  CHECK(web.stop_timeout == 2500ms);
  CHECK(web.backoff_jitter == doctest::Approx(0.25));
  CHECK(web.max_restarts == 5u);
  CHECK(web.restart_window == 90s);
  CHECK(web.retry_failed_after == 10min);
  CHECK(web.success_exit_codes == std::vector<int>{0, 143});
  CHECK(web.permanent_failure_exit_codes == std::vector<int>{78});
  CHECK(web.environment == std::map<std::string, std::string>{{"KEY", "value"}, {"OTHER", "2"}});
  CHECK(web.working_directory == "/srv");
  CHECK(web.standard_output == OutputTarget{OutputTarget::Kind::log, {}});
  CHECK(web.standard_error == OutputTarget{OutputTarget::Kind::same_as_stdout, {}});
  CHECK(web.log_buffer == 2 * 1024 * 1024);
  CHECK(web.crash_context_lines == 5);
  CHECK(web.log_file == "/var/log/web.log");
  CHECK(web.log_max_size == 1024 * 1024);
  CHECK(web.log_max_files == 3);
  CHECK(web.log_overflow == ServiceSpec::LogOverflow::drop);
  CHECK(config.services.at("db").name == "db");
}

TEST_CASE("a service with only a binary gets the documented defaults") {
  Config config = parsed("[services.a]\nbinary = \"sleep\"\n");
  ServiceSpec expected;
  expected.name = "a";
  expected.binary = "sleep";  // no slash: left for PATH lookup
  CHECK(config.services.at("a") == expected);
  // Spelled out, so a changed initialiser in the header shows up here and in docs/config.md.
  const ServiceSpec& a = config.services.at("a");
  CHECK(a.restart == RestartPolicy::always);
  CHECK(a.backoff_initial == 100ms);
  CHECK(a.backoff_max == 30min);
  CHECK(a.backoff_reset_after == 10s);
  CHECK(a.stop_timeout == 5s);
  CHECK(a.restart_window == 60s);
  CHECK(a.success_exit_codes == std::vector<int>{0});
  CHECK_FALSE(a.debug);
  CHECK_FALSE(a.prefix);
  CHECK_FALSE(a.config_file);
  CHECK_FALSE(a.working_directory);
  CHECK(a.max_restarts == 5u);  // the default restart intensity: 5 within 60 s
  CHECK_FALSE(a.retry_failed_after);
  CHECK(a.options.empty());
  CHECK(a.environment.empty());
  CHECK(a.standard_output == OutputTarget{OutputTarget::Kind::log, {}});
  CHECK(a.standard_error == OutputTarget{OutputTarget::Kind::log, {}});
  CHECK(a.log_buffer == 64 * 1024);
  CHECK(a.crash_context_lines == 20);
  CHECK_FALSE(a.log_file);
  CHECK(a.log_max_size == 10 * 1024 * 1024);
  CHECK(a.log_max_files == 5);
  CHECK(a.log_overflow == ServiceSpec::LogOverflow::block);
}

TEST_CASE("[arm] log_dir gives each service without a log_file <log_dir>/<name>.log") {
  Config config = parsed(R"([arm]
log_dir = "/var/log/armd"

[services.web]
binary = "/x"

[services.db]
binary = "/x"
log_file = "/srv/db.log"

[services.quiet]
binary = "/x"
log_file = false

[services."worker@1"]
binary = "/x"
)");
  CHECK(config.arm.log_dir == "/var/log/armd");
  CHECK(config.services.at("web").log_file == "/var/log/armd/web.log");
  CHECK(config.services.at("db").log_file == "/srv/db.log");
  CHECK_FALSE(config.services.at("quiet").log_file);
  CHECK(config.services.at("worker@1").log_file == "/var/log/armd/worker@1.log");
}

TEST_CASE("log_file = false without a log_dir is simply no log file") {
  CHECK_FALSE(
      parsed("[services.a]\nbinary = \"/x\"\nlog_file = false\n").services.at("a").log_file);
}

TEST_CASE("max_restarts = \"unlimited\" asks for no restart intensity at all") {
  Config config = parsed("[services.a]\nbinary = \"/x\"\nmax_restarts = \"unlimited\"\n");
  CHECK_FALSE(config.services.at("a").max_restarts);
}

TEST_CASE("an empty document is an empty configuration") {
  CHECK(parsed("") == Config{});
  CHECK(parsed("[arm]\n[services]\n") == Config{});
}

TEST_CASE("a string of words is split on runs of whitespace, an array is taken as written") {
  Config config = parsed(R"([arm]
global_prefix = "  valgrind	 --tool=memcheck   -q "
[services.split]
binary = "/x"
prefix = "strace -f"
options = "  --name  web	--verbose "
[services.exact]
binary = "/x"
prefix = ["time"]
options = ["--name", "my web", ""]
)");
  CHECK(config.arm.global_prefix == Words{"valgrind", "--tool=memcheck", "-q"});
  CHECK(config.services.at("split").prefix == Words{"strace", "-f"});
  CHECK(config.services.at("split").options == Words{"--name", "web", "--verbose"});
  CHECK(config.services.at("exact").prefix == Words{"time"});
  // An empty argument is an argument: only the string form drops empty pieces.
  CHECK(config.services.at("exact").options == Words{"--name", "my web", ""});
}

TEST_CASE("an empty prefix is set, and so overrides the global prefix with nothing") {
  Config config = parsed(R"([arm]
global_prefix = "valgrind"
[services.a]
binary = "/x"
prefix = []
[services.b]
binary = "/x"
prefix = ""
)");
  CHECK(config.services.at("a").prefix == Words{});
  CHECK(config.services.at("b").prefix == Words{});
}

TEST_CASE("default services may be written as one string of names") {
  Config config = parsed(R"([arm]
default_services = "a  b"
[services.a]
binary = "/x"
[services.b]
binary = "/x"
)");
  CHECK(config.arm.default_services == Words{"a", "b"});
}

TEST_CASE("each restart policy is read") {
  CHECK(parsed("[services.a]\nbinary = \"/x\"\nrestart = \"always\"\n").services.at("a").restart ==
        RestartPolicy::always);
  CHECK(parsed("[services.a]\nbinary = \"/x\"\nrestart = \"on-failure\"\n")
            .services.at("a")
            .restart == RestartPolicy::on_failure);
  CHECK(parsed("[services.a]\nbinary = \"/x\"\nrestart = \"never\"\n").services.at("a").restart ==
        RestartPolicy::never);
}

TEST_CASE("durations are read from integers (milliseconds) and from each unit") {
  Config config = parsed(R"([services.a]
binary = "/x"
backoff_initial = 250
backoff_max = "2h"
backoff_reset_after = "3m"
stop_timeout = "0"
restart_window = "15s"
retry_failed_after = "750ms"
)");
  const ServiceSpec& a = config.services.at("a");
  CHECK(a.backoff_initial == 250ms);
  CHECK(a.backoff_max == 2h);
  CHECK(a.backoff_reset_after == 3min);
  CHECK(a.stop_timeout == 0ms);
  CHECK(a.restart_window == 15s);
  CHECK(a.retry_failed_after == 750ms);
}

TEST_CASE("backoff_initial may equal backoff_max") {
  CHECK(parsed("[services.a]\nbinary = \"/x\"\nbackoff_initial = \"1s\"\nbackoff_max = 1000\n")
            .services.at("a")
            .backoff_max == 1s);
}

TEST_CASE("service names may use letters, digits and _ . @ -") {
  Config config = parsed("[services.\"getty@tty1.v2_x-y\"]\nbinary = \"/x\"\n");
  CHECK(config.services.contains("getty@tty1.v2_x-y"));
}

TEST_CASE("text that came from no file keeps relative paths as written") {
  Config config = parsed(R"([arm]
socket = "run/armd.sock"
global_prefix = "tools/wrap -v"
[services.a]
binary = "bin/a"
config = "a.conf"
working_directory = "srv"
prefix = "./trace"
)");
  CHECK(config.arm.socket == "run/armd.sock");
  CHECK(config.arm.global_prefix == Words{"tools/wrap", "-v"});
  const ServiceSpec& a = config.services.at("a");
  CHECK(a.binary == "bin/a");
  CHECK(a.config_file == "a.conf");
  CHECK(a.working_directory == "srv");
  CHECK(a.prefix == Words{"./trace"});
}

TEST_CASE("a service may be written as an inline table or with dotted keys") {
  Config config = parsed(R"(services.a = { binary = "/a", debug = true }
services.b.binary = "/b"
)");
  CHECK(config.services.at("a").debug);
  CHECK(config.services.at("b").binary == "/b");
}
