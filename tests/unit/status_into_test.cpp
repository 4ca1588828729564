// status_into: a service's status written into a reused ServiceStatus (armd's `status NAME`
// path) says exactly what status(name) says, whatever the status held before.
#include <doctest/doctest.h>

#include "arm/testing.hpp"
#include "arm/testing_doctest.hpp"

using namespace arm;
using namespace std::chrono_literals;
using testing::SupervisorRig;

namespace {

void check_same(const ServiceStatus& got, const ServiceStatus& expected) {
  CAPTURE(expected.name);
  CHECK(got.name == expected.name);
  CHECK(got.state == expected.state);
  CHECK(got.pid == expected.pid);
  CHECK(got.restarts == expected.restarts);
  CHECK(got.refcount == expected.refcount);
  CHECK(got.last_exit == expected.last_exit);
  CHECK(got.last_exit_at == expected.last_exit_at);
  CHECK(got.running_since == expected.running_since);
  CHECK(got.depends_on == expected.depends_on);
  CHECK(got.wants == expected.wants);
  CHECK(got.waiting_for == expected.waiting_for);
  CHECK(got.next_restart_at == expected.next_restart_at);
  CHECK(got.next_backoff == expected.next_backoff);
  CHECK(got.last_error == expected.last_error);
  CHECK(got.status_text == expected.status_text);
  CHECK(got.error_number == expected.error_number);
}

Config four_services() {
  ServiceSpec api = testing::service("api");
  api.readiness.kind = Readiness::Kind::notify;
  ServiceSpec batch = testing::service("batch");
  batch.backoff_initial = 1s;
  batch.wants = {"api"};
  ServiceSpec db = testing::service("db");
  db.backoff_initial = 1s;
  ServiceSpec web = testing::service("web");
  web.depends_on = {"db"};
  return testing::config_with({api, batch, db, web});
}

}  // namespace

TEST_CASE("status_into says what status(name) says, over a status that held another service") {
  SupervisorRig rig(four_services());
  rig.supervisor.start(rig.request(), "api");
  rig.notify("api", {.status = "loading 40%", .error_number = 13});  // starting, with a text
  rig.supervisor.start(rig.request(), "batch");
  rig.exit("batch");  // backoff: an exit, a deadline, an error
  rig.supervisor.start(rig.request(), "db");
  rig.exit("db");
  rig.supervisor.start(rig.request(), "web");  // waiting for db, in backoff
  REQUIRE(rig.state_of("web") == ServiceState::waiting);

  ServiceStatus reused;
  // Each order, so that every field is once written over a value another service left there.
  for (const char* name : {"api", "batch", "web", "db", "api", "web", "batch", "api"}) {
    REQUIRE(rig.supervisor.status_into(name, reused));
    check_same(reused, *rig.supervisor.status(name));
  }
}

TEST_CASE("status_into leaves the status unchanged for a name no service has") {
  SupervisorRig rig(four_services());
  ServiceStatus reused;
  REQUIRE(rig.supervisor.status_into("api", reused));
  CHECK_FALSE(rig.supervisor.status_into("ap", reused));
  CHECK(reused.name == "api");
}
