// Template services (issue 15): `[services."worker@"]` with `instances` becomes one service per
// instance, `{instance}` replaced in every string; what is wrong is refused at the template's
// file:line:key, naming the instance when only one instance is at fault.
#include <doctest/doctest.h>

#include <string>

#include "arm/config.hpp"

using namespace arm;

namespace {

Config load(const std::string& text) {
  auto config = parse_config(text, "test.toml");
  if (!config) FAIL(config.error().to_string());
  return *config;
}

Error refused(const std::string& text) {
  auto config = parse_config(text, "test.toml");
  REQUIRE_FALSE(config);
  return config.error();
}

}  // namespace

TEST_CASE("a count of instances gives name@1 to name@N, each with its own {instance}") {
  Config config = load(R"([services."worker@"]
binary = "/usr/bin/worker"
options = ["--id", "{instance}", "--name", "{name}"]
environment = { SHARD = "shard-{instance}" }
log_file = "/var/log/worker-{instance}.log"
instances = 3
)");
  REQUIRE(config.services.size() == 3);
  for (std::string instance : {"1", "2", "3"}) {
    CAPTURE(instance);
    const ServiceSpec& spec = config.services.at("worker@" + instance);
    CHECK(spec.name == "worker@" + instance);
    // {name} is left for the spawn, which gives it the instance's full name.
    CHECK(spec.options == std::vector<std::string>{"--id", instance, "--name", "{name}"});
    CHECK(spec.environment.at("SHARD") == "shard-" + instance);
    CHECK(*spec.log_file == "/var/log/worker-" + instance + ".log");
  }
  CHECK_FALSE(config.services.contains("worker@"));
}

TEST_CASE("named instances, a socket each, and dependencies on an instance") {
  Config config = load(R"([services."db@"]
binary = "/usr/bin/db"
instances = ["main", "replica"]
listen = ["unix:/run/db-{instance}.sock"]

[services."web@"]
binary = "/usr/bin/web"
instances = ["eu", "us"]
depends_on = ["db@main"]

[services.report]
binary = "/usr/bin/report"
depends_on = ["db@replica", "web@eu"]
)");
  CHECK(config.services.at("db@main").listen.at(0).path == "/run/db-main.sock");
  CHECK(config.services.at("db@replica").listen.at(0).path == "/run/db-replica.sock");
  CHECK(config.services.at("web@us").depends_on == std::vector<std::string>{"db@main"});
  CHECK(config.services.at("report").depends_on.size() == 2);
}

TEST_CASE("a template needs instances, and only a template has them") {
  Error error = refused("[services.\"worker@\"]\nbinary = \"/x\"\n");
  CHECK(error.line == 1);
  CHECK(error.message.find("needs `instances`") != std::string::npos);

  error = refused("[services.worker]\nbinary = \"/x\"\ninstances = 2\n");
  CHECK(error.key == "services.worker.instances");
  CHECK(error.line == 3);
  CHECK(error.message.find("only a template") != std::string::npos);

  error = refused("[services.\"@\"]\nbinary = \"/x\"\ninstances = 2\n");
  CHECK(error.message.find("a name before the '@'") != std::string::npos);
}

TEST_CASE("instances that cannot be are refused at their element") {
  Error error = refused("[services.\"w@\"]\nbinary = \"/x\"\ninstances = 0\n");
  CHECK(error.key == "services.w@.instances");
  CHECK(error.line == 3);
  error = refused("[services.\"w@\"]\nbinary = \"/x\"\ninstances = [\"a\", \"b c\"]\n");
  CHECK(error.key == "services.w@.instances[1]");
  CHECK(error.message.find("letters, digits") != std::string::npos);
  error = refused("[services.\"w@\"]\nbinary = \"/x\"\ninstances = [\"a\", \"a\"]\n");
  CHECK(error.message.find("listed twice") != std::string::npos);
  error = refused("[services.\"w@\"]\nbinary = \"/x\"\ninstances = [\"x@y\"]\n");
  CHECK(error.key == "services.w@.instances[0]");
  error = refused("[services.\"w@\"]\nbinary = \"/x\"\ninstances = true\n");
  CHECK(error.message.find("an integer or an array of strings") != std::string::npos);
}

TEST_CASE("an error in the template is reported at the template's line, naming the instance") {
  Error error = refused(R"([services."w@"]
binary = "/x"
instances = ["a"]
backoff_max = "soon"
)");
  CHECK(error.file == "test.toml");
  CHECK(error.key == "services.w@.backoff_max");
  CHECK(error.line == 4);
  CHECK(error.message.find("(in instance 'a')") != std::string::npos);

  // Only one instance makes the socket wrong: its element, and which instance.
  error = refused(R"([services."w@"]
binary = "/x"
instances = ["80", "99999"]
listen = ["tcp:127.0.0.1:{instance}"]
)");
  CHECK(error.key == "services.w@.listen[0]");
  CHECK(error.line == 4);
  CHECK(error.message.find("(in instance '99999')") != std::string::npos);
}

TEST_CASE("an instance and a service of the same name are refused") {
  Error error = refused(R"([services."w@"]
binary = "/x"
instances = 2

[services."w@2"]
binary = "/y"
)");
  CHECK(error.message.find("'w@2' is defined twice") != std::string::npos);
}

TEST_CASE("with [arm] log_dir, an instance keeps the template's own log_file, or its opt-out") {
  Config config = load(R"([arm]
log_dir = "/var/log/arm"

[services."w@"]
binary = "/x"
instances = 2
log_file = "/var/log/w-{instance}.log"

[services."quiet@"]
binary = "/x"
instances = ["a"]
log_file = false

[services."plain@"]
binary = "/x"
instances = ["a"]
)");
  CHECK(config.services.at("w@1").log_file == "/var/log/w-1.log");
  CHECK(config.services.at("w@2").log_file == "/var/log/w-2.log");
  CHECK_FALSE(config.services.at("quiet@a").log_file);
  CHECK(config.services.at("plain@a").log_file == "/var/log/arm/plain@a.log");
}

TEST_CASE("a socket every instance lists (no {instance} in it) is refused at the template's line") {
  Error error = refused(R"([services."w@"]
binary = "/x"
instances = 2
listen = ["unix:/run/w.sock"]
)");
  CHECK(error.message.find("also listed by service 'w@1'") != std::string::npos);
  CHECK(error.line == 4);
  CHECK(error.key.starts_with("services.w@"));
}

TEST_CASE("a dependency an instance cannot have is refused at the template's line") {
  // db@{instance}: db has no instance 2.
  Error error = refused(R"([services."db@"]
binary = "/x"
instances = ["1"]

[services."w@"]
binary = "/x"
instances = 2
depends_on = ["db@{instance}"]
)");
  CHECK(error.message.find("'db@2' is not a configured service") != std::string::npos);
  CHECK(error.key == "services.w@2.depends_on[0]");
  CHECK(error.line == 8);

  // A cycle through instances: w@1 -> v@1 -> w@1.
  error = refused(R"([services."w@"]
binary = "/x"
instances = 1
depends_on = ["v@{instance}"]

[services."v@"]
binary = "/x"
instances = 1
depends_on = ["w@{instance}"]
)");
  CHECK(error.message.find("cycle") != std::string::npos);
  CHECK(error.line != 0);
}
