// The execution keys (issue 15): user, group, supplementary_groups, umask, limits, nice,
// oom_score_adj, no_new_privileges, capabilities, environment_file, clear_environment. Names
// are resolved when the file is read; what is refused is refused at file:line:key.
#include <doctest/doctest.h>

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <vector>

#include "arm/config.hpp"
#include "service_keys.hpp"
#include "temporary_directory.hpp"

using namespace arm;

using test::check_refused;
using test::read_service;

namespace {

// The gids getgrouplist gives `name` with `group`, as the loader must default them.
std::vector<std::uint32_t> groups_of(const char* name, gid_t group) {
  int count = 256;
  std::vector<gid_t> found(256);
  REQUIRE(::getgrouplist(name, group, found.data(), &count) >= 0);
  return {found.begin(), found.begin() + count};
}

}  // namespace

TEST_CASE("without the keys a service has no execution settings: it runs as armd does") {
  CHECK_FALSE(read_service("").execution);
}

TEST_CASE("user by name gives its uid, home, primary group and groups from the databases") {
  const passwd* daemon_user = ::getpwnam("daemon");
  REQUIRE(daemon_user);
  ServiceSpec spec = read_service("user = \"daemon\"\n");
  REQUIRE(spec.execution);
  CHECK(spec.execution->user == daemon_user->pw_uid);
  CHECK(spec.execution->user_name == "daemon");
  CHECK(spec.execution->user_home == daemon_user->pw_dir);
  CHECK(spec.execution->group == daemon_user->pw_gid);
  CHECK(spec.execution->supplementary_groups == groups_of("daemon", daemon_user->pw_gid));
}

TEST_CASE("user by number, as an integer or a string, finds its passwd entry") {
  ServiceSpec as_integer = read_service("user = 0\n");
  CHECK(as_integer.execution->user == 0u);
  CHECK(as_integer.execution->user_name == "root");
  CHECK(as_integer.execution->group == 0u);
  CHECK(read_service("user = \"0\"\n").execution->user_name == "root");
}

TEST_CASE("a uid without a passwd entry is allowed with a group, and has no groups of its own") {
  ServiceSpec spec = read_service("user = 4000123\ngroup = 4000123\n");
  CHECK(spec.execution->user == 4000123u);
  CHECK(spec.execution->user_name.empty());
  CHECK(spec.execution->group == 4000123u);
  CHECK(spec.execution->supplementary_groups == std::vector<std::uint32_t>{});
  check_refused("user = 4000123\n", "services.a.user", 3,
                "uid 4000123 has no passwd entry, so no primary group: set `group`");
}

TEST_CASE("group and supplementary_groups override the user's, by name or number") {
  ServiceSpec spec = read_service(
      "user = \"daemon\"\ngroup = \"nogroup\"\nsupplementary_groups = [\"root\", 7, \"root\"]\n");
  CHECK(spec.execution->group == 65534u);
  CHECK(spec.execution->supplementary_groups == std::vector<std::uint32_t>{0, 7});
  // A group without a user: no supplementary groups at all, unless listed.
  ServiceSpec group_only = read_service("group = \"daemon\"\n");
  CHECK_FALSE(group_only.execution->user);
  CHECK(group_only.execution->group == 1u);
  CHECK(group_only.execution->supplementary_groups == std::vector<std::uint32_t>{});
}

TEST_CASE("an unknown user or group is refused at its line") {
  check_refused("user = \"no-such-user-arm15\"\n", "services.a.user", 3,
                "'no-such-user-arm15': no such user");
  check_refused("\ngroup = \"no-such-group-arm15\"\n", "services.a.group", 4,
                "'no-such-group-arm15': no such group");
  check_refused("supplementary_groups = [\"root\", \"no-such-group-arm15\"]\n",
                "services.a.supplementary_groups[1]", 3, "'no-such-group-arm15': no such group");
  check_refused("user = -1\n", "services.a.user", 3, "user ids are 0 to 4294967294");
  check_refused("user = \"\"\n", "services.a.user", 3, "must not be empty");
  check_refused("user = true\n", "services.a.user", 3, "expected a user name or number");
  check_refused("supplementary_groups = \"root\"\n", "services.a.supplementary_groups", 3,
                "expected an array of group names or ids");
}

TEST_CASE("umask is an octal string or an integer up to 0777") {
  CHECK(read_service("umask = \"027\"\n").execution->umask == 027u);
  CHECK(read_service("umask = \"0077\"\n").execution->umask == 077u);
  CHECK(read_service("umask = 0o022\n").execution->umask == 022u);
  CHECK(read_service("umask = \"0\"\n").execution->umask == 0u);
  for (auto bad : {"\"089\"", "\"\"", "\"1000\"", "\"27x\"", "\"-1\"", "0o1000", "-1"})
    check_refused("umask = " + std::string(bad) + "\n", "services.a.umask", 3,
                  "expected an octal mask");
  check_refused("umask = true\n", "services.a.umask", 3, "expected an octal string");
}

TEST_CASE("limits: an integer, \"unlimited\" or soft and hard, for every RLIMIT by its name") {
  ServiceSpec spec = read_service(
      "limits = { nofile = 65536, core = \"unlimited\", stack = { soft = 8388608, hard = "
      "\"unlimited\" } }\n");
  using Limit = ExecutionSettings::Limit;
  constexpr auto unlimited = ExecutionSettings::unlimited;
  // In the order of their names (toml++ keeps a table's keys sorted).
  CHECK(spec.execution->limits == std::vector<Limit>{{ResourceLimit::core, unlimited, unlimited},
                                                     {ResourceLimit::nofile, 65536, 65536},
                                                     {ResourceLimit::stack, 8388608, unlimited}});
  for (auto name : {"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}) {
    CAPTURE(name);
    ServiceSpec one = read_service("limits = { " + std::string(name) + " = 7 }\n");
    REQUIRE(one.execution->limits.size() == 1);
    CHECK(to_string(one.execution->limits[0].resource) == name);
  }
}

TEST_CASE("a bad limit is refused at its key: unknown name, soft above hard, wrong value") {
  check_refused("limits = { nofiles = 10 }\n", "services.a.limits.nofiles", 3,
                "unknown limit 'nofiles' (did you mean 'nofile'?)");
  check_refused("limits = { nofile = { soft = 20, hard = 10 } }\n", "services.a.limits.nofile.soft",
                3, "the soft limit (20) is above the hard limit (10)");
  check_refused("limits = { core = { soft = \"unlimited\", hard = 0 } }\n",
                "services.a.limits.core.soft", 3, "the soft limit (unlimited) is above");
  check_refused("limits = { nofile = { soft = 20 } }\n", "services.a.limits.nofile", 3,
                "needs both `soft` and `hard`");
  check_refused("limits = { nofile = { soft = 1, hard = 2, max = 3 } }\n",
                "services.a.limits.nofile.max", 3, "expected only `soft` and `hard`");
  check_refused("limits = { nofile = -1 }\n", "services.a.limits.nofile", 3,
                "must not be negative");
  check_refused("limits = { nofile = \"lots\" }\n", "services.a.limits.nofile", 3,
                "expected an integer, \"unlimited\" or { soft, hard }");
  check_refused("limits = 5\n", "services.a.limits", 3, "expected a table of limits");
}

TEST_CASE("nice is -20 to 19, oom_score_adj -1000 to 1000") {
  CHECK(read_service("nice = -20\n").execution->nice == -20);
  CHECK(read_service("nice = 19\n").execution->nice == 19);
  CHECK(read_service("oom_score_adj = -1000\n").execution->oom_score_adj == -1000);
  CHECK(read_service("oom_score_adj = 1000\n").execution->oom_score_adj == 1000);
  check_refused("nice = 20\n", "services.a.nice", 3, "20: must be between -20 and 19");
  check_refused("nice = -21\n", "services.a.nice", 3, "must be between -20 and 19");
  check_refused("nice = \"5\"\n", "services.a.nice", 3, "expected an integer");
  check_refused("oom_score_adj = 1001\n", "services.a.oom_score_adj", 3,
                "1001: must be between -1000 and 1000");
  check_refused("oom_score_adj = -1001\n", "services.a.oom_score_adj", 3,
                "must be between -1000 and 1000");
}

TEST_CASE("capabilities by their names in capabilities(7), with or without CAP_, any case") {
  ServiceSpec spec =
      read_service("capabilities = [\"CAP_NET_BIND_SERVICE\", \"sys_time\", \"Cap_Chown\"]\n");
  CHECK(spec.execution->capabilities == ((1ULL << 10) | (1ULL << 25) | (1ULL << 0)));
  CHECK(read_service("capabilities = [\"checkpoint_restore\"]\n").execution->capabilities ==
        1ULL << 40);
  CHECK(capability_name(10) == "CAP_NET_BIND_SERVICE");
  CHECK(capability_name(41).empty());
  check_refused("capabilities = [\"net_bind_service\", \"CAP_NET_BIND\"]\n",
                "services.a.capabilities[1]", 3, "'CAP_NET_BIND': unknown capability");
  check_refused("capabilities = \"CAP_CHOWN\"\n", "services.a.capabilities", 3,
                "expected an array of capability names");
}

TEST_CASE("no_new_privileges, clear_environment and environment_file are read") {
  ServiceSpec spec = read_service(
      "no_new_privileges = true\nclear_environment = true\nenvironment_file = \"/etc/a.env\"\n");
  CHECK(spec.execution->no_new_privileges);
  CHECK(spec.execution->clear_environment);
  CHECK(spec.execution->environment_file == "/etc/a.env");
  check_refused("no_new_privileges = 1\n", "services.a.no_new_privileges", 3,
                "expected true or false");
  check_refused("environment_file = \"\"\n", "services.a.environment_file", 3, "must not be empty");
}

TEST_CASE("a relative environment_file is resolved against the configuration's directory") {
  TemporaryDirectory directory;
  auto path = directory.write("armd.toml", R"([services.a]
binary = "/x"
environment_file = "env/a.env"
)");
  auto config = load_config_file(path);
  REQUIRE(config);
  CHECK(config->services.at("a").execution->environment_file ==
        (directory.path() / "env/a.env").string());
}

TEST_CASE("check_config refuses execution settings built in code that the loader would refuse") {
  Config config;
  ServiceSpec spec;
  spec.name = "a";
  spec.binary = "/x";
  ExecutionSettings execution;
  execution.user = 1000;  // without a group: the child would keep armd's
  execution.nice = 20;
  execution.oom_score_adj = -1001;
  execution.umask = 01000;
  execution.limits = {{ResourceLimit::nofile, 20, 10}};
  execution.capabilities = 1ULL << 41;
  spec.execution = execution;
  config.services.emplace("a", spec);
  auto checked = check_config(config);
  REQUIRE_FALSE(checked);
  std::string all;
  for (const auto& error : checked.error()) all += error.to_string() + "\n";
  CAPTURE(all);
  for (auto key : {"services.a.group", "services.a.nice", "services.a.oom_score_adj",
                   "services.a.umask", "services.a.limits.nofile", "services.a.capabilities"})
    CHECK(all.find(key) != std::string::npos);
  execution = ExecutionSettings{};
  execution.user = 1000;
  execution.group = 1000;
  config.services.at("a").execution = execution;
  CHECK(check_config(config));
}

TEST_CASE("{instance} in user and groups is replaced before the name is looked up") {
  auto config = parse_config(R"([services."job@"]
binary = "/bin/true"
user = "{instance}"
supplementary_groups = ["{instance}"]
environment_file = "/etc/{instance}.env"
instances = ["daemon", "root"]
)",
                             "test.toml");
  if (!config) FAIL(config.error().to_string());
  const passwd* daemon_user = ::getpwnam("daemon");
  REQUIRE(daemon_user);
  const auto& daemon_execution = config->services.at("job@daemon").execution;
  REQUIRE(daemon_execution);
  CHECK(daemon_execution->user == daemon_user->pw_uid);
  CHECK(daemon_execution->user_name == "daemon");
  CHECK(daemon_execution->group == daemon_user->pw_gid);
  CHECK(daemon_execution->supplementary_groups ==
        std::vector<std::uint32_t>{static_cast<std::uint32_t>(::getgrnam("daemon")->gr_gid)});
  CHECK(daemon_execution->environment_file == "/etc/daemon.env");
  CHECK(config->services.at("job@root").execution->user == 0u);
  // An instance whose user does not exist is refused at the template's line, naming it.
  auto refused = parse_config(R"([services."job@"]
binary = "/bin/true"
user = "arm15-{instance}"
instances = ["gone"]
)",
                              "test.toml");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().to_string().find("'arm15-gone': no such user") != std::string::npos);
  CHECK(refused.error().to_string().find("test.toml:3:") != std::string::npos);
}
