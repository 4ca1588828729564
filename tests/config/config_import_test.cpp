// armctl import (issue 17 item 3), through the public API (arm/config_import.hpp): every
// fixture under tests/config/import/ converts to the TOML and the notes written beside it
// (FILE.toml, FILE.notes), and that TOML is one armd's own loader accepts. Then bad input:
// each a clear error naming file and line, never a crash.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "arm/config.hpp"
#include "arm/config_import.hpp"

namespace {

const std::filesystem::path fixtures = ARM_IMPORT_FIXTURES;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The fixtures are read as if they were in /etc/supervisor/conf.d (%(here)s), imported by a
// user whose $HOME is /home/app (%(ENV_HOME)s).
arm::ImportSource source_of(const std::string& name, std::string text) {
  return {name, "/etc/supervisor/conf.d", std::move(text),
          [](const std::string& variable) -> std::optional<std::string> {
            if (variable == "HOME") return std::string("/home/app");
            return std::nullopt;
          }};
}

std::expected<arm::ImportResult, arm::Error> import_text(const std::string& name,
                                                         std::string text) {
  auto format = arm::detect_import_format(name, text);
  REQUIRE_MESSAGE(format.has_value(), name);
  return arm::import_config(source_of(name, std::move(text)), *format);
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures)) {
    auto name = entry.path().filename().string();
    if (!name.ends_with(".toml") && !name.ends_with(".notes")) names.push_back(name);
  }
  std::ranges::sort(names);
  return names;
}

// The loader resolves users and groups in this machine's passwd and group databases: the
// fixtures' redis, memcache or celery are not on every machine, so those lines are left out of
// the text the loader checks (everything else is checked as armd reads it).
std::string without_identities(const std::string& toml) {
  std::istringstream lines(toml);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("user = ") || line.starts_with("group = ") ||
        line.starts_with("supplementary_groups = "))
      continue;
    out += line + "\n";
  }
  return out;
}

std::string error_of(const std::string& name, const std::string& text) {
  auto result = import_text(name, text);
  REQUIRE_FALSE(result.has_value());
  return result.error().to_string();
}

}  // namespace

TEST_CASE("there are at least six supervisord and six systemd fixtures") {
  auto names = fixture_names();
  auto services =
      std::ranges::count_if(names, [](const auto& n) { return n.ends_with(".service"); });
  auto programs = std::ranges::count_if(names, [](const auto& n) { return n.ends_with(".conf"); });
  CHECK(services >= 6);
  CHECK(programs >= 6);
}

TEST_CASE("each fixture converts to the TOML and the notes beside it") {
  for (const auto& name : fixture_names()) {
    CAPTURE(name);
    auto result = import_text(name, read_text(fixtures / name));
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().to_string()));
    CHECK(result->toml == read_text(fixtures / (name + ".toml")));
    std::string notes;
    for (const auto& note : result->notes) notes += note + "\n";
    CHECK(notes == read_text(fixtures / (name + ".notes")));
  }
}

TEST_CASE("the TOML of each fixture loads with armd's own loader") {
  for (const auto& name : fixture_names()) {
    CAPTURE(name);
    auto toml = read_text(fixtures / (name + ".toml"));
    auto config = arm::parse_config(without_identities(toml), name + ".toml");
    CHECK_MESSAGE(config.has_value(), (config ? "" : config.error().to_string()));
  }
}

TEST_CASE("the format is told from the name or the sections, or not at all") {
  CHECK(arm::detect_import_format("x.service", "") == arm::ImportFormat::systemd);
  CHECK(arm::detect_import_format("x.conf", "; c\n  [program:a]\n") ==
        arm::ImportFormat::supervisord);
  CHECK_FALSE(arm::detect_import_format("x.conf", "[unix_http_server]\nx=[program:a]\n"));
  CHECK(arm::parse_import_format("systemd") == arm::ImportFormat::systemd);
  CHECK_FALSE(arm::parse_import_format("runit"));
}

TEST_CASE("a supervisord syntax error names the file and the line") {
  CHECK(error_of("a.conf", "[program:a]\ncommand=/bin/true\n[wrong\n") ==
        "a.conf:3:1: a section header without its closing ']'");
  CHECK(error_of("a.conf", "[program:a]\ncommand=/bin/true\njust words\n") ==
        "a.conf:3:1: 'just words' is neither a [section], a key = value nor a comment");
  CHECK(error_of("a.conf", "[program:a]\ncommand=/bin/sh -c 'echo\n") ==
        "a.conf:2:1: [program:a] command: no closing ' quotation");
  CHECK(error_of("a.conf", "[program:a]\ncommand=/bin/x %(nope)s\n") ==
        "a.conf:2:1: [program:a] command: '%(nope)s' names nothing supervisord defines "
        "here");
  CHECK(error_of("a.conf", "[program:a]\ncommand=/bin/x 100%\n") ==
        "a.conf:2:1: [program:a] command: a '%' that is neither '%%' nor '%(name)s' "
        "(write '%%' for a percent sign)");
  CHECK(error_of("a.conf", "[program:a]\n") == "a.conf:1:1: [program:a] has no command");
  CHECK(error_of("a.conf", "[program:a]\ncommand=/bin/x\nautostart=maybe\n") ==
        "a.conf:3:1: [program:a] autostart: expected true or false");
}

TEST_CASE("a supervisord section kind it does not know is an error, not skipped") {
  CHECK(error_of("a.conf", "[program:a]\ncommand=/bin/true\n[programme:b]\ncommand=x\n") ==
        "a.conf:3:1: [programme:b] is not a section supervisord knows ([program:NAME], "
        "[group:NAME], [supervisord], [include], ...)");
}

TEST_CASE("a systemd syntax error names the file and the line") {
  CHECK(error_of("a.service", "[Service]\nExecStart=/bin/sh -c \"echo\n") ==
        "a.service:2:1: ExecStart: no closing \" quotation");
  CHECK(error_of("a.service", "[Service]\nExecStart=/bin/x \\q\n") ==
        "a.service:2:1: ExecStart: '\\q' is not an escape systemd knows");
  CHECK(error_of("a.service", "[Service]\nExecStart=/bin/sleep \\\n") ==
        "a.service:2:1: the line is continued with '\\' but the file ends");
  CHECK(error_of("a.service", "[Socket]\nListenStream=80\n") ==
        "a.service:1:1: [Socket] is not a section of a service unit ([Unit], [Service], "
        "[Install]): armctl import reads .service files");
  CHECK(error_of("a.service", "ExecStart=/bin/x\n") ==
        "a.service:1:1: an assignment before any [Section] header");
  CHECK(error_of("a.service", "[Service]\nType=forking\n") ==
        "a.service: ExecStart: the unit has no ExecStart=: nothing to run");
  CHECK(error_of("a.service", "[Service]\nExecStart=/bin/x\nRestartSec=soon\n") ==
        "a.service:3:1: RestartSec: expected a time span");
}

TEST_CASE("a NUL byte or a huge line is an error at its line") {
  std::string nul = std::string("[Service]\nExecStart=/bin/x") + '\0' + "y\n";
  CHECK(error_of("a.service", nul) == "a.service:2:1: a NUL byte: this is not a text file");
  std::string huge = "[program:a]\ncommand=/bin/x " + std::string(100'000, 'a') + "\n";
  CHECK(error_of("a.conf", huge) == "a.conf:2:1: a line of 100015 bytes (at most 65536 are read)");
  std::string continued = "[Service]\n";
  for (int i = 0; i < 5000; ++i) continued += "ExecStart=/bin/x aaaaaaaaaaaaaa \\\n";
  continued += "end\n";
  CHECK(error_of("a.service", continued) == "a.service:2:1: a continued line longer than 64 KiB");
}

TEST_CASE("a huge width in a %(process_num) format is capped at 64, not overflowed") {
  // Found by fuzz_import: the width was read into an int without a bound.
  // Quoted, so the padding stays in the word (supervisord splits after expanding).
  auto result =
      import_text("a.conf", "[program:a]\ncommand=/bin/x \"%(process_num)99999999999d\"\n");
  REQUIRE(result.has_value());
  CHECK(result->toml.find("'" + std::string(63, ' ') + "0'") != std::string::npos);
}

// --- found by a review (issue 17 item 3) --------------------------------------------------------

namespace {

std::string toml_of(const std::string& name, const std::string& text) {
  auto result = import_text(name, text);
  REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().to_string()));
  return result->toml;
}

std::string notes_of(const std::string& name, const std::string& text) {
  auto result = import_text(name, text);
  REQUIRE(result.has_value());
  std::string notes;
  for (const auto& note : result->notes) notes += note + "\n";
  return notes;
}

}  // namespace

TEST_CASE("a unit without TimeoutStopSec= gets systemd's 90 s, not armd's 5 s") {
  auto toml = toml_of("a.service", "[Service]\nExecStart=/bin/sleep 100\nRestart=always\n");
  CHECK(toml.find("stop_timeout = '90s'") != std::string::npos);
  // And systemd's restart pacing: 100 ms every time, 5 within 10 s.
  CHECK(toml.find("backoff_max = '100ms'") != std::string::npos);
  CHECK(toml.find("max_restarts = 5") != std::string::npos);
  CHECK(toml.find("restart_window = '10s'") != std::string::npos);
}

TEST_CASE("StartLimitIntervalSec=0 turns the limit off whatever the burst says") {
  auto toml = toml_of("b.service",
                      "[Unit]\nStartLimitBurst=3\nStartLimitIntervalSec=0\n"
                      "[Service]\nExecStart=/bin/x\nRestart=always\n");
  CHECK(toml.find("max_restarts = 'unlimited'") != std::string::npos);
  CHECK(toml.find("restart_window") == std::string::npos);
}

TEST_CASE("StartLimitBurst=0 is no limit, as systemd reads it, not 'never restart'") {
  auto toml = toml_of("b0.service",
                      "[Unit]\nStartLimitBurst=0\n[Service]\nExecStart=/bin/x\nRestart=always\n");
  CHECK(toml.find("max_restarts = 'unlimited'") != std::string::npos);
  CHECK(toml.find("max_restarts = 0") == std::string::npos);
}

TEST_CASE("StartLimitIntervalSec=infinity is a window that never ends, not 'unlimited'") {
  auto toml = toml_of("inf.service",
                      "[Unit]\nStartLimitIntervalSec=infinity\nStartLimitBurst=3\n"
                      "[Service]\nExecStart=/bin/x\nRestart=always\n");
  CHECK(toml.find("max_restarts = 3") != std::string::npos);
  CHECK(toml.find("restart_window = '876000h'") != std::string::npos);
  CHECK(arm::parse_config(toml, "inf.toml").has_value());
}

TEST_CASE("StartLimitInterval=, systemd's older spelling, is read like StartLimitIntervalSec=") {
  std::string off = "[Unit]\nStartLimitInterval=0\n[Service]\nExecStart=/bin/x\nRestart=always\n";
  CHECK(toml_of("i0.service", off).find("max_restarts = 'unlimited'") != std::string::npos);
  CHECK(notes_of("i0.service", off).find("StartLimitInterval") == std::string::npos);
  std::string window =
      "[Service]\nExecStart=/bin/x\nRestart=always\nStartLimitInterval=200\nStartLimitBurst=3\n";
  auto toml = toml_of("i200.service", window);
  CHECK(toml.find("restart_window = '200s'") != std::string::npos);
  CHECK(toml.find("max_restarts = 3") != std::string::npos);
}

TEST_CASE("a start limit given twice is the later assignment's, in whichever section or spelling") {
  // systemd reads the file in order: [Service]'s older placement after [Unit] overrides it.
  auto toml = toml_of("twice.service",
                      "[Unit]\nStartLimitBurst=3\nStartLimitIntervalSec=30\n"
                      "[Service]\nExecStart=/bin/x\nRestart=always\nStartLimitBurst=7\n"
                      "StartLimitInterval=60\n");
  CHECK(toml.find("max_restarts = 7") != std::string::npos);
  CHECK(toml.find("restart_window = '60s'") != std::string::npos);
  // The newer spelling first, the older after it: the older one's value, as systemd reads it.
  auto later_older = toml_of("spelling.service",
                             "[Unit]\nStartLimitIntervalSec=30\nStartLimitInterval=45\n"
                             "[Service]\nExecStart=/bin/x\nRestart=always\n");
  CHECK(later_older.find("restart_window = '45s'") != std::string::npos);
  // Neither overridden assignment is reported as a key armd does not know.
  CHECK(notes_of("twice.service",
                 "[Unit]\nStartLimitBurst=3\n[Service]\nExecStart=/bin/x\nRestart=always\n"
                 "StartLimitBurst=7\n")
            .find("StartLimitBurst") == std::string::npos);
}

TEST_CASE("a command whose variables expand past what execve takes is an error, not gigabytes") {
  std::string words;
  for (int i = 0; i < 3000; ++i) words += " w";
  std::string many = "[Service]\nEnvironment=\"A=" + words + "\"\nExecStart=/bin/true";
  for (int i = 0; i < 1000; ++i) many += " $A";
  CHECK(error_of("many.service", many + "\n").find("ExecStart") != std::string::npos);
  std::string wide =
      "[Service]\nEnvironment=A=" + std::string(60'000, 'x') + "\nExecStart=/bin/echo ";
  for (int i = 0; i < 10; ++i) wide += "${A}";
  CHECK(error_of("wide.service", wide + "\n").find("longer than a program's arguments") !=
        std::string::npos);
  // Within the bounds the expansion is carried as before.
  CHECK(toml_of("ok.service", "[Service]\nEnvironment=A=a\nExecStart=/bin/echo $A ${A}b\n")
            .find("options = [ 'a', 'ab' ]") != std::string::npos);
}

TEST_CASE("an Environment= name systemd would ignore is left out with a note, never written") {
  std::string unit =
      "[Service]\nExecStart=/bin/sleep 1\nEnvironment=\"D'=1\" \"a b=3\" 9X=4 GOOD_1=ok\n";
  auto toml = toml_of("envq.service", unit);
  CHECK(toml.find("GOOD_1 = 'ok'") != std::string::npos);
  CHECK(toml.find("D'") == std::string::npos);
  CHECK(toml.find("9X") == std::string::npos);
  CHECK(arm::parse_config(toml, "envq.toml").has_value());
  CHECK(notes_of("envq.service", unit).find("'a b' is not a variable name") != std::string::npos);
}

TEST_CASE("a unit's service gets a clean environment with systemd's PATH, as under systemd") {
  auto toml = toml_of("c.service", "[Service]\nExecStart=/bin/x\n");
  CHECK(toml.find("clear_environment = true") != std::string::npos);
  CHECK(toml.find("PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'") !=
        std::string::npos);
  // A PATH the unit sets is the one kept.
  CHECK(toml_of("p.service", "[Service]\nEnvironment=PATH=/opt/bin\nExecStart=/bin/x\n")
            .find("PATH = '/opt/bin'") != std::string::npos);
}

TEST_CASE("SupplementaryGroups= are listed once, with a note that armd replaces the user's") {
  std::string unit =
      "[Service]\nExecStart=/bin/x\nUser=mail\nSupplementaryGroups=adm adm\n"
      "SupplementaryGroups=systemd-journal\n";
  CHECK(toml_of("g.service", unit).find("supplementary_groups = [ 'adm', 'systemd-journal' ]") !=
        std::string::npos);
  CHECK(notes_of("g.service", unit).find("armd's supplementary_groups replaces them") !=
        std::string::npos);
}

TEST_CASE("a $VAR set by Environment= in a unit with an EnvironmentFile= is noted") {
  std::string unit =
      "[Service]\nEnvironment=OPTS=-v\nEnvironmentFile=/etc/default/t\n"
      "ExecStart=/usr/bin/sleep $OPTS\n";
  CHECK(notes_of("t.service", unit).find("an EnvironmentFile= may set it otherwise") !=
        std::string::npos);
}

TEST_CASE("supervisord: startretries=0 is not armd's max_restarts = 0; none and auto any case") {
  std::string program =
      "[program:a]\ncommand=/bin/sleep 5\nautorestart=true\nstartretries=0\n"
      "stdout_logfile=none\nstderr_logfile=Auto\n";
  auto toml = toml_of("r.conf", program);
  CHECK(toml.find("max_restarts = 'unlimited'") != std::string::npos);
  CHECK(toml.find("stdout = 'null'") != std::string::npos);
  CHECK(toml.find("file:") == std::string::npos);
  CHECK(notes_of("r.conf", program).find("startretries=0: supervisord gives up") !=
        std::string::npos);
}

TEST_CASE("supervisord: a program that runs past startsecs is restarted without limit") {
  // startretries (3) within 3 x startsecs: a process that ran startsecs each time can restart
  // at most 3 times in the window, so only faster failures trip armd's limit.
  auto toml = toml_of("f.conf", "[program:flap]\ncommand=/bin/x\nautorestart=true\nstartsecs=1\n");
  CHECK(toml.find("max_restarts = 3") != std::string::npos);
  CHECK(toml.find("restart_window = '3s'") != std::string::npos);
  auto slow = toml_of("s.conf", "[program:s]\ncommand=/bin/x\nstartsecs=10\nstartretries=5\n");
  CHECK(slow.find("max_restarts = 5") != std::string::npos);
  CHECK(slow.find("restart_window = '50s'") != std::string::npos);
  // A window past armd's 100 years is written as 100 years, and loads.
  auto huge =
      toml_of("h.conf", "[program:h]\ncommand=/bin/x\nstartretries=1000000\nstartsecs=86400\n");
  CHECK(huge.find("restart_window = '3153600000s'") != std::string::npos);
  CHECK(arm::parse_config(huge, "h.toml").has_value());
  // startsecs=0: supervisord counts every start as a success, so it never gives up.
  CHECK(toml_of("z.conf", "[program:z]\ncommand=/bin/x\nstartsecs=0\n")
            .find("max_restarts = 'unlimited'") != std::string::npos);
  // autorestart=false restarts nothing: no limit to write.
  CHECK(
      toml_of("n.conf", "[program:n]\ncommand=/bin/x\nautorestart=false\n").find("max_restarts") ==
      std::string::npos);
}

TEST_CASE("hostile sizes are refused quickly: keys, sections and processes in all") {
  std::string keys = "[program:a]\ncommand=/bin/x\n";
  for (int i = 0; i < 10'001; ++i) keys += fmt::format("k{}=1\n", i);
  CHECK(error_of("k.conf", keys).find("more than 10000 keys in [program:a]") != std::string::npos);
  std::string sections;
  for (int i = 0; i < 10'001; ++i) sections += fmt::format("[program:p{}]\ncommand=/bin/x\n", i);
  CHECK(error_of("s.conf", sections).find("more than 10000 sections") != std::string::npos);
  std::string processes;
  for (int i = 0; i < 3; ++i)
    processes += fmt::format(
        "[program:p{}]\ncommand=/bin/x\nnumprocs=5000\n"
        "process_name=%(program_name)s_%(process_num)d\n",
        i);
  CHECK(error_of("n.conf", processes).find("more than 10000 processes in all") !=
        std::string::npos);
}

TEST_CASE("supervisord: user and umask are %-expanded as every [program] value is") {
  auto toml = toml_of("u.conf", "[program:www]\ncommand=/bin/x\nuser=%(program_name)s\n");
  CHECK(toml.find("user = 'www'") != std::string::npos);
}

TEST_CASE("a $VAR word is split as systemd splits it: its own quotes keep words together") {
  auto toml = toml_of("q.service",
                      "[Service]\nEnvironment='OPTS=-a \"b c\" d'\nExecStart=/bin/echo $OPTS x\n");
  CHECK(toml.find("options = [ '-a', 'b c', 'd', 'x' ]") != std::string::npos);
}

TEST_CASE("%I is the instance with systemd-escape's escaping undone, %i as written") {
  auto toml =
      toml_of("fsck@dev-disk-by\\x2duuid-1234.service", "[Service]\nExecStart=/sbin/fsck %I\n");
  CHECK(toml.find("options = [ 'dev/disk/by-uuid/1234' ]") != std::string::npos);
}
