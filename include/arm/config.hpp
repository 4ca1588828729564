// The configuration: plain structs, loaded from TOML (see docs/config.md for the reference).
//
// Loading is the only part of libarm that reads a file by itself; the supervisor receives a
// finished, validated Config and never parses anything.
#pragma once

#include "arm/abi.hpp"

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/boxed_optional.hpp"
#include "arm/error.hpp"
#include "arm/types.hpp"

ARM_BEGIN_NAMESPACE

/// When an exited process is started again (`restart`).
enum class RestartPolicy {
  always,      ///< whatever its exit
  on_failure,  ///< unless it exited cleanly (success_exit_codes)
  never        ///< never: it stays stopped or failed
};

/// The default restart intensity: ServiceSpec::max_restarts within ServiceSpec::restart_window.
inline constexpr unsigned default_max_restarts = 5;
/// The shortest delay before an automatic restart of a service with unlimited restarts: a
/// backoff_initial of 0 (and the jitter) cannot go below it, so a service that exits at once is
/// restarted at most ten times a second instead of as fast as it can be spawned.
inline constexpr Milliseconds minimum_unlimited_restart_delay{100};

/// How a service tells that it is ready (`readiness`, issue 13). Its start is answered, and its
/// hard dependents are started, only once it is ready; until then it is `starting`.
struct ARM_EXPORT Readiness {
  /// How it tells.
  enum class Kind : std::uint8_t {
    exec,    ///< ready as soon as the program executes (the default; what every service did before)
    notify,  ///< ready at READY=1 over the sd_notify protocol (a datagram to $NOTIFY_SOCKET)
    fd,      ///< ready when it writes a newline to its file descriptor `fd` (s6's notification-fd)
    after,   ///< ready once it has stayed up for `after`
  };
  Kind kind = Kind::exec;  ///< how it tells
  int fd = -1;             ///< Kind::fd: the descriptor number the service writes to (3 or more)
  Milliseconds after{0};   ///< Kind::after
  bool operator==(const Readiness&) const = default;  ///< field by field
};

/// Where a TCP listener binds: an IP address as written (no name lookup) and a port.
struct ARM_EXPORT ListenAddress {
  std::string host;        ///< an IPv4 or IPv6 literal, without the brackets of "[::1]:9321"
  std::uint16_t port = 0;  ///< the port
  bool ipv6 = false;       ///< `host` is an IPv6 literal

  bool operator==(const ListenAddress&) const = default;  ///< field by field
};

/// "127.0.0.1:9321" or "[::1]:9321" (an IPv4 or a bracketed IPv6 literal, a port 1-65535), or
/// what is wrong with the text.
ARM_EXPORT std::expected<ListenAddress, std::string> parse_listen_address(std::string_view text);
/// 127.0.0.0/8 or ::1: reachable from this host only.
ARM_EXPORT bool is_loopback(const ListenAddress& address);
/// "127.0.0.1:9321", "[::1]:9321": as parse_listen_address reads it.
ARM_EXPORT std::string to_string(const ListenAddress& address);

/// A listening socket armd holds for a service (`listen`, issue 14): opened when the
/// configuration is loaded, kept open across the service's crashes, restarts and configuration
/// changes (so clients wait in its backlog instead of being refused), and passed to each of its
/// processes as descriptors 3, 4, ... with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES, as systemd
/// passes a socket unit's.
struct ARM_EXPORT ListenSocket {
  /// What kind of socket, and so which of `address` and `path` is used.
  enum class Kind : std::uint8_t {
    tcp,          ///< "tcp:127.0.0.1:8080", "tcp:[::1]:8080": a stream socket, listen()ing
    udp,          ///< "udp:127.0.0.1:5353": a bound datagram socket
    unix_stream,  ///< "unix:/run/x.sock" (a path) or "unix:@name" (Linux's abstract namespace)
  };
  Kind kind = Kind::tcp;  ///< what kind of socket
  ListenAddress address;  ///< tcp, udp
  std::string path;       ///< unix_stream: the path, or "@name" for an abstract name

  bool operator==(const ListenSocket&) const = default;  ///< field by field
};

/// "tcp:ADDRESS:PORT", "udp:ADDRESS:PORT", "unix:/PATH" or "unix:@NAME", or what is wrong.
ARM_EXPORT std::expected<ListenSocket, std::string> parse_listen_socket(std::string_view text);
/// As parse_listen_socket reads it: "tcp:127.0.0.1:8080", "unix:/run/x.sock".
ARM_EXPORT std::string to_string(const ListenSocket& socket);

/// When a service starts by itself (`start`, issue 14).
enum class StartMode : std::uint8_t {
  manual,     ///< when a client (or a dependent) asks: the default
  boot,       ///< when armd starts, as if listed in [arm] default_services
  on_demand,  ///< when a client connects to one of its `listen` sockets (state `listening`
              ///< meanwhile); stopped, it listens again
};

/// A health probe (`health`, issue 13), run while the service runs, the first `interval` after it
/// became ready: one at a time, every `interval` (start to start), each given `timeout` to answer.
/// After `failures` failed probes in a row the service is unhealthy; a probe that succeeds makes
/// it healthy again. Failures within `start_period` of ready do not count, until the first probe
/// that succeeds (Docker's start period).
struct ARM_EXPORT HealthCheck {
  /// How the probe checks.
  enum class Kind : std::uint8_t {
    exec,  ///< `command` exits 0 (run with the service's environment and working directory)
    tcp,   ///< a TCP connection to `address` is accepted
    http,  ///< GET `http_path` from `address` answers with a 2xx status
  };
  /// What an unhealthy service leads to (`on_unhealthy`).
  enum class OnUnhealthy : std::uint8_t {
    restart,  ///< stopped (SIGTERM, then the stop sequence) and the restart policy decides as for
              ///< a failed exit, as after a watchdog timeout; the reason is its last error
    ignore,   ///< only reported (status, events, metrics); the probes go on
  };
  Kind kind = Kind::exec;  ///< `kind`: how the probe checks
  /// `on_unhealthy`: what an unhealthy service leads to
  OnUnhealthy on_unhealthy = OnUnhealthy::restart;
  unsigned failures = 3;  ///< `failures`: probes failed in a row that make it unhealthy
  /// `interval`: from the end of one probe to the start of the next
  Milliseconds interval{10'000};
  Milliseconds timeout{5'000};  ///< `timeout`: how long one probe may take; longer counts as failed
  /// `start_period`: failures this soon after ready do not count, until one succeeds
  Milliseconds start_period{0};
  std::vector<std::string> command;  ///< exec: argv; argv[0] looked up in PATH without a '/'
  ListenAddress address;             ///< tcp, http: an IP address (names are not looked up)
  std::string http_host;             ///< http: the Host header, the URL's host[:port] as written
  std::string http_path;             ///< http: the request target, "/healthz"

  bool operator==(const HealthCheck&) const = default;  ///< field by field
};

/// "http://127.0.0.1:8080/healthz" (an IPv4 literal, a bracketed IPv6 one or `localhost`; port 80
/// when left out; path "/" when left out) read into an http HealthCheck's address, http_host and
/// http_path, or what is wrong with it.
ARM_EXPORT std::expected<HealthCheck, std::string> parse_http_probe_url(std::string_view url);
/// "127.0.0.1:5432", "[::1]:5432" or "localhost:5432" read into a tcp HealthCheck's address.
ARM_EXPORT std::expected<HealthCheck, std::string> parse_tcp_probe_address(std::string_view text);
/// What a probe checks, for messages: "exec pg_isready -q", "tcp 127.0.0.1:5432",
/// "http http://127.0.0.1:8080/healthz".
ARM_EXPORT std::string describe(const HealthCheck& check);

/// A signal that tells a service to read its configuration again (`reload_signal`, issue 14).
/// The core names signals in plain terms (types.hpp); the POSIX spawner maps them.
enum class ReloadSignal : std::uint8_t {
  /// SIGHUP: what nginx, sshd, rsyslog, haproxy (master-worker) and most daemons use
  hangup,
  user1,         ///< SIGUSR1
  user2,         ///< SIGUSR2
  interrupt,     ///< SIGINT
  quit,          ///< SIGQUIT
  terminate,     ///< SIGTERM (for a service that re-executes itself on it)
  window_change  ///< SIGWINCH
};
/// "HUP" or "SIGHUP" (upper case, as kill -l prints them) read as a ReloadSignal; nullopt for
/// any other text, numbers included.
ARM_EXPORT std::optional<ReloadSignal> parse_reload_signal(std::string_view name);
/// "SIGHUP".
ARM_EXPORT std::string_view to_string(ReloadSignal signal);

/// How a service takes a new configuration without a restart, and the check that guards it
/// (issue 14). In every command, each word has `{config}` (config_file), `{name}` and `{pid}` (the
/// main process) replaced.
struct ARM_EXPORT ConfigReload {
  /// `reload_signal`: sent to the main process (not its group: the main process owns its
  /// configuration; nginx's master re-reads it and replaces its own workers).
  std::optional<ReloadSignal> signal;
  /// `reload`: a command run instead (with the service's environment and working directory);
  /// exit 0 is success. Exclusive with `signal`. Empty: none.
  std::vector<std::string> command;
  /// `config_check`: run first, before a reload or a restart of the running service; exit 0
  /// lets the change through, anything else leaves the running process untouched. Empty: none.
  std::vector<std::string> check;
  /// `check_timeout`: how long the check, and the reload command, may each take.
  Milliseconds check_timeout{30'000};

  /// Whether it has a way to reload in place (a signal or a command).
  bool reloads() const { return signal.has_value() || !command.empty(); }
  bool operator==(const ConfigReload&) const = default;  ///< field by field
};

/// A resource limit a service is started with (`limits`, issue 15): every RLIMIT_* of Linux,
/// named as the key spells it (lower case, without RLIMIT_). The core names them in plain terms;
/// the POSIX spawner maps them.
enum class ResourceLimit : std::uint8_t {
  as,
  core,
  cpu,
  data,
  fsize,
  locks,
  memlock,
  msgqueue,
  nice,
  nofile,
  nproc,
  rss,
  rtprio,
  rttime,
  sigpending,
  stack
};
/// "nofile".
ARM_EXPORT std::string_view to_string(ResourceLimit limit);
/// The limit named `name` ("nofile"), or nullopt.
ARM_EXPORT std::optional<ResourceLimit> parse_resource_limit(std::string_view name);
/// A capability's name as the kernel's headers spell it ("CAP_NET_BIND_SERVICE") from its
/// number (0 to 40), or "" for a number Linux has no name for.
ARM_EXPORT std::string_view capability_name(unsigned number);
/// The number of "CAP_NET_BIND_SERVICE" or "net_bind_service" (any case), or nullopt.
ARM_EXPORT std::optional<unsigned> parse_capability(std::string_view name);

/// How a service's process is set up before its program is executed (issue 15): the identity it
/// runs as, its limits, priority and capabilities, and where its environment comes from. Every
/// field left at its default changes nothing: the process gets what armd has. The loader
/// resolves names (users, groups) to numbers, so the spawner's child needs no lookup.
struct ARM_EXPORT ExecutionSettings {
  /// a limit's value for RLIM_INFINITY
  static constexpr std::uint64_t unlimited = ~std::uint64_t{0};
  /// One resource limit (`limits`), set with setrlimit(2) before exec.
  struct Limit {
    ResourceLimit resource = ResourceLimit::nofile;  ///< which resource
    std::uint64_t soft = 0;                          ///< `unlimited`: RLIM_INFINITY
    std::uint64_t hard = 0;                          ///< `unlimited`: RLIM_INFINITY
    bool operator==(const Limit&) const = default;   ///< field by field
  };
  /// `user`: the uid, and the name as written (or the passwd entry's, for a number that has
  /// one; empty for a number that has none). user_home is the passwd entry's home directory
  /// ($HOME, with $USER and $LOGNAME, as systemd's User= sets them).
  std::optional<std::uint32_t> user;
  std::string user_name;  ///< the user's name (see `user`)
  std::string user_home;  ///< the user's home directory (see `user`)
  /// `group`: the gid; by default the user's primary group.
  std::optional<std::uint32_t> group;
  /// `supplementary_groups`: by default the user's groups in the group database (getgrouplist);
  /// with `group` but no `user`, none. nullopt: armd's own are kept (no `user`, no `group`).
  std::optional<std::vector<std::uint32_t>> supplementary_groups;
  std::optional<unsigned> umask;     ///< 0 to 0777
  std::vector<Limit> limits;         ///< each resource at most once, in the order written
  std::optional<int> nice;           ///< -20 to 19
  std::optional<int> oom_score_adj;  ///< -1000 to 1000
  /// `no_new_privileges`: PR_SET_NO_NEW_PRIVS (no setuid gains through exec)
  bool no_new_privileges = false;
  /// Bit N: capability N, raised into the ambient set (and kept across the switch to `user`).
  std::uint64_t capabilities = 0;
  /// `environment_file`: KEY=VALUE lines read at each start (not at load), below `environment`.
  std::string environment_file;  ///< empty: none
  /// `clear_environment`: armd's own environment is not passed on.
  bool clear_environment = false;

  bool operator==(const ExecutionSettings&) const = default;  ///< field by field
};

/// The settings nearly every service leaves unset (config_file, config_section, prefix,
/// working_directory, log_file) are BoxedOptionals: used as std::optionals, 8 bytes while unset
/// (armd holds one ServiceSpec per service; issue 9).
struct ARM_EXPORT ServiceSpec {
  std::string name;    ///< the service's name: its key in `[services]`
  std::string binary;  ///< `binary`: the program (looked up in PATH without a '/')
  BoxedOptional<std::string> config_file;  ///< passed as `-c FILE`; watched for changes
  /// Only a change of this section of config_file (`[NAME]` up to the next `[...]` header)
  /// restarts the service: for a file several services share. Needs config_file.
  BoxedOptional<std::string> config_section;
  /// Set by a loader that knows which parts of config_file the service reads (the GNUnet reader:
  /// its section, the `[PATHS]` variables it expands, its plugins' sections): a digest of them.
  /// The supervisor then does not watch config_file itself (the host reloads the configuration
  /// when one of its files changes), and a reload that changes the digest restarts the running
  /// service as a changed command line does. Not a key of armd's TOML.
  BoxedOptional<std::string> config_digest;
  BoxedOptional<std::vector<std::string>> prefix;  ///< overrides the global prefix when set
  std::vector<std::string> options;  ///< `options`: arguments after the program and its config file
  bool debug = false;                ///< appends `-L DEBUG`
  /// `restart`: always, on-failure or never restart an exited process
  RestartPolicy restart = RestartPolicy::always;
  /// `backoff_initial`: the first restart delay, doubling from there
  Milliseconds backoff_initial{100};
  Milliseconds backoff_max{30 * 60 * 1000};  ///< `backoff_max`: the most a restart delay grows to
  /// A process that stayed up this long before it died counts as healthy: the next restart
  /// starts again from backoff_initial instead of the doubled delay.
  Milliseconds backoff_reset_after{10'000};
  Milliseconds stop_timeout{5'000};  ///< `stop_timeout`: from SIGTERM to SIGKILL
  /// Each backoff delay is moved by up to ± this fraction (0 to 1), so services that crash
  /// together do not restart in lockstep.
  double backoff_jitter = 0.0;
  /// Restart intensity (Erlang/OTP's MaxR in MaxT, systemd's StartLimitBurst): more than
  /// max_restarts automatic restarts within restart_window and the service is failed instead.
  /// By default 5 within 60 s, so a service that cannot run stops being restarted (the choice:
  /// docs/config.md, "Defaults and why"). nullopt: unlimited (`max_restarts = "unlimited"`), as
  /// the original ARM did; the backoff alone then paces the restarts, and a backoff_initial of 0
  /// is raised to minimum_unlimited_restart_delay.
  std::optional<unsigned> max_restarts{default_max_restarts};
  /// `restart_window`: the time max_restarts counts within.
  Milliseconds restart_window{60'000};
  /// After the intensity limit tripped, try again on its own after this long.
  std::optional<Milliseconds> retry_failed_after;
  /// Exit codes that count as a clean exit (for on-failure) ...
  std::vector<int> success_exit_codes{0};
  /// ... and those that mean "do not bother restarting": straight to failed.
  std::vector<int> permanent_failure_exit_codes;
  std::map<std::string, std::string> environment;  ///< added to (or overriding) armd's own
  BoxedOptional<std::string> working_directory;    ///< `working_directory`: empty: armd's own
  /// Where its stdout and stderr go (`stdout` / `stderr` in the file): captured by default.
  OutputTarget standard_output{OutputTarget::Kind::log, {}};
  OutputTarget standard_error{OutputTarget::Kind::log, {}};  ///< (as standard_output)
  /// Bytes of captured output kept in memory (`log_buffer`): the latest lines, oldest dropped.
  std::size_t log_buffer = 64 * 1024;
  /// A file the captured lines are also appended to ("TIME STREAM TEXT"), rotated by rename
  /// when it would grow past log_max_size: log_file.1 is the most recent of the log_max_files
  /// kept. Read from a file, a service without `log_file` gets `<[arm] log_dir>/<name>.log` when
  /// log_dir is set; `log_file = false` leaves it without (nullopt) either way.
  BoxedOptional<std::string> log_file;
  /// `log_max_size`: bytes of log_file before it is rotated
  std::size_t log_max_size = 10 * 1024 * 1024;
  std::size_t log_max_files = 5;  ///< `log_max_files`: rotated files kept
  /// Lines of that output attached to each exit record (`last_exit.output_tail` in a status).
  std::size_t crash_context_lines = 20;
  /// Hard dependencies: started first (each holding a reference), and this service is spawned
  /// only once all of them run; it is stopped when one of them stops or fails for good.
  std::vector<std::string> depends_on;
  /// Soft dependencies: started alongside (each given a reference of its own); their failure
  /// does not block this service and stopping this service does not stop them.
  std::vector<std::string> wants;
  /// When a hard dependency restarts (it crashed, was restarted or its configuration changed),
  /// this service is restarted after it (a group restart). false: it keeps running meanwhile.
  bool restart_with_dependencies = true;
  /// What armd does when the log file does not take a line at once (`log_overflow`): `block`
  /// waits for it (nothing lost; armd's loop, and so every service's pipe, waits too), `drop`
  /// opens and writes it non-blocking and drops (and counts) a line it would have to wait for.
  /// A regular file never makes a write wait, so this matters for a FIFO or a device. One byte,
  /// next to the bool above, in what was its padding: armd's memory per service is measured.
  enum class LogOverflow : std::uint8_t { block, drop };
  LogOverflow log_overflow = LogOverflow::block;  ///< `log_overflow`
  Readiness readiness;  ///< `readiness`: how it tells it is ready (exec by default)
  /// Not ready within this long of its spawn (`start_timeout`, default 90 s as systemd's): the
  /// start fails with that reason, the process is stopped, and the restart policy decides as for
  /// a failed exit. Zero: no limit. EXTEND_TIMEOUT_USEC= from a notify service moves it.
  Milliseconds start_timeout{90'000};
  /// `watchdog`: once ready, a notify service must send WATCHDOG=1 at least this often, or it is
  /// killed (SIGABRT, then the stop sequence) and its restart policy decides, with the reason
  /// recorded. WATCHDOG_USEC= from the service changes it. nullopt: no watchdog.
  std::optional<Milliseconds> watchdog;
  /// `health` (and `on_unhealthy`): a probe of whether the ready service still works. Unset:
  /// none. Changing it takes effect without a restart.
  BoxedOptional<HealthCheck> health;
  /// Where the config file goes on its command line (`config_arg`, issue 14): the words, with
  /// `{config}` replaced by the file's path and `{name}` by the service's name (the two are
  /// replaced in `options` too). Unset: `-c {config}`, the original ARM's; empty: not passed.
  BoxedOptional<std::vector<std::string>> config_arg;
  /// `listen` and its options: the sockets armd holds for it (see ListenSocket), each passed in
  /// this order. listen_backlog is listen(2)'s backlog (systemd's default, SOMAXCONN);
  /// listen_mode the permissions of a unix socket's file; listen_owner ("user" or
  /// "user:group") its owner, set when it is created.
  std::vector<ListenSocket> listen;
  unsigned listen_backlog = 4096;           ///< (see listen)
  unsigned listen_mode = 0666;              ///< (see listen)
  BoxedOptional<std::string> listen_owner;  ///< (see listen)
  /// The sockets are passed with O_NONBLOCK set (`listen_nonblocking`, systemd's NonBlocking=):
  /// for programs that accept until EAGAIN, as GNUnet's services do, and would hang on a
  /// blocking socket. false: blocking, as systemd passes them by default.
  bool listen_nonblocking = false;
  StartMode start = StartMode::manual;  ///< `start`: when it is started (see StartMode)
  /// An on-demand service that has had no new connection (or datagram) on its sockets for this
  /// long is stopped and listens again (`idle_stop`); nullopt: it runs until stopped.
  std::optional<Milliseconds> idle_stop;
  /// `reload_signal`, `reload`, `config_check`, `check_timeout` (issue 14). Unset: a change of
  /// the config file restarts the running service, and so does a restart request, unchecked.
  BoxedOptional<ConfigReload> reload;
  /// `user`, `group`, `limits`, `capabilities`, `environment_file`... (issue 15). Unset: the
  /// process runs as armd does, with armd's limits and environment.
  BoxedOptional<ExecutionSettings> execution;

  bool operator==(const ServiceSpec&) const = default;  ///< field by field
};

/// The `[arm]` table: armd's own settings.
struct ARM_EXPORT ArmSettings {
  /// `socket`: the control socket's path; nullopt: the default one
  std::optional<std::string> socket;
  /// Where armd serves its Prometheus metrics over HTTP (`metrics_listen`, issue 13); nullopt:
  /// no HTTP listener (`armctl metrics` still works).
  std::optional<ListenAddress> metrics_listen;
  /// Where armd puts its services' cgroups (issue 10): "auto" (below its own cgroup when it may
  /// write there, else process groups), "off" (process groups), or a cgroup v2 directory.
  std::string cgroup = "auto";
  std::vector<std::string> default_services;  ///< `default_services`: started when armd starts
  /// `global_prefix`: put in front of every service's command (`prefix` overrides it)
  std::vector<std::string> global_prefix;
  /// Where services' log files go by default (`log_dir`, issue 12). The loader applies it: each
  /// service without a `log_file` of its own gets `<log_dir>/<name>.log` in its ServiceSpec, so
  /// an embedder building a Config in code sets log_file itself and this is only informative.
  std::optional<std::string> log_dir;

  bool operator==(const ArmSettings&) const = default;  ///< field by field
};

/// A whole configuration: what parse_config() returns and ServiceSupervisor runs.
struct ARM_EXPORT Config {
  ArmSettings arm;                              ///< the `[arm]` table
  std::map<std::string, ServiceSpec> services;  ///< by name

  bool operator==(const Config&) const = default;  ///< field by field
};

/// Parses TOML text. `source_name` is used in error messages (normally the file's path).
ARM_EXPORT std::expected<Config, ConfigError> parse_config(std::string_view toml_text,
                                                           std::string_view source_name);

/// Checks the dependency graph (depends_on and wants together): every name must be a configured
/// service and there must be no cycle. The error prints the cycle ("a -> b -> c -> a"). Configs
/// read with parse_config/load_config_file are already checked, with file and line; embedders
/// who build a Config in code call this before handing it to a ServiceSupervisor, whose
/// precondition it is. O(services + edges).
ARM_EXPORT std::expected<void, ConfigError> check_dependencies(const Config& config);

/// Everything wrong with a configuration, at once: a map key and the ServiceSpec::name under it
/// that differ (or are empty), an empty binary, negative durations, a jitter outside [0, 1],
/// unknown default_services, and what check_dependencies() finds. Configurations from
/// parse_config/load_config_file always pass; the ServiceSupervisor checks with it on
/// construction and reload.
ARM_EXPORT std::expected<void, std::vector<Error>> check_config(const Config& config);

/// Why `name` cannot be a config_section (empty, a bracket, a line break...), or nullopt.
ARM_EXPORT std::optional<std::string> config_section_problem(std::string_view name);

/// Reads and parses a file: read_config_file_text, then parse_config_file_text.
ARM_EXPORT std::expected<Config, ConfigError> load_config_file(const std::filesystem::path& path);
/// The file's text, read as load_config_file reads it: a regular file only, of bounded size,
/// never blocking (a FIFO put in its place is refused, not waited on).
ARM_EXPORT std::expected<std::string, ConfigError> read_config_file_text(
    const std::filesystem::path& path);
/// Parses `text` as load_config_file parses the file at `path` (relative paths inside are taken
/// relative to its directory): for a host that read it earlier and must parse those very bytes
/// (armd's re-exec, issue 15, hands the new armd the text the old one compared).
ARM_EXPORT std::expected<Config, ConfigError> parse_config_file_text(
    std::string_view text, const std::filesystem::path& path);

/// What `armd --check-config` adds to loading `path` into `config`: the files it names that are
/// not there. Each service's program — argv[0] by compose_argv's rules, so the first word of its
/// own or the global prefix when there is one — must be an executable file; a name without '/'
/// is looked up in `search_path` (a $PATH value) as execvp does. Each service's `config` file
/// must exist. Every finding is an Error at the key that names the file (a missing program of the
/// global prefix once, naming the services it starts). Loading never checks these, since a
/// program may be installed after armd starts; this reads the filesystem, and `path` again.
ARM_EXPORT std::vector<Error> find_missing_files(const std::filesystem::path& path,
                                                 const Config& config,
                                                 std::string_view search_path);

/// What `armd --check-config` warns about in a valid configuration: each service that can
/// crash-loop without bound, i.e. has unlimited restarts (`max_restarts = "unlimited"`) and a
/// restart policy other than never. One warning per service, as an Error at its max_restarts key
/// (`path` is read again for the line; without it the warning names the file and key only).
ARM_EXPORT std::vector<Error> find_unbounded_restarts(const std::filesystem::path& path,
                                                      const Config& config);

/// What `armd --check-config` warns about `[arm] metrics_listen` on an address other hosts can
/// reach (not loopback): armd's metrics have no authentication. Empty otherwise; `path` is read
/// again for the line, as above.
ARM_EXPORT std::vector<Error> find_exposed_metrics(const std::filesystem::path& path,
                                                   const Config& config);

/// Errors about a configuration read from `path` that were found without it (a socket of
/// `services.NAME.listen[I]` that could not be opened, say) given `path` as their file and,
/// for a key of the form services.NAME.KEY or services.NAME.KEY[I], the line and column of that
/// key (or element) in the file (read again; 0 when it is not found).
ARM_EXPORT void locate_in_file(const std::filesystem::path& path, std::vector<Error>& errors);

// --- GNUnet's own configuration (issue 17; docs/config.md, "GNUnet configuration") -----------
//
// A GNUnet peer's INI file read as GNUnet's ARM reads it: the defaults (GNUnet's config.d/*.conf)
// under the user's file, `$VAR` / `${VAR:-default}` expanded from [PATHS] then the environment,
// and one service per section with a BINARY (but [arm], which is ARM itself), started with the
// argv GNUnet's ARM gives it: PREFIX... BINARY -c CONFIG [-L DEBUG] GLOBAL_POSTFIX... OPTIONS...

/// Where the layers come from when loading a file (load_gnunet_config_file).
struct ARM_EXPORT GnunetOptions {
  /// The defaults: every *.conf in it, in name order, under the user's file. Unset:
  /// $GNUNET_BASE_CONFIG, else /usr/share/gnunet/config.d (as GNUnet's util finds them); a
  /// directory that is not there gives no defaults.
  std::optional<std::filesystem::path> defaults_directory;
  /// Where a BINARY that is not an absolute path is found. Unset: the first of
  /// `/usr/lib/MULTIARCH/gnunet/libexec`, /usr/lib/gnunet/libexec, /usr/local/lib/gnunet/libexec
  /// that exists.
  std::optional<std::filesystem::path> libexec_directory;
};

/// Everything parse_gnunet_config_text needs, so that it reads nothing by itself.
struct ARM_EXPORT GnunetSources {
  std::filesystem::path config_file;  ///< the user's file: errors, relative `@INLINE@`s, `-c`
  std::string config_text;            ///< the user's file's text
  /// One file of defaults, as read.
  struct File {
    std::string path;  ///< where it was read from (named in errors and warnings)
    std::string text;  ///< its text
  };
  std::vector<File> defaults;  ///< in the order they are layered (later ones win)
  /// Reads a file an `@INLINE@` names; unset: every include fails.
  std::function<std::expected<std::string, std::string>(const std::string& path)> read_file;
  /// $NAME from the environment; unset: nothing is set.
  std::function<std::optional<std::string>(const std::string& name)> environment;
  std::string libexec_directory;  ///< where a BINARY whose path is not absolute is found
  /// Whether `path` names config_file by another spelling (a symlink, `..`): a service whose
  /// CONFIG is armd's own file then restarts only for its section. Unset: the same spelling only.
  std::function<bool(const std::string& path)> is_config_file;
};

/// A GNUnet configuration as armd runs it, and what of it was not applied.
struct ARM_EXPORT GnunetConfig {
  Config config;  ///< the services and [arm] settings, as a TOML file would give them
  /// What was read but is not applied, or was left out: one line per key (not per section),
  /// each naming file and line. armd logs them; `armd --check-config` prints them.
  std::vector<std::string> warnings;
  /// Every file the configuration was read from (the user's file, the defaults, each included
  /// file), as load_gnunet_config_file read them; empty from parse_gnunet_config_text. A host
  /// reloads when one changes: its services' config_digest says which of them it concerns.
  std::vector<std::string> files;
};

/// The layered configuration to a Config, or the first error (file, line, key).
ARM_EXPORT std::expected<GnunetConfig, ConfigError> parse_gnunet_config_text(
    const GnunetSources& sources);
/// Reads `path`, the defaults and the includes from the filesystem, then parses them.
///
/// `files_read`, when given, receives every file it tried to read, also when the result is an
/// error (an `@INLINE@` file that is missing or broken): what a host watches to try again when
/// one is fixed. With a GNUnet defaults directory given in `options`, each service's environment
/// gets `GNUNET_BASE_CONFIG` = that directory, so that the service layers
/// the same defaults as armd did.
ARM_EXPORT std::expected<GnunetConfig, ConfigError> load_gnunet_config_file(
    const std::filesystem::path& path, const GnunetOptions& options = {},
    std::vector<std::string>* files_read = nullptr);
/// Whether armd reads `path` as GNUnet's INI rather than TOML by default: a name ending in
/// ".conf", as GNUnet's are.
ARM_EXPORT bool looks_like_gnunet_config(const std::filesystem::path& path);

/// Parses a duration: an integer (milliseconds) or a string with unit ms|s|m|h ("250ms", "5s").
ARM_EXPORT std::expected<Milliseconds, std::string> parse_duration(std::string_view text);

/// The argv a service is started with, in the original ARM's order:
///   prefix... binary [config_arg...] [-L DEBUG] options...
/// where prefix is the service's own prefix if set, else the global prefix, and config_arg is
/// `-c CONFIG` unless the spec says otherwise (only with a config file). `{config}` and `{name}`
/// in config_arg and options are replaced by the config file's path and the service's name.
ARM_EXPORT std::vector<std::string> compose_argv(const ServiceSpec& spec, const ArmSettings& arm);

ARM_END_NAMESPACE
