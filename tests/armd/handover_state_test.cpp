// What one armd hands the armd it execs (armd/daemon/handover_state.*): every field comes
// through, names with spaces, backslashes and line breaks included; what is not a handover is
// refused with the place named. (test_reexec.py runs the real thing.)
#include <doctest/doctest.h>

#include <string>

#include <fmt/format.h>

#include "daemon/handover_state.hpp"

using armd::HandoverState;

namespace {

HandoverState sample() {
  HandoverState state;
  state.supervisor = "version = 1\n[[services]]\nname = \"web\"\n";
  state.config_text = "[services.web]\nbinary = \"/bin/sleep\"\n";
  state.config_path = "/etc/armd/armd.toml";
  state.socket_path = "/run/armd.sock";
  state.cgroup = "/sys/fs/cgroup/unified/armd-1";
  state.control_lock_fd = 4;
  state.control_listen_fd = 5;
  state.notify_fd = 6;
  state.children = {{1001, "web"}, {1002, "odd name\\with\nbreak"}};
  state.output_pipes = {
      {1001, "web", false, 10}, {1001, "web", true, 11}, {1002, "a b\\n", true, 12}};
  state.readiness_pipes = {{1002, 13}};
  state.listeners = {{"unix:/run/with space.sock", 14}, {"tcp:127.0.0.1:8080", 15}};
  state.reply_fd = 7;
  state.reply_id = 42;
  state.requested_at_ns = 123456789;
  state.unavailable_since_ns = 123999999;
  return state;
}

// What the new armd reads: the memfd's text.
std::string handed_over(const HandoverState& state) {
  auto memfd = armd::write_handover(state);
  REQUIRE(memfd.has_value());
  auto text = armd::read_whole(memfd->get());
  REQUIRE(text.has_value());
  return *text;
}

}  // namespace

TEST_CASE("a handover comes through whole, whatever the names hold") {
  HandoverState sent = sample();
  auto received = armd::decode_handover(handed_over(sent));
  REQUIRE(received.has_value());
  CHECK(received->supervisor == sent.supervisor);
  CHECK(received->config_text == sent.config_text);
  CHECK(received->config_path == sent.config_path);
  CHECK(received->socket_path == sent.socket_path);
  CHECK(received->cgroup == sent.cgroup);
  CHECK(received->control_lock_fd == 4);
  CHECK(received->control_listen_fd == 5);
  CHECK(received->notify_fd == 6);
  REQUIRE(received->children.size() == 2);
  CHECK(received->children[1].pid == 1002);
  CHECK(received->children[1].cgroup == "odd name\\with\nbreak");
  REQUIRE(received->output_pipes.size() == 3);
  CHECK(received->output_pipes[1].standard_error);
  CHECK(!received->output_pipes[0].standard_error);
  CHECK(received->output_pipes[2].service == "a b\\n");
  CHECK(received->output_pipes[2].fd == 12);
  REQUIRE(received->readiness_pipes.size() == 1);
  CHECK(received->readiness_pipes[0].fd == 13);
  REQUIRE(received->listeners.size() == 2);
  CHECK(received->listeners[0].address == "unix:/run/with space.sock");
  CHECK(received->reply_fd == 7);
  CHECK(received->reply_id == 42);
  CHECK(received->requested_at_ns == 123456789);
  CHECK(received->unavailable_since_ns == 123999999);
  CHECK(received->descriptors() == sent.descriptors());
}

TEST_CASE("paths that are bytes, not UTF-8, come through (JSON would refuse them)") {
  HandoverState sent = sample();
  sent.config_path = "/etc/armd/caf\xe9.toml";
  sent.socket_path = "/run/\xff\xfe.sock";
  sent.cgroup =
      "/sys/fs/cgroup/unified/\x80"
      "armd";
  auto received = armd::decode_handover(handed_over(sent));
  REQUIRE(received.has_value());
  CHECK(received->config_path == sent.config_path);
  CHECK(received->socket_path == sent.socket_path);
  CHECK(received->cgroup == sent.cgroup);
}

TEST_CASE("a handover of the first armd of this format, its paths in the header, is read") {
  // What that armd wrote: the paths as JSON strings, no path lines.
  std::string supervisor = "version = 1\n";
  std::string lines = "child 7 web\n";
  std::string text = fmt::format(
      "{{\"armd_handover\":1,\"config_path\":\"/etc/a.toml\",\"socket_path\":\"/run/a.sock\","
      "\"cgroup\":\"\",\"control_lock_fd\":3,\"control_listen_fd\":4,\"notify_fd\":-1,"
      "\"reply_fd\":-1,\"reply_id\":null,\"requested_at_ns\":1,\"unavailable_since_ns\":2,"
      "\"descriptor_bytes\":{},\"supervisor_bytes\":{},\"config_bytes\":0}}\n{}{}",
      lines.size(), supervisor.size(), lines, supervisor);
  auto received = armd::decode_handover(text);
  REQUIRE(received.has_value());
  CHECK(received->config_path == "/etc/a.toml");
  CHECK(received->socket_path == "/run/a.sock");
  CHECK(received->cgroup.empty());
  REQUIRE(received->children.size() == 1);
  CHECK(received->supervisor == supervisor);
}

TEST_CASE("an empty handover: no descriptors, no texts") {
  HandoverState sent;
  auto received = armd::decode_handover(handed_over(sent));
  REQUIRE(received.has_value());
  CHECK(received->children.empty());
  CHECK(received->supervisor.empty());
}

TEST_CASE("what is not a handover is refused, the place named") {
  std::string text = handed_over(sample());
  auto error_of = [](const std::string& changed) {
    auto decoded = armd::decode_handover(changed);
    return decoded ? std::string("no error") : decoded.error();
  };
  SUBCASE("no header") {
    CHECK(error_of("nothing") == "handover: no header line");
  }
  SUBCASE("another version") {
    std::string other = text;
    other.replace(other.find("\"armd_handover\":1"), 17, "\"armd_handover\":9");
    CHECK(error_of(other) == "handover: format version 9, this armd reads version 1");
  }
  SUBCASE("a byte more or less") {
    CHECK(error_of(text + "x").find("bytes follow the header") != std::string::npos);
    CHECK(error_of(text.substr(0, text.size() - 1)).find("bytes follow the header") !=
          std::string::npos);
  }
  SUBCASE("a descriptor line of another kind") {
    std::string other = text;
    other.replace(other.find("readiness 1002"), 9, "readyness");
    CHECK(error_of(other) ==
          "handover: descriptor line 9: \"readyness\" is not a kind of descriptor");
  }
  SUBCASE("a number that is not one") {
    std::string other = text;
    other.replace(other.find("child 1001"), 10, "child 10x1");
    CHECK(error_of(other) == "handover: descriptor line 4: pid: \"10x1\" is not a number");
  }
  SUBCASE("a stream that is neither") {
    std::string other = text;
    other.replace(other.find(" stdout "), 8, " stdin  ");
    CHECK(error_of(other) ==
          "handover: descriptor line 6: stream: \"stdin\" is neither stdout nor stderr");
  }
  SUBCASE("a missing field of the header") {
    std::string other = text;
    other.replace(other.find("\"notify_fd\""), 11, "\"notify_fx\"");
    CHECK(error_of(other) == "handover: notify_fd: missing");
  }
}
