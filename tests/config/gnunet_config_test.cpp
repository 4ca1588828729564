// GNUnet's configuration read as GNUnet's ARM (0.19) reads it, through the public API: the
// defaults under the user's file, $-expansion, one service per section with a BINARY, the argv
// ARM starts it with, when it starts, its sockets, and a warning for each ARM key armd does not
// apply. Nothing here touches the filesystem: the sources are given in memory.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>

#include "arm/config.hpp"
#include "temporary_directory.hpp"

using namespace arm;

namespace {

constexpr const char* libexec = "/usr/lib/x86_64-linux-gnu/gnunet/libexec";

GnunetSources sources(std::string user_text, std::vector<GnunetSources::File> defaults = {},
                      std::map<std::string, std::string> environment = {}) {
  GnunetSources sources;
  sources.config_file = "/home/peer/.config/gnunet.conf";
  sources.config_text = std::move(user_text);
  sources.defaults = std::move(defaults);
  sources.environment = [environment](const std::string& name) -> std::optional<std::string> {
    auto found = environment.find(name);
    if (found == environment.end()) return std::nullopt;
    return found->second;
  };
  sources.libexec_directory = libexec;
  return sources;
}

GnunetConfig loaded(const GnunetSources& from) {
  auto config = parse_gnunet_config_text(from);
  REQUIRE_MESSAGE(config.has_value(), (config ? "" : config.error().to_string()));
  return std::move(*config);
}

GnunetConfig loaded(std::string user_text) {
  return loaded(sources(std::move(user_text)));
}

Error failure(std::string user_text) {
  auto config = parse_gnunet_config_text(sources(std::move(user_text)));
  REQUIRE_FALSE(config.has_value());
  return config.error();
}

std::vector<std::string> argv_of(const GnunetConfig& gnunet, const std::string& name) {
  REQUIRE(gnunet.config.services.contains(name));
  return compose_argv(gnunet.config.services.at(name), gnunet.config.arm);
}

std::vector<std::string> words(std::initializer_list<const char*> list) {
  return {list.begin(), list.end()};
}

// Debian's own defaults for two services, abridged (/usr/share/gnunet/config.d).
const GnunetSources::File statistics_defaults{"/usr/share/gnunet/config.d/statistics.conf",
                                              "[statistics]\n"
                                              "START_ON_DEMAND = YES\n"
                                              "BINARY = gnunet-service-statistics\n"
                                              "UNIXPATH = $GNUNET_RUNTIME_DIR/"
                                              "gnunet-service-statistics.sock\n"
                                              "UNIX_MATCH_UID = NO\n"
                                              "UNIX_MATCH_GID = YES\n"};
const GnunetSources::File paths_defaults{
    "/usr/share/gnunet/config.d/util.conf",
    "[PATHS]\n"
    "GNUNET_HOME = ${GNUNET_TEST_HOME:-${HOME:-${USERPROFILE}}}\n"
    "GNUNET_RUNTIME_DIR = ${TMPDIR:-${TMP:-/tmp}}/"
    "gnunet-system-runtime/\n"};

}  // namespace

TEST_CASE("the defaults lie under the user's file, which overrides them key by key") {
  auto gnunet = loaded(sources("[statistics]\nUNIX_MATCH_GID = NO\n",
                               {paths_defaults, statistics_defaults}, {{"TMPDIR", "/run/t"}}));
  REQUIRE(gnunet.config.services.size() == 1);
  const ServiceSpec& statistics = gnunet.config.services.at("statistics");
  CHECK(statistics.binary == std::string(libexec) + "/gnunet-service-statistics");
  REQUIRE(statistics.listen.size() == 1);
  CHECK(to_string(statistics.listen[0]) ==
        "unix:/run/t/gnunet-system-runtime//gnunet-service-statistics.sock");
  CHECK(statistics.listen_mode == 0666);  // the user's UNIX_MATCH_GID = NO
  CHECK(statistics.start == StartMode::on_demand);
  CHECK(gnunet.warnings.empty());
}

TEST_CASE("$VAR and ${VAR:-default} come from [PATHS] first, then the environment") {
  auto gnunet = loaded(
      sources("[PATHS]\n"
              "RUN = /run/peer\n"
              "NESTED = $RUN/nested\n"
              "[s]\n"
              "BINARY = /opt/$NAME/bin/s\n"
              "OPTIONS = $NESTED ${UNSET:-${RUN}/fallback} ${HOME:-x} $HOME/y\n",
              {}, {{"NAME", "gnunet"}, {"HOME", "/home/peer"}, {"RUN", "/from/environment"}}));
  CHECK(argv_of(gnunet, "s") ==
        words({"/opt/gnunet/bin/s", "-c", "/home/peer/.config/gnunet.conf", "/run/peer/nested",
               "/run/peer/fallback", "/home/peer", "/home/peer/y"}));
}

TEST_CASE("a $NAME that is set nowhere stays as written, with one warning per name") {
  auto gnunet = loaded(
      "[s]\nBINARY = /bin/s\nOPTIONS = $NOWHERE/a $NOWHERE/b $A$B\n"
      "[PATHS]\nB = b\n");
  CHECK(argv_of(gnunet, "s") == words({"/bin/s", "-c", "/home/peer/.config/gnunet.conf",
                                       "$NOWHERE/a", "$NOWHERE/b", "$Ab"}));
  // $NOWHERE once; and "$A$B" is looked up as the name "A$B" (a name ends only at '/', '\' or
  // a space), which is not set, so its '$' stays and "$B" is expanded after it, as GNUnet does.
  REQUIRE(gnunet.warnings.size() == 2);
  CHECK(gnunet.warnings[0].find("$A$B is set neither") != std::string::npos);
  CHECK(gnunet.warnings[1] ==
        "/home/peer/.config/gnunet.conf:3: [s] OPTIONS: $NOWHERE is set neither in [PATHS] nor "
        "in the environment; kept as written");
}

TEST_CASE("a variable that refers to itself is an error at the value that uses it") {
  auto error = failure("[PATHS]\nLOOP = $LOOP/x\n[s]\nBINARY = /bin/s\nOPTIONS = $LOOP\n");
  CHECK(error.line == 5);
  CHECK(error.key == "s.OPTIONS");
  CHECK(error.message.find("nested deeper than 64") != std::string::npos);
}

TEST_CASE("variables that double at each level are an error, not a gigabyte string") {
  std::string paths = "[PATHS]\nV0 = sixteen-letters!\n";
  for (int i = 1; i <= 40; ++i)
    paths += "V" + std::to_string(i) + " = $V" + std::to_string(i - 1) + " $V" +
             std::to_string(i - 1) + "\n";
  auto error = failure(paths + "[s]\nBINARY = /bin/s\nOPTIONS = $V40\n");
  CHECK(error.key == "s.OPTIONS");
  CHECK(error.message == "expands to more than 64 KiB");
}

TEST_CASE("empty variables that double at each level are an error, not a loop for ever") {
  // The text stays empty and shallow while the look-ups double: 2^40 of them without a bound
  // (GNUnet's gnunet-config hangs on this).
  std::string paths = "[PATHS]\nL0 =\n";
  for (int i = 1; i <= 40; ++i)
    paths += "L" + std::to_string(i) + " = ${L" + std::to_string(i - 1) + "}${L" +
             std::to_string(i - 1) + "}\n";
  auto error = failure(paths + "[s]\nBINARY = /bin/s\nOPTIONS = ${L40}\n");
  CHECK(error.key == "s.OPTIONS");
  CHECK(error.line == 45);
  CHECK(error.message.find("expands through more than 100000 variables") != std::string::npos);
}

TEST_CASE("the argv is ARM's: PREFIX, BINARY, -c CONFIG, -L DEBUG, GLOBAL_POSTFIX, OPTIONS") {
  auto gnunet = loaded(
      "[arm]\n"
      "GLOBAL_PREFIX = nice -n 5\n"
      "GLOBAL_POSTFIX = -l /var/log/gnunet/{}-%Y-%m-%d.log\n"
      "[statistics]\n"
      "BINARY = gnunet-service-statistics\n"
      "DEBUG = YES\n"
      "OPTIONS = -x \"two words\"\n"
      "[identity]\n"
      "BINARY = gnunet-service-identity\n"
      "PREFIX = valgrind --log-file=/tmp/{}.vg\n"
      "[nat]\n"
      "BINARY = /usr/local/bin/gnunet-service-nat\n"
      "PREFIX =\n");
  CHECK(argv_of(gnunet, "statistics") ==
        words({"nice", "-n", "5",
               "/usr/lib/x86_64-linux-gnu/gnunet/libexec/gnunet-service-statistics", "-c",
               "/home/peer/.config/gnunet.conf", "-L", "DEBUG", "-l",
               "/var/log/gnunet/statistics-%Y-%m-%d.log", "-x", "two words"}));
  // PREFIX replaces GLOBAL_PREFIX ({} is GLOBAL_POSTFIX's only); an empty one removes it.
  CHECK(argv_of(gnunet, "identity") ==
        words({"valgrind", "--log-file=/tmp/{}.vg",
               "/usr/lib/x86_64-linux-gnu/gnunet/libexec/gnunet-service-identity", "-c",
               "/home/peer/.config/gnunet.conf", "-l", "/var/log/gnunet/identity-%Y-%m-%d.log"}));
  CHECK(argv_of(gnunet, "nat") ==
        words({"/usr/local/bin/gnunet-service-nat", "-c", "/home/peer/.config/gnunet.conf", "-l",
               "/var/log/gnunet/nat-%Y-%m-%d.log"}));
}

TEST_CASE("-c names the section's CONFIG, else [PATHS] DEFAULTCONFIG, else the user's file") {
  auto gnunet = loaded(
      "[PATHS]\nDEFAULTCONFIG = /etc/gnunet.conf\n"
      "[a]\nBINARY = /bin/a\nCONFIG = /etc/a.conf\n"
      "[b]\nBINARY = /bin/b\n");
  CHECK(*gnunet.config.services.at("a").config_file == "/etc/a.conf");
  CHECK(*gnunet.config.services.at("b").config_file == "/etc/gnunet.conf");
  auto plain = loaded("[c]\nBINARY = /bin/c\n");
  CHECK(*plain.config.services.at("c").config_file == "/home/peer/.config/gnunet.conf");
}

TEST_CASE("a BINARY that is not an absolute path is in libexec, '/' or not, as GNUnet finds it") {
  auto gnunet = loaded("[a]\nBINARY = sub/gnunet-service-a\n[b]\nBINARY = /opt/b\n");
  CHECK(gnunet.config.services.at("a").binary == std::string(libexec) + "/sub/gnunet-service-a");
  CHECK(gnunet.config.services.at("b").binary == "/opt/b");
}

TEST_CASE("a CONFIG naming the user's file by another spelling restarts only for its section") {
  // A symlink or "..": the host tells (GnunetSources::is_config_file), the digest follows.
  auto from = sources(
      "[a]\nBINARY = /bin/a\nCONFIG = /home/peer/link.conf\n[b]\nBINARY = /bin/b\n"
      "CONFIG = /etc/other.conf\n");
  CHECK_FALSE(loaded(from).config.services.at("a").config_digest);
  from.is_config_file = [](const std::string& path) { return path == "/home/peer/link.conf"; };
  auto gnunet = loaded(from);
  CHECK(gnunet.config.services.at("a").config_digest);
  CHECK(*gnunet.config.services.at("a").config_file == "/home/peer/link.conf");  // -c as written
  CHECK_FALSE(gnunet.config.services.at("b").config_digest);  // another file: watched whole
}

TEST_CASE("a NUL byte is an error at its line, not a cut argument") {
  const char text[] = "[a]\nBINARY = /bin/a\nOPTIONS = -x\0evil 1\n";
  auto error = failure(std::string(text, sizeof text - 1));
  CHECK(error.line == 3);
  CHECK(error.message == "a NUL byte: a configuration is text");
}

TEST_CASE("a TYPE = SIMPLE service gets no GNUnet options, and its BINARY is not in libexec") {
  auto gnunet = loaded(
      "[arm]\nGLOBAL_POSTFIX = -l {}.log\n"
      "[web]\nTYPE = SIMPLE\nBINARY = python3\nOPTIONS = -m http.server\nDEBUG = YES\n");
  CHECK(argv_of(gnunet, "web") == words({"python3", "-l", "web.log", "-m", "http.server"}));
  REQUIRE(gnunet.warnings.size() == 1);
  CHECK(gnunet.warnings[0].find("[web] DEBUG is not applied") != std::string::npos);
  CHECK(failure("[s]\nBINARY = /bin/s\nTYPE = FANCY\n").message ==
        "expected GNUNET or SIMPLE, not 'FANCY'");
}

TEST_CASE("IMMEDIATE_START, FORCESTART and [arm] DEFAULTSERVICES start a service at boot") {
  auto gnunet = loaded(
      "[arm]\nDEFAULTSERVICES = listed\n"
      "[immediate]\nBINARY = /bin/i\nIMMEDIATE_START = YES\n"
      "[forced]\nBINARY = /bin/f\nFORCESTART = yes\n"
      "[listed]\nBINARY = /bin/l\n"
      "[manual]\nBINARY = /bin/m\nIMMEDIATE_START = NO\n");
  CHECK(gnunet.config.services.at("immediate").start == StartMode::boot);
  CHECK(gnunet.config.services.at("forced").start == StartMode::boot);
  CHECK(gnunet.config.services.at("listed").start == StartMode::boot);
  CHECK(gnunet.config.services.at("manual").start == StartMode::manual);
  CHECK(gnunet.warnings.empty());
}

TEST_CASE("START_ON_DEMAND with UNIXPATH: armd holds the socket, non-blocking, GNUnet's mode") {
  auto gnunet = loaded(
      "[owner]\nBINARY = /bin/o\nSTART_ON_DEMAND = YES\nUNIXPATH = /run/o.sock\n"
      "UNIX_MATCH_UID = YES\n"
      "[group]\nBINARY = /bin/g\nSTART_ON_DEMAND = YES\nUNIXPATH = /run/g.sock\n"
      "UNIX_MATCH_GID = YES\n"
      "");
  const ServiceSpec& owner = gnunet.config.services.at("owner");
  CHECK(owner.start == StartMode::on_demand);
  REQUIRE(owner.listen.size() == 1);
  CHECK(to_string(owner.listen[0]) == "unix:/run/o.sock");
  CHECK(owner.listen_nonblocking);
  CHECK(owner.listen_mode == 0600);
  CHECK(gnunet.config.services.at("group").listen_mode == 0660);
  // GNUnet's test setting, for every service at once: Linux's abstract names.
  auto abstract = loaded(
      "[TESTING]\nUSE_ABSTRACT_SOCKETS = YES\n"
      "[a]\nBINARY = /bin/a\nSTART_ON_DEMAND = YES\nUNIXPATH = /run/a.sock\n");
  CHECK(to_string(abstract.config.services.at("a").listen[0]) == "unix:@/run/a.sock");
}

TEST_CASE("PORT: IPv6 then IPv4 on every address, or BINDTO's, or IPv4 only with DISABLEV6") {
  auto gnunet = loaded(
      "[both]\nBINARY = /bin/b\nSTART_ON_DEMAND = YES\nUNIXPATH = /run/b.sock\nPORT = 2086\n"
      "[v4]\nBINARY = /bin/v\nSTART_ON_DEMAND = YES\nPORT = 2087\nDISABLEV6 = YES\n"
      "[bound]\nBINARY = /bin/x\nSTART_ON_DEMAND = YES\nPORT = 2088\nBINDTO = 127.0.0.1\n"
      "[local]\nBINARY = /bin/l\nSTART_ON_DEMAND = YES\nPORT = 2089\nBINDTO = localhost\n"
      "[none]\nBINARY = /bin/n\nSTART_ON_DEMAND = YES\nPORT = 0\nUNIXPATH = /run/n.sock\n");
  auto listen = [&](const std::string& name) {
    std::vector<std::string> texts;
    for (const auto& socket : gnunet.config.services.at(name).listen)
      texts.push_back(to_string(socket));
    return texts;
  };
  CHECK(listen("both") == words({"unix:/run/b.sock", "tcp:[::]:2086", "tcp:0.0.0.0:2086"}));
  CHECK(listen("v4") == words({"tcp:0.0.0.0:2087"}));
  CHECK(listen("bound") == words({"tcp:127.0.0.1:2088"}));
  CHECK(listen("local") == words({"tcp:[::1]:2089", "tcp:127.0.0.1:2089"}));
  CHECK(listen("none") == words({"unix:/run/n.sock"}));
  auto error = failure("[s]\nBINARY = /bin/s\nSTART_ON_DEMAND = YES\nPORT = 99999\n");
  CHECK(error.to_string() ==
        "/home/peer/.config/gnunet.conf:4:1: s.PORT: expected a port 0-65535, not '99999'");
  CHECK(failure("[s]\nBINARY = /bin/s\nSTART_ON_DEMAND = YES\nPORT = 1\nBINDTO = example.org\n")
            .message.find("'example.org' is not an IP address") != std::string::npos);
}

TEST_CASE("a service started at once gets ARM's sockets too, unless NOARMBIND") {
  auto gnunet = loaded(
      "[held]\nBINARY = /bin/h\nIMMEDIATE_START = YES\nUNIXPATH = /run/h.sock\n"
      "[own]\nBINARY = /bin/o\nFORCESTART = YES\nNOARMBIND = YES\nUNIXPATH = /run/o.sock\n");
  CHECK(gnunet.config.services.at("held").start == StartMode::boot);
  CHECK(gnunet.config.services.at("held").listen.size() == 1);
  CHECK(gnunet.config.services.at("own").listen.empty());
}

TEST_CASE("START_ON_DEMAND without an address starts only when asked, with a warning") {
  auto gnunet = loaded("[s]\nBINARY = /bin/s\nSTART_ON_DEMAND = YES\n");
  CHECK(gnunet.config.services.at("s").start == StartMode::manual);
  REQUIRE(gnunet.warnings.size() == 1);
  CHECK(gnunet.warnings[0] ==
        "/home/peer/.config/gnunet.conf:3: [s] START_ON_DEMAND = YES, but it has neither "
        "UNIXPATH nor a PORT: it starts only when asked (armctl start s)");
}

TEST_CASE(
    "RUN_PER_USER services are left out by START_USER_SERVICES = NO, the others by "
    "START_SYSTEM_SERVICES = NO") {
  std::string services = "[user]\nBINARY = /bin/u\nRUN_PER_USER = YES\n[system]\nBINARY = /bin/s\n";
  CHECK(loaded(services).config.services.size() == 2);
  auto system = loaded("[arm]\nSTART_USER_SERVICES = NO\n" + services);
  CHECK(system.config.services.contains("system"));
  CHECK_FALSE(system.config.services.contains("user"));
  auto user = loaded("[arm]\nSTART_SYSTEM_SERVICES = NO\n" + services);
  CHECK(user.config.services.contains("user"));
  CHECK_FALSE(user.config.services.contains("system"));
  auto error = failure("[arm]\nSTART_SYSTEM_SERVICES = NO\nSTART_USER_SERVICES = NO\n" + services);
  CHECK(error.line == 3);
  CHECK(error.message.find("both NO") != std::string::npos);
}

TEST_CASE("only a section with a BINARY is a service, and [arm] is ARM itself") {
  auto gnunet = loaded(
      "[arm]\nBINARY = gnunet-service-arm\n"
      "[PATHS]\nX = 1\n"
      "[namestore-sqlite]\nFILENAME = /var/db\n"
      "[s]\nBINARY = /bin/s\n");
  CHECK(gnunet.config.services.size() == 1);
  CHECK(gnunet.config.services.contains("s"));
}

TEST_CASE("a section armd cannot name a service is left out with a warning") {
  auto gnunet = loaded("[has space]\nBINARY = /bin/x\n");
  CHECK(gnunet.config.services.empty());
  REQUIRE(gnunet.warnings.size() == 1);
  CHECK(gnunet.warnings[0].find("[has space] is left out") != std::string::npos);
}

TEST_CASE("each ARM key armd does not apply is reported once, naming file and line") {
  auto gnunet = loaded(
      "[arm]\nUNIXPATH = /run/arm.sock\nRESOURCE_DIAGNOSTICS = resource.log\n"
      "[a]\nBINARY = /bin/a\nPIPECONTROL = YES\n"
      "[b]\nBINARY = /bin/b\nPIPECONTROL = YES\n");
  REQUIRE(gnunet.warnings.size() == 3);
  CHECK(gnunet.warnings[0] ==
        "/home/peer/.config/gnunet.conf:6: [a] PIPECONTROL is not applied: armd stops a service "
        "with SIGTERM (then its stop sequence), never through GNUnet's control pipe");
  CHECK(
      gnunet.warnings[1].starts_with("/home/peer/.config/gnunet.conf:3: [arm] "
                                     "RESOURCE_DIAGNOSTICS is not applied"));
  CHECK(gnunet.warnings[2].starts_with(
      "/home/peer/.config/gnunet.conf:2: [arm] UNIXPATH is not applied: armd does not speak "
      "GNUnet's ARM protocol"));
}

TEST_CASE("YES/NO keys with other values, and two services on one socket, are errors") {
  auto error = failure("[s]\nBINARY = /bin/s\nIMMEDIATE_START = maybe\n");
  CHECK(error.to_string() ==
        "/home/peer/.config/gnunet.conf:3:1: s.IMMEDIATE_START: expected YES or NO, not 'maybe'");
  auto twice = failure(
      "[a]\nBINARY = /bin/a\nSTART_ON_DEMAND = YES\nUNIXPATH = /run/x.sock\n"
      "[b]\nBINARY = /bin/b\nSTART_ON_DEMAND = YES\nUNIXPATH = /run/x.sock\n");
  CHECK(twice.line == 8);
  CHECK(twice.message == "unix:/run/x.sock is also [a]'s socket");
}

TEST_CASE("an error in an included file names that file and its line") {
  GnunetSources from = sources("[s]\nBINARY = /bin/s\n@INLINE@ extra.conf\n");
  from.read_file = [](const std::string& path) -> std::expected<std::string, std::string> {
    if (path == "/home/peer/.config/extra.conf") return "[s]\nIMMEDIATE_START = sometimes\n";
    return std::unexpected(std::string("No such file or directory"));
  };
  auto error = parse_gnunet_config_text(from);
  REQUIRE_FALSE(error.has_value());
  CHECK(error.error().to_string() ==
        "/home/peer/.config/extra.conf:2:1: s.IMMEDIATE_START: expected YES or NO, not "
        "'sometimes'");
}

TEST_CASE("a .conf file is read as GNUnet's, anything else as TOML") {
  CHECK(looks_like_gnunet_config("/etc/gnunet.conf"));
  CHECK_FALSE(looks_like_gnunet_config("/etc/armd.toml"));
  CHECK_FALSE(looks_like_gnunet_config("/etc/conf"));
}

TEST_CASE("a UNIXPATH that is not an absolute path (an unset variable) is an error at its line") {
  auto error = failure("[s]\nBINARY = /bin/s\nSTART_ON_DEMAND = YES\nUNIXPATH = $NOWHERE/s.sock\n");
  CHECK(error.line == 4);
  CHECK(error.key == "s.UNIXPATH");
  CHECK(error.message.find("absolute path") != std::string::npos);
}

// --- section-aware restarts (issue 17 item 2): what a service reads, as one digest ---------------

namespace {

// A peer of two services and a plugin section, with [PATHS] variables one of them names.
constexpr const char* two_services =
    "[PATHS]\n"
    "GNUNET_HOME = /home/peer\n"
    "STORE = $GNUNET_HOME/store\n"
    "UNUSED = /nowhere\n"
    "[datastore]\n"
    "BINARY = gnunet-service-datastore\n"
    "FILENAME = ${STORE}/datastore.db\n"
    "[datastore-sqlite]\n"
    "FILENAME = /var/lib/sqlite.db\n"
    "[nse]\n"
    "BINARY = gnunet-service-nse\n"
    "WORKBITS = 22\n";

std::map<std::string, std::string> digests(const GnunetSources& from) {
  std::map<std::string, std::string> out;
  for (const auto& [name, spec] : loaded(from).config.services) {
    REQUIRE(spec.config_digest);
    out[name] = *spec.config_digest;
  }
  return out;
}

std::map<std::string, std::string> digests(const std::string& text) {
  return digests(sources(text));
}

// The services whose digest differs between the two texts.
std::vector<std::string> changed(const std::string& before, const std::string& after) {
  auto a = digests(before);
  auto b = digests(after);
  std::vector<std::string> out;
  for (const auto& [name, digest] : b)
    if (!a.contains(name) || a.at(name) != digest) out.push_back(name);
  return out;
}

std::string edited(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("comments, blank lines, spacing and the case of key names change no service's digest") {
  std::string text = two_services;
  CHECK(changed(text, "# edited by hand\n\n" + text + "\n% the end\n").empty());
  CHECK(changed(text, edited(text, "WORKBITS = 22", "WORKBITS   =   22")).empty());
  CHECK(changed(text, edited(text, "WORKBITS = 22", "workbits = 22")).empty());
}

TEST_CASE("keys only ARM reads are left to the reload's own comparison, not the digest") {
  std::string text = two_services;
  // Neither the command line nor the start changes: nothing to restart for.
  CHECK(
      changed(text, edited(text, "WORKBITS = 22", "WORKBITS = 22\nSTART_ON_DEMAND = NO")).empty());
}

TEST_CASE("an unreadable @INLINE-SECRET@ section stays one state, wherever the directive moves") {
  auto with_secret = [](const std::string& before) {
    GnunetSources from =
        sources(before + "[s]\nBINARY = /bin/s\n@INLINE-SECRET@ s-db secret.conf\n");
    from.read_file = [](const std::string&) -> std::expected<std::string, std::string> {
      return std::unexpected(std::string("Permission denied"));
    };
    return digests(from);
  };
  CHECK(with_secret("") == with_secret("# a comment\n# moves the directive down\n"));
}

TEST_CASE("a change of a service's own section changes its digest, no one else's") {
  std::string text = two_services;
  CHECK(changed(text, edited(text, "WORKBITS = 22", "WORKBITS = 23")) ==
        std::vector<std::string>{"nse"});
  CHECK(changed(text, text + "[nse]\nNEW_KEY = 1\n") == std::vector<std::string>{"nse"});
}

TEST_CASE("a plugin's section (NAME-...) belongs to its service, another service's does not") {
  std::string text = two_services;
  CHECK(changed(text, edited(text, "/var/lib/sqlite.db", "/srv/sqlite.db")) ==
        std::vector<std::string>{"datastore"});
  // [nse-auto] is a service of its own (it has a BINARY), as Debian's [nat-auto] is.
  std::string with_auto = text + "[nse-auto]\nBINARY = gnunet-service-nse-auto\nX = 1\n";
  CHECK(changed(with_auto, edited(with_auto, "X = 1", "X = 2")) ==
        std::vector<std::string>{"nse-auto"});
}

TEST_CASE("a [PATHS] variable concerns the services that name it, through other variables too") {
  std::string text = two_services;
  CHECK(changed(text, edited(text, "GNUNET_HOME = /home/peer", "GNUNET_HOME = /srv/peer")) ==
        std::vector<std::string>{"datastore"});
  CHECK(changed(text, edited(text, "UNUSED = /nowhere", "UNUSED = /elsewhere")).empty());
}

TEST_CASE("a variable from the environment concerns the services that name it") {
  std::string text = "[s]\nBINARY = /bin/s\nHOME_DIR = $HOME/s\n[t]\nBINARY = /bin/t\n";
  auto before = digests(sources(text, {}, {{"HOME", "/home/a"}}));
  auto after = digests(sources(text, {}, {{"HOME", "/home/b"}}));
  CHECK(before.at("s") != after.at("s"));
  CHECK(before.at("t") == after.at("t"));
}

TEST_CASE("a key set by the defaults or by an included file is digested as it ends up") {
  GnunetSources from = sources("[s]\nBINARY = /bin/s\n@INLINE@ extra.conf\n[t]\nBINARY = /bin/t\n");
  std::string included = "[s]\nLIMIT = 1\n";
  from.read_file = [&included](const std::string&) -> std::expected<std::string, std::string> {
    return included;
  };
  auto before = digests(from);
  included = "[s]\nLIMIT = 2\n";
  auto after = digests(from);
  CHECK(before.at("s") != after.at("s"));
  CHECK(before.at("t") == after.at("t"));
  // The user's file setting what the defaults set already, to the same value: no change.
  GnunetSources plain = sources("[t]\nBINARY = /bin/t\n", {{"/d/t.conf", "[t]\nX = 1\n"}});
  GnunetSources restated =
      sources("[t]\nBINARY = /bin/t\nX = 1\n", {{"/d/t.conf", "[t]\nX = 1\n"}});
  CHECK(digests(plain) == digests(restated));
}

TEST_CASE("a service whose CONFIG names another file gets no digest: that file is watched whole") {
  auto gnunet = loaded("[s]\nBINARY = /bin/s\nCONFIG = /etc/s.conf\n");
  CHECK_FALSE(gnunet.config.services.at("s").config_digest);
}

// --- from files (gnunet_files_posix) -----------------------------------------------------------

TEST_CASE("from files: the defaults directory's *.conf in name order, then the user's file") {
  TemporaryDirectory directory;
  std::filesystem::create_directory(directory.path() / "defaults");
  directory.write("defaults/b.conf", "[s]\nBINARY = /bin/from-b\nOPTIONS = b\n");
  directory.write("defaults/a.conf", "[s]\nBINARY = /bin/from-a\nDEBUG = YES\n");
  directory.write("defaults/ignored.txt", "not a conf file at all");
  directory.write("extra.conf", "[s]\nOPTIONS = from-include\n");
  auto peer = directory.write("peer.conf", "[s]\n@INLINE@ extra.conf\n");
  GnunetOptions options;
  options.defaults_directory = directory.path() / "defaults";
  options.libexec_directory = "/libexec";
  auto gnunet = load_gnunet_config_file(peer, options);
  REQUIRE_MESSAGE(gnunet.has_value(), (gnunet ? "" : gnunet.error().to_string()));
  CHECK(compose_argv(gnunet->config.services.at("s"), gnunet->config.arm) ==
        words({"/bin/from-b", "-c", peer.c_str(), "-L", "DEBUG", "from-include"}));
}

TEST_CASE("from files: a defaults directory named but not there is an error; none found is none") {
  TemporaryDirectory directory;
  auto peer = directory.write("peer.conf", "[s]\nBINARY = /bin/s\n");
  GnunetOptions options;
  options.defaults_directory = directory.path() / "nowhere";
  auto missing = load_gnunet_config_file(peer, options);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("the GNUnet defaults directory cannot be read") !=
        std::string::npos);
  CHECK(load_gnunet_config_file(directory.path() / "absent.conf").error().file ==
        (directory.path() / "absent.conf").string());
}

TEST_CASE("from files: every file read is listed, for armd to reload on its change") {
  TemporaryDirectory directory;
  std::filesystem::create_directory(directory.path() / "defaults");
  auto defaults = directory.write("defaults/a.conf", "[s]\nBINARY = /bin/s\n");
  auto extra = directory.write("extra.conf", "[s]\nOPTIONS = x\n");
  auto peer = directory.write("peer.conf", "[s]\n@INLINE@ extra.conf\n");
  GnunetOptions options;
  options.defaults_directory = directory.path() / "defaults";
  auto gnunet = load_gnunet_config_file(peer, options);
  REQUIRE_MESSAGE(gnunet.has_value(), (gnunet ? "" : gnunet.error().to_string()));
  std::vector<std::string> expected{defaults.string(), extra.string(), peer.string()};
  std::sort(expected.begin(), expected.end());
  CHECK(gnunet->files == expected);
}
