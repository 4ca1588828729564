// armd: the standalone daemon. Parses its command line and configuration, then hands over to
// Daemon. Exit codes: 0 after an orderly shutdown, 1 when it cannot run (socket in use...),
// 2 for an invalid configuration or command line (and, for --check-config, a program or service
// config file the configuration names that does not exist).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "arm/config.hpp"
#include "config_source.hpp"
#include "daemon.hpp"
#include "heap_prefault.hpp"
#include "log.hpp"
#include "protocol/socket_path.hpp"
#include "protocol/version.hpp"

namespace {

constexpr int exit_cannot_run = 1;
constexpr int exit_invalid = 2;

// Started with stdin, stdout or stderr closed, armd's first socket would take the number, and
// its log lines (written to descriptor 2) would go to a client. /dev/null holds the place.
void occupy_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1) ::open("/dev/null", O_RDWR);  // takes the lowest free: fd
  }
}

// --check-config: the file loads, and the programs and config files it names exist (a service
// that can crash-loop without bound gets a warning line, and the exit code stays). armd itself
// starts without the latter (a program may be installed later; its spawn then fails with the
// reason), but a check before deploying should hear of them: each is printed, and the exit code
// is 2 as for an invalid file.
int check_config(const armd::ConfigSource& source) {
  const std::string& path = source.path;
  // Each line quotes names and values from the file: a control byte in one (an ESC, a newline)
  // is printed \xNN, not sent to the terminal or made into a line of its own.
  auto say = [](std::FILE* stream, std::string_view prefix, std::string_view text) {
    std::string line(prefix);
    armd::append_without_control_bytes(line, text);
    line += '\n';
    std::fputs(line.c_str(), stream);
  };
  auto loaded = source.load();
  if (!loaded) {
    say(stderr, "armd: ", loaded.error().to_string());
    return exit_invalid;
  }
  // GNUnet keys read but not applied (issue 17): said, and the verdict stays.
  for (const std::string& warning : loaded->warnings) say(stderr, "armd: warning: ", warning);
  const arm::Config* config = &loaded->config;
  // Warnings do not change the verdict: unlimited restarts are a choice, said out loud.
  for (const arm::Error& warning : arm::find_unbounded_restarts(path, *config))
    say(stderr, "armd: warning: ", warning.to_string());
  for (const arm::Error& warning : arm::find_exposed_metrics(path, *config))
    say(stderr, "armd: warning: ", warning.to_string());
  auto missing = arm::find_missing_files(path, *config, armd::program_search_path());
  for (const arm::Error& error : missing) say(stderr, "armd: ", error.to_string());
  if (!missing.empty()) {
    say(stderr, "armd: ",
        fmt::format("{}: valid, but {} of the files it names {} missing", path, missing.size(),
                    missing.size() == 1 ? "is" : "are"));
    return exit_invalid;
  }
  say(stdout, "", fmt::format("{}: valid ({} services)", path, config->services.size()));
  return 0;
}

// This program's path, for a re-exec to run the file now there (an upgrade replaced it: the
// kernel's link then ends in " (deleted)", and the path is the new file's).
std::string own_program() {
  std::error_code error;
  std::string path = std::filesystem::read_symlink("/proc/self/exe", error).string();
  constexpr std::string_view deleted = " (deleted)";
  if (path.ends_with(deleted)) path.resize(path.size() - deleted.size());
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  auto started = std::chrono::steady_clock::now();
  occupy_standard_descriptors();
  CLI::App app{"armd: the automated restart manager daemon"};
  std::string config_path;
  std::string check_path;
  std::optional<std::string> socket_path;
  auto* config_option = app.add_option(
      "--config", config_path, "configuration file (TOML, or GNUnet's INI for a .conf file)");
  std::string config_format = "auto";
  app.add_option("--config-format", config_format,
                 "how --config / --check-config is read: auto (default: GNUnet's INI for a .conf "
                 "name, else TOML), toml or gnunet")
      ->check(CLI::IsMember({"auto", "toml", "gnunet"}));
  std::optional<std::string> gnunet_defaults;
  app.add_option("--gnunet-defaults", gnunet_defaults,
                 "GNUnet's defaults directory, layered under a GNUnet configuration (default: "
                 "$GNUNET_BASE_CONFIG, else /usr/share/gnunet/config.d)");
  std::optional<std::string> gnunet_libexec;
  app.add_option(
      "--gnunet-libexec", gnunet_libexec,
      "where a GNUnet BINARY that is not an absolute path is found (default: GNUnet's libexec "
      "directory, /usr/lib/<multiarch>/gnunet/libexec)");
  auto* check_option =
      app.add_option("--check-config", check_path,
                     "validate FILE and the files it names, and exit (0 valid, 2 not)");
  app.add_option("--socket", socket_path,
                 "control socket path (default: $ARMD_SOCKET, [arm].socket, "
                 "$XDG_RUNTIME_DIR/armd.sock, /run/armd.sock)");
  bool init = false;
  app.add_flag("--init", init,
               "act as init: reap every orphaned process below armd (implied when armd is PID 1)");
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "armd's own log on stderr: text (default) or json, one object per line")
      ->check(CLI::IsMember({"text", "json"}));
  // Live re-exec (issue 15), between an armd and the program it execs; not for people.
  int handover_fd = -1;
  int handover_check_fd = -1;
  app.add_option("--handover-fd", handover_fd)->group("");
  app.add_option("--handover-check", handover_check_fd)->group("");
  config_option->excludes(check_option);
  app.set_version_flag("--version", fmt::format("armd {}", armd::version));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : exit_invalid;
  }

  // The loader, chosen once: a reload reads the file the same way.
  auto source_of = [&](const std::string& path) {
    armd::ConfigSource source;
    source.path = path;
    source.format = *armd::choose_config_format(config_format, path);
    if (gnunet_defaults) source.gnunet.defaults_directory = *gnunet_defaults;
    if (gnunet_libexec) source.gnunet.libexec_directory = *gnunet_libexec;
    return source;
  };
  if (!check_path.empty()) return check_config(source_of(check_path));
  if (handover_check_fd >= 0) return armd::check_handover(config_path, handover_check_fd);
  armd::set_log_format(*armd::parse_log_format(log_format));
  // From here on every line armd writes is a line of its log, in the format asked for (a log
  // shipper parses the reason armd could not start like any other line).
  auto cannot_start = [](int code, const std::string& why) {
    armd::log(armd::Level::error, "{}", why);
    armd::flush_log_at_exit(std::chrono::seconds(1));
    return code;
  };
  if (config_path.empty())
    return cannot_start(exit_invalid, "--config FILE is required (or --check-config FILE)");

  // After a re-exec: what the previous armd handed over. It cannot fail after the check the
  // previous armd ran, short of the machine changing in between; then there is no armd to go
  // back to, and the services end with this process (PR_SET_PDEATHSIG), as on a crash.
  std::optional<armd::HandoverState> handover;
  std::optional<armd::PrefaultedHeap> prefaulted;
  if (handover_fd >= 0) {
    struct stat handover_file {};
    if (::fstat(handover_fd, &handover_file) == 0)
      prefaulted.emplace(
          armd::takeover_heap_bytes(static_cast<std::size_t>(handover_file.st_size)));
    auto text = armd::read_whole(handover_fd);
    ::close(handover_fd);
    if (!text) return cannot_start(exit_cannot_run, "re-exec: " + text.error());
    auto state = armd::decode_handover(*text);
    if (!state) return cannot_start(exit_cannot_run, "re-exec: " + state.error());
    handover.emplace(std::move(*state));
  }

  // After a re-exec, the text the previous armd checked against what it ran: the file may have
  // changed since (a reload applies that).
  armd::ConfigSource source = source_of(config_path);
  std::expected<armd::ConfigSource::Loaded, arm::ConfigError> loaded;
  if (handover) {
    auto parsed = arm::parse_config_file_text(handover->config_text, config_path);
    if (parsed)
      loaded = armd::ConfigSource::Loaded{std::move(*parsed), {}, {}};
    else
      loaded = std::unexpected(std::move(parsed.error()));
  } else {
    loaded = source.load();
  }
  if (!loaded) return cannot_start(exit_invalid, loaded.error().to_string());
  for (const std::string& warning : loaded->warnings)
    armd::log(armd::Level::warning, "{}", warning);
  std::optional<arm::Config> config(std::move(loaded->config));
  auto configured = std::chrono::steady_clock::now();
  armd::DaemonOptions options;
  options.config_path = config_path;
  options.config_source = std::move(source);
  options.config_files = std::move(loaded->files);
  options.init = init;
  options.socket_path =
      handover
          ? handover->socket_path
          : armd::resolve_socket_path(armd::socket_path_sources(socket_path, config->arm.socket));
  options.binary = own_program();
  options.command_line.assign(argv, argv + argc);
  auto ms = [](auto duration) {
    return std::chrono::duration<double, std::milli>(duration).count();
  };
  if (handover) {
    options.resume_timings.started_ms =
        ms(started.time_since_epoch() - std::chrono::nanoseconds(handover->unavailable_since_ns));
    options.resume_timings.configured_ms = ms(configured - started);
  }
  auto daemon =
      armd::Daemon::create(std::move(options), std::move(*config), handover ? &*handover : nullptr);
  if (daemon && handover)
    (*daemon)->set_taken_over_ms(ms(std::chrono::steady_clock::now() - configured));
  prefaulted.reset();
  // Taken over: its texts (the supervisor's state, the configuration: ~700 KB with a thousand
  // services) are not kept for armd's whole life.
  handover.reset();
  if (!daemon)
    return cannot_start(daemon.error().invalid_config ? exit_invalid : exit_cannot_run,
                        daemon.error().message);
  return (*daemon)->run();
}
