// How the core holds a spec (issue 9, fourth round): the identity in each service's record, the
// settings in a block shared by every service whose settings are equal.
#include <doctest/doctest.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"
#include "stored_spec.hpp"

using namespace arm;
using namespace arm::detail;
using namespace std::chrono_literals;

// The identity is read from the record only: from the shared block it would be empty.
template <class T>
concept has_name = requires(const T& t) {
  t.name;
};
template <class T>
concept has_binary = requires(const T& t) {
  t.binary;
};
template <class T>
concept has_options = requires(const T& t) {
  t.options;
};
template <class T>
concept has_config_file = requires(const T& t) {
  t.config_file;
};
template <class T>
concept has_stop_timeout = requires(const T& t) {
  t.stop_timeout;
};
static_assert(has_name<ServiceSpec> && !has_name<SharedSettings>);
static_assert(has_binary<ServiceSpec> && !has_binary<SharedSettings>);
static_assert(has_options<ServiceSpec> && !has_options<SharedSettings>);
static_assert(has_config_file<ServiceSpec> && !has_config_file<SharedSettings>);
template <class T>
concept has_depends_on = requires(const T& t) {
  t.depends_on;
};
static_assert(has_depends_on<ServiceSpec> && !has_depends_on<SharedSettings>);
static_assert(has_stop_timeout<SharedSettings>);

namespace {

// A service with every field of ServiceSpec away from its default.
ServiceSpec everything_set(std::string name) {
  ServiceSpec spec = testing::service(name);
  spec.binary = "/usr/bin/" + name;
  spec.config_file = "/etc/" + name + ".conf";
  spec.config_section = name;
  spec.prefix = std::vector<std::string>{"nice", "-n", "5"};
  spec.options = {"--port", "80" + name};
  spec.debug = true;
  spec.restart = RestartPolicy::on_failure;
  spec.backoff_initial = 250ms;
  spec.backoff_max = 60s;
  spec.backoff_reset_after = 20s;
  spec.stop_timeout = 3s;
  spec.backoff_jitter = 0.25;
  spec.max_restarts = 9;
  spec.restart_window = 90s;
  spec.retry_failed_after = 10min;
  spec.success_exit_codes = {0, 3};
  spec.permanent_failure_exit_codes = {78};
  spec.environment = {{"MODE", "fast"}};
  spec.working_directory = "/srv/" + name;
  spec.standard_output = OutputTarget{OutputTarget::Kind::file, "/var/log/all.out"};
  spec.standard_error = OutputTarget{OutputTarget::Kind::same_as_stdout, {}};
  spec.log_buffer = 4096;
  spec.log_file = "/var/log/" + name + ".log";
  spec.log_max_size = 1024;
  spec.log_max_files = 2;
  spec.crash_context_lines = 7;
  spec.depends_on = {"db"};
  spec.wants = {"cache"};
  spec.restart_with_dependencies = false;
  spec.log_overflow = ServiceSpec::LogOverflow::drop;
  spec.readiness = Readiness{Readiness::Kind::fd, 3, 0ms};
  spec.start_timeout = 30s;
  spec.watchdog = 15s;
  return spec;
}

}  // namespace

TEST_CASE("a stored spec put back together is the spec it was made of, every field") {
  SettingsPool pool;
  ServiceSpec spec = everything_set("web");
  StoredSpec stored(spec, pool);
  CHECK(stored.joined() == spec);
  CHECK(stored.identity().name == "web");
  CHECK(stored.settings().stop_timeout == 3s);
}

TEST_CASE("services whose settings are equal share one block; their identities stay their own") {
  SettingsPool pool;
  StoredSpec web(everything_set("web"), pool);
  StoredSpec api(everything_set("api"), pool);
  CHECK(pool.size() == 1);
  CHECK(&web.settings() == &api.settings());
  CHECK(web.joined() == everything_set("web"));
  CHECK(api.joined() == everything_set("api"));

  ServiceSpec slower = everything_set("batch");
  slower.stop_timeout = 60s;
  StoredSpec batch(slower, pool);
  CHECK(pool.size() == 2);
  CHECK(batch.settings().stop_timeout == 60s);
  CHECK(web.settings().stop_timeout == 3s);
}

TEST_CASE("services that differ only in their dependencies share one block") {
  SettingsPool pool;
  ServiceSpec web = everything_set("web");
  ServiceSpec api = everything_set("api");
  api.depends_on = {"db", "queue"};
  api.wants = {};
  ServiceSpec batch = everything_set("batch");
  batch.depends_on = {};
  batch.wants = {};
  StoredSpec stored_web(web, pool);
  StoredSpec stored_api(api, pool);
  StoredSpec stored_batch(batch, pool);
  CHECK(pool.size() == 1);
  CHECK(std::ranges::equal(stored_api.depends_on(), std::vector<std::string_view>{"db", "queue"}));
  CHECK(stored_api.wants().empty());
  CHECK(stored_batch.depends_on().empty());
  CHECK_FALSE(stored_batch.identity().dependencies.has_value());
  CHECK(stored_web.joined() == web);
  CHECK(stored_api.joined() == api);
  CHECK(stored_batch.joined() == batch);
}

TEST_CASE("storing a spec leaves it as it was, whether the pool had its settings or not") {
  SettingsPool pool;
  ServiceSpec web = everything_set("web");
  const ServiceSpec before = web;
  StoredSpec first(web, pool);  // a new block: the settings are copied
  CHECK(web == before);
  StoredSpec second(web, pool);  // the block found: nothing copied
  CHECK(web == before);
  CHECK(&first.settings() == &second.settings());
}

TEST_CASE("a block is freed with its last user, and made again when needed") {
  SettingsPool pool;
  {
    StoredSpec web(testing::service("web"), pool);
    {
      StoredSpec api(testing::service("api"), pool);
      CHECK(pool.size() == 1);
    }
    CHECK(pool.size() == 1);
  }
  CHECK(pool.size() == 0);
  StoredSpec again(testing::service("web"), pool);
  CHECK(pool.size() == 1);
}

TEST_CASE("settings that hash alike but differ get blocks of their own") {
  // The hash leaves these fields out: equality alone tells the blocks apart.
  SettingsPool pool;
  ServiceSpec quiet = testing::service("quiet");
  quiet.crash_context_lines = 1;
  ServiceSpec chatty = testing::service("chatty");
  chatty.crash_context_lines = 100;
  REQUIRE(settings_hash(SharedSettings(quiet)) == settings_hash(SharedSettings(chatty)));
  StoredSpec a(quiet, pool);
  StoredSpec b(chatty, pool);
  CHECK(pool.size() == 2);
  CHECK(a.joined() == quiet);
  CHECK(b.joined() == chatty);
}

TEST_CASE("stored specs are equal when both parts are; replace keeps the name's buffer") {
  SettingsPool pool;
  StoredSpec web(everything_set("web"), pool);
  CHECK(web == StoredSpec(everything_set("web"), pool));
  ServiceSpec other_options = everything_set("web");
  other_options.options = {"--port", "81"};
  CHECK_FALSE(web == StoredSpec(other_options, pool));
  ServiceSpec other_settings = everything_set("web");
  other_settings.restart = RestartPolicy::never;
  CHECK_FALSE(web == StoredSpec(other_settings, pool));

  ServiceSpec long_name = everything_set("a-service-whose-name-is-past-fifteen-characters");
  StoredSpec stored(long_name, pool);
  const char* buffer = stored.identity().name.data();
  long_name.stop_timeout = 9s;
  stored.replace(StoredSpec(long_name, pool));
  CHECK(stored.identity().name.data() == buffer);
  CHECK(stored.joined() == long_name);
  CHECK(pool.size() == 2);  // the block web shares, and the new 9 s one
}

TEST_CASE("services of one program hold its path once, freed when no service names it") {
  SettingsPool pool;
  ServiceSpec web = testing::service("web");
  web.binary = "/opt/a-program-whose-path-is-long/bin/server";
  ServiceSpec api = web;
  api.name = "api";
  {
    StoredSpec stored_web(web, pool);
    StoredSpec stored_api(api, pool);
    CHECK(pool.texts() == 1);
    CHECK(stored_web.identity().binary == stored_api.identity().binary);
    CHECK(stored_api.joined() == api);
    StoredSpec other(testing::service("other"), pool);
    CHECK(pool.texts() == 2);
    CHECK(*other.identity().binary == "/usr/bin/other");
  }
  CHECK(pool.texts() == 0);
}

TEST_CASE(
    "config() gives back the health check, environment and options with empty words or NULs") {
  ServiceSpec web = everything_set("web");
  web.options = {"", std::string("a\0b", 3), "--port", ""};
  web.environment = {{"A", ""}, {"B", std::string("x\0y", 3)}};
  HealthCheck check;
  check.kind = HealthCheck::Kind::http;
  check.on_unhealthy = HealthCheck::OnUnhealthy::ignore;
  check.failures = 5;
  check.interval = 30s;
  check.timeout = 3s;
  check.start_period = 1min;
  check.address = {"::1", 8080, true};
  check.http_host = "[::1]:8080";
  check.http_path = "/healthz";
  web.health = check;
  web.readiness = Readiness{};
  web.readiness.kind = Readiness::Kind::notify;  // the watchdog needs it
  ServiceSpec api = web;                         // the same settings, another identity
  api.name = "api";
  api.options = {};
  api.depends_on = {};
  api.wants = {};
  web.depends_on = {};
  web.wants = {};
  testing::SupervisorRig rig(testing::config_with({web, api}));
  Config config = rig.supervisor.config();
  CHECK(config.services.at("web") == web);
  CHECK(config.services.at("api") == api);
}
