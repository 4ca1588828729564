// armctl: the command-line client of armd. It connects, checks armd's hello, writes its
// requests, and reads until each has been answered; blocking I/O and no timeouts, because armd
// answers a start when the process runs and a stop when it has been reaped.
//
// Exit codes (scripts rely on them): 0 done; 1 a service could not be started; 2 usage error,
// or an invalid configuration on reload; 3 unknown service; 4 armd not reachable (or the socket
// is served by another user than root or armctl's own), or the connection closed before every
// answer came. What is printed for each answer, and the codes
// themselves: armctl_output.hpp.
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <unordered_set>
#include <utility>

#include "arm/posix/unique_fd.hpp"
#include "armctl_graph.hpp"
#include "armctl_health.hpp"
#include "armctl_import.hpp"
#include "armctl_logs.hpp"
#include "armctl_monitor.hpp"
#include "armctl_output.hpp"
#include "protocol/protocol.hpp"
#include "protocol/socket_path.hpp"
#include "protocol/version.hpp"

namespace {

using nlohmann::json;
namespace protocol = armd::protocol;
using namespace armctl;

// A reply's field, or null when absent; unlike operator[] it never inserts.
const json& member(const json& object, const char* key) {
  static const json missing;
  auto it = object.find(key);
  return it == object.end() ? missing : *it;
}

struct Unreachable {
  std::string message;
};

// Before anything is sent (a request may say what to stop or start): the listener must be run by
// root or by armctl's own user. In a directory others can write, a stranger's socket could
// stand where armd's should; SO_PEERCRED says who really listens. nullopt when it may be trusted.
std::optional<std::string> listener_of_another_user(int fd, const std::string& path) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0)
    return fmt::format("cannot tell who listens on {} (SO_PEERCRED: {}); not talking to it", path,
                       std::strerror(errno));
  uid_t me = ::geteuid();
  if (credentials.uid == 0 || credentials.uid == me) return std::nullopt;
  return fmt::format(
      "{} is served by uid {} (pid {}), neither root nor this user (uid {}): not armd's socket; "
      "not talking to it",
      path, credentials.uid, credentials.pid, me);
}

// A blocking connection to armd that reads whole lines.
class Connection {
 public:
  static std::expected<Connection, Unreachable> open(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
      return std::unexpected(Unreachable{fmt::format("socket path too long: {}", path)});
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    arm::posix::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return std::unexpected(Unreachable{fmt::format("socket: {}", std::strerror(errno))});
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      return std::unexpected(
          Unreachable{fmt::format("cannot reach armd at {}: {}", path, std::strerror(errno))});
    if (auto stranger = listener_of_another_user(fd.get(), path))
      return std::unexpected(Unreachable{*stranger});
    return Connection(std::move(fd));
  }

  bool send(std::string_view text) {
    while (!text.empty()) {
      ssize_t sent = ::send(fd_.get(), text.data(), text.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // The next line, or nullopt at end of stream (a partial last line is dropped).
  std::optional<std::string> read_line() {
    for (;;) {
      // A status of many services arrives in many chunks: look only at what is new.
      if (auto newline = buffer_.find('\n', scanned_); newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        scanned_ = 0;
        return line;
      }
      scanned_ = buffer_.size();
      char chunk[65536];
      ssize_t got = ::recv(fd_.get(), chunk, sizeof chunk, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

 private:
  explicit Connection(arm::posix::UniqueFd fd) : fd_(std::move(fd)) {}
  arm::posix::UniqueFd fd_;
  std::string buffer_;
  std::size_t scanned_ = 0;  // bytes of buffer_ known to hold no '\n'
};

// armd refuses a request of a connection that already has protocol::max_pending_requests waiting
// for their answer ("too_many_requests"): start --all of 300 services would lose the last 44.
// armctl keeps half that many waiting: armd does the work in parallel all the same, and the
// margin covers an armd that counts a request a moment longer than armctl does.
constexpr std::size_t max_requests_in_flight = protocol::max_pending_requests / 2;

class Client {
 public:
  Client(std::string socket_path, bool json_output)
      : socket_path_(std::move(socket_path)), json_output_(json_output) {}

  // One request per service, written ahead of the replies: armd answers each when it is
  // resolved, so the replies may come in any order and are matched by id (the name's index).
  // At most max_requests_in_flight wait at once; each answer lets the next request go.
  // `force`: stop: drop every reference, not just one; restart: skip the config_check.
  // `listed` (--all): the names are armd's own, from a status a moment ago.
  int per_service(std::string_view method, const std::vector<std::string>& names,
                  bool force = false, bool listed = false) {
    std::vector<std::string> requests;
    for (std::size_t i = 0; i < names.size(); ++i) {
      json params = {{"service", names[i]}};
      if (force) params["force"] = true;
      std::string request = protocol::encode_request(i, method, params);
      if (request.size() > protocol::max_request_line) {
        fmt::print(stderr, "armctl: a service name of {} bytes is longer than armd accepts\n",
                   names[i].size());
        return exit_usage;
      }
      requests.push_back(std::move(request));
    }
    auto connection = connect();
    if (!connection) return exit_unreachable;
    std::size_t sent = std::min(requests.size(), max_requests_in_flight);
    std::string first;
    for (std::size_t i = 0; i < sent; ++i) first += requests[i];
    if (!connection->send(first)) return lost();

    std::vector<std::optional<json>> replies(names.size());
    for (std::size_t answered = 0; answered < names.size();) {
      auto reply = read_reply(*connection);
      if (!reply) return exit_unreachable;
      const json& id = member(*reply, "id");
      if (!id.is_number_unsigned() || id.get<std::size_t>() >= names.size() ||
          replies[id.get<std::size_t>()]) {
        // Not an answer to one of our requests: armd refused the exchange as a whole.
        fmt::print(stderr, "armctl: unexpected reply from armd: {}\n",
                   reply->dump(-1, ' ', false, json::error_handler_t::replace));
        return exit_failed;
      }
      replies[id.get<std::size_t>()] = std::move(*reply);
      ++answered;
      if (sent < requests.size() && !connection->send(requests[sent++])) return lost();
    }

    int code = exit_ok;
    json all = json::array();
    for (std::size_t i = 0; i < names.size(); ++i) {
      Report report = report_service_reply(*replies[i], names[i]);
      // A name armd listed but no longer knows: a reload removed it (it may still have been
      // stopping when listed). Nothing to do there, and no mistake of the operator's.
      if (listed && member(*replies[i], "outcome") == "unknown_service")
        report = {fmt::format("{}: no longer configured (removed by a reload)", names[i]), exit_ok};
      code = more_severe(code, report.exit_code);
      if (!json_output_) print_report(report);
      all.push_back(std::move(*replies[i]));
    }
    if (json_output_) print_json(all);
    return code;
  }

  // start/stop/restart --all: the names come from a status of every service, then one request
  // each, as for names given on the command line. armd orders the work: it starts
  // dependencies before their dependents and stops dependents first, whatever the order of the
  // requests. start: every configured service. stop: every service that has a process or is
  // wanted (not stopped, not failed unless a re-arm is pending), each with all its references
  // (--all implies --force; a listening service has no process and nothing to stop). A name
  // armd no longer knows by the time its request arrives was removed by a reload: said, not
  // counted as an unknown name.
  // restart: the services that run or are on their way to (running, waiting, backoff); a
  // stopped one stays stopped, as an operator left it.
  // `force`: restart --all --force skips the config checks.
  int all(std::string_view method, bool force = false) {
    auto services = all_services();
    if (!services) return services.error();
    std::vector<std::string> names;
    for (const json& service : *services) {
      const json& name = member(service, "name");
      if (!name.is_string()) continue;
      const json& state = member(service, "state");
      // A failed service with a re-arm pending would come back on its own: stop cancels it.
      bool rearm_pending = state == "failed" && member(service, "next_restart_in_ms").is_number();
      bool settled =
          state == "stopped" || state == "listening" || (state == "failed" && !rearm_pending);
      bool selected = method == "start"  ? true
                      : method == "stop" ? !settled
                                         : state == "running" || state == "starting" ||
                                               state == "waiting" || state == "backoff";
      if (selected) names.push_back(name.get<std::string>());
    }
    if (names.empty()) {
      if (json_output_)
        print_json(json::array());
      else
        fmt::print("armctl: no service to {}\n", method);
      return exit_ok;
    }
    return per_service(method, names, method == "stop" || force, true);
  }

  int status(const std::vector<std::string>& names) {
    json params = json::object();
    if (!names.empty()) params["services"] = names;
    std::string request = protocol::encode_request(1, "status", params);
    if (request.size() > protocol::max_request_line) {
      fmt::print(stderr, "armctl: too many names for one request ({} bytes; armd accepts {})\n",
                 request.size(), protocol::max_request_line);
      return exit_usage;
    }
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(request)) return lost();
    auto reply = read_reply(*connection);
    if (!reply) return exit_unreachable;
    if (member(*reply, "ok") != true) {
      if (member(*reply, "outcome") == "unknown_service" && member(*reply, "unknown").is_array()) {
        // armd's message says what it made of each name, with a guess at what was meant.
        const json& message = member(*reply, "message");
        if (message.is_string() && message.get<std::string>().starts_with("unknown service '")) {
          fmt::print(stderr, "{}\n", message.get<std::string>());
          return exit_unknown;
        }
        for (const json& name : member(*reply, "unknown")) {
          if (name.is_string())
            fmt::print(stderr, "{}: unknown service\n", name.get<std::string>());
        }
        return exit_unknown;
      }
      return refused(*reply, "status");
    }
    const json& services = member(*reply, "services");
    if (json_output_) {
      if (services.is_array())
        print_json(services);
      else
        fmt::print("[]\n");
    } else {
      fmt::print("{}", format_status_table(services));
      if (!names.empty()) {
        fmt::print("{}", format_health_details(services));
        fmt::print("{}", format_output_tails(services));
        fmt::print("{}", format_output_dropped(services));
      }
    }
    return exit_ok;
  }

  // The last lines services wrote, then (follow) new ones as they come, until interrupted or
  // armd goes away. --json: an array of line objects; when following, one object per line.
  int logs(const std::vector<std::string>& names, std::size_t count, bool follow,
           const std::string& since) {
    json params = {{"services", names}, {"lines", count}, {"follow", follow}};
    if (!since.empty()) {
      auto time = since_time(since, std::chrono::system_clock::now());
      if (!time) {
        fmt::print(stderr, "armctl: {}\n", time.error());
        return exit_usage;
      }
      params["since"] = arm::format_rfc3339_ms(*time);
    }
    std::string request = protocol::encode_request(1, "logs", params);
    if (request.size() > protocol::max_request_line) {
      fmt::print(stderr, "armctl: too many names for one request\n");
      return exit_usage;
    }
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(request)) return lost();
    auto reply = read_reply(*connection);
    if (!reply) return exit_unreachable;
    if (member(*reply, "ok") != true) {
      if (member(*reply, "outcome") == "unknown_service" && member(*reply, "unknown").is_array()) {
        for (const json& name : member(*reply, "unknown"))
          if (name.is_string())
            fmt::print(stderr, "{}: unknown service\n", name.get<std::string>());
        return exit_unknown;
      }
      return refused(*reply, "logs");
    }
    bool with_name = names.size() > 1;
    auto print_lines = [&](const json& lines) {
      if (!lines.is_array()) return;
      for (const json& line : lines) {
        if (json_output_ && follow) {
          fmt::print("{}\n", line.dump(-1, ' ', false, json::error_handler_t::replace));
        } else if (!json_output_) {
          std::string text = format_log_line(line, with_name);
          std::fwrite(text.data(), 1, text.size(), stdout);
        }
      }
      std::fflush(stdout);
    };
    if (json_output_ && !follow) {
      print_json(member(*reply, "lines").is_array() ? member(*reply, "lines") : json::array());
      return exit_ok;
    }
    print_lines(member(*reply, "lines"));
    if (!follow) return exit_ok;
    while (auto line = connection->read_line()) {
      auto event = protocol::decode_reply(*line);
      if (!event) continue;
      if (member(*event, "event") == "lines") {
        print_lines(member(*event, "lines"));
      } else if (member(*event, "event") == "gap") {
        if (json_output_)
          fmt::print("{}\n", event->dump(-1, ' ', false, json::error_handler_t::replace));
        else
          fmt::print("{}", format_gap(*event));
        std::fflush(stdout);
      }
    }
    fmt::print(stderr, "armctl: armd at {} closed the connection\n", socket_path_);
    return exit_unreachable;
  }

  // The services' state, then every change, until armd closes (armctl_monitor.hpp).
  int monitor(const std::vector<std::string>& names) {
    std::string request = protocol::encode_request(1, "subscribe", {{"services", names}});
    if (request.size() > protocol::max_request_line) {
      fmt::print(stderr, "armctl: too many names for one request\n");
      return exit_usage;
    }
    end_quietly_on_interrupt();
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(request)) return lost();
    std::string snapshot;
    auto reply = read_reply(*connection, &snapshot);
    if (!reply) return exit_unreachable;
    if (member(*reply, "ok") != true) {
      if (member(*reply, "outcome") == "unknown_service" && member(*reply, "message").is_string()) {
        // armd's message says what it made of each name, with a guess at what was meant.
        fmt::print(stderr, "{}\n", member(*reply, "message").get<std::string>());
        return exit_unknown;
      }
      return refused(*reply, "monitor");
    }
    if (json_output_)
      fmt::print("{}\n", snapshot);  // as armd wrote it, fields in their documented order
    else
      fmt::print("{}", format_monitor_snapshot(member(*reply, "services"), receipt_time()));
    std::fflush(stdout);
    return print_events([&] { return connection->read_line(); }, json_output_);
  }

  // The dependency graph, from a status of every service.
  int graph(bool dot) {
    auto services = all_services();
    if (!services) return services.error();
    fmt::print("{}", dot ? format_graph_dot(*services) : format_graph_text(*services));
    return exit_ok;
  }

  int reload() {
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(protocol::encode_request(1, "reload"))) return lost();
    auto reply = read_reply(*connection);
    if (!reply) return exit_unreachable;
    if (json_output_) print_json(json::array({*reply}));
    if (member(*reply, "ok") != true) {
      bool invalid = member(*reply, "outcome") == "invalid_config";
      if (json_output_) return invalid ? exit_usage : exit_failed;
      if (!invalid) return refused(*reply, "reload");
      fmt::print(stderr, "armctl: reload refused, the running configuration stays: {}\n",
                 message_of(*reply));
      return exit_usage;
    }
    if (!json_output_) fmt::print("{}", format_reload_summary(*reply));
    return exit_ok;
  }

  // Live re-exec (issue 15): answered by the new armd, once it has taken over.
  int reexec() {
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(protocol::encode_request(1, "reexec"))) return lost();
    auto reply = read_reply(*connection);
    if (!reply) {
      fmt::print(stderr,
                 "armctl: the connection closed before the new armd answered: it may not have "
                 "started (see armd's log)\n");
      return exit_unreachable;
    }
    if (json_output_) print_json(json::array({*reply}));
    if (member(*reply, "ok") != true) return json_output_ ? exit_failed : refused(*reply, "reexec");
    if (!json_output_) {
      auto number = [&](const char* key) {
        const json& value = member(*reply, key);
        return value.is_number() ? value.get<double>() : 0.0;
      };
      const json& binary = member(*reply, "binary");
      fmt::print(
          "armd re-executed {}: {} services, {} processes taken over; {:.1f} ms without "
          "answering ({:.1f} ms in all, the check included)\n",
          binary.is_string() ? binary.get<std::string>() : std::string("armd"), number("services"),
          number("processes"), number("unavailable_us") / 1000.0, number("took_us") / 1000.0);
    }
    return exit_ok;
  }

  // The Prometheus text, as armd wrote it (what GET /metrics would return).
  int metrics() {
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(protocol::encode_request(1, "metrics"))) return lost();
    auto reply = read_reply(*connection);
    if (!reply) return exit_unreachable;
    if (member(*reply, "ok") != true) return refused(*reply, "metrics");
    const json& text = member(*reply, "text");
    if (!text.is_string()) {
      fmt::print(stderr, "armctl: armd's metrics reply has no text\n");
      return exit_unreachable;
    }
    fmt::print("{}", text.get_ref<const std::string&>());
    return exit_ok;
  }

  int shutdown() {
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(protocol::encode_request(1, "shutdown"))) return lost();
    auto reply = read_reply(*connection);
    if (!reply) return exit_unreachable;
    if (member(*reply, "ok") != true) return refused(*reply, "shutdown");
    // The reply comes once every service is stopped; armd then closes the connection as it
    // exits. Waiting for that end of stream means armd is done when armctl returns.
    while (connection->read_line()) {
    }
    if (json_output_) {
      print_json(json::array({*reply}));
    } else if (member(*reply, "killed") == true) {
      // "every service is stopped; killed with SIGKILL (...): web"
      fmt::print("armd: {}; shut down\n", message_of(*reply));
    } else {
      fmt::print("armd: every service stopped; shut down\n");
    }
    return exit_ok;
  }

  // `names` with each shell pattern (a name holding '*', '?' or '[': 'worker@*') replaced by
  // the names of armd's services that match it (fnmatch), in armd's order, leaving out names
  // already there. A pattern that matches nothing is an error, as an unknown name is; or, once
  // printed, the exit code. Names without a pattern cost no request. A name given twice, with
  // or without a pattern, is acted on once: `start web web` takes one reference, as
  // `start web 'w*'` does.
  std::expected<std::vector<std::string>, int> expand_patterns(
      const std::vector<std::string>& names) {
    auto is_pattern = [](const std::string& name) {
      return name.find_first_of("*?[") != std::string::npos;
    };
    std::vector<std::string> expanded;
    // A set, not a search of `expanded`: 'armctl stop "*"' of 10,000 services stays linear.
    std::unordered_set<std::string> seen;
    auto add = [&](const std::string& name) {
      if (seen.insert(name).second) expanded.push_back(name);
    };
    if (std::ranges::none_of(names, is_pattern)) {
      for (const std::string& name : names) add(name);
      return expanded;
    }
    auto services = all_services();
    if (!services) return std::unexpected(services.error());
    for (const std::string& name : names) {
      if (!is_pattern(name)) {
        add(name);
        continue;
      }
      bool matched = false;
      for (const json& service : *services) {
        const json& found = member(service, "name");
        if (!found.is_string() || ::fnmatch(name.c_str(), found.get<std::string>().c_str(), 0))
          continue;
        add(found.get<std::string>());
        matched = true;
      }
      if (!matched) {
        fmt::print(stderr, "armctl: no service matches '{}'\n", name);
        return std::unexpected(exit_unknown);
      }
    }
    return expanded;
  }

 private:
  // Every service's status (an array), or, once the failure has been printed, the exit code.
  std::expected<json, int> all_services() {
    auto connection = connect();
    if (!connection) return std::unexpected(exit_unreachable);
    if (!connection->send(protocol::encode_request(1, "status", json::object())))
      return std::unexpected(lost());
    auto reply = read_reply(*connection);
    if (!reply) return std::unexpected(exit_unreachable);
    if (member(*reply, "ok") != true) return std::unexpected(refused(*reply, "status"));
    const json& services = member(*reply, "services");
    return services.is_array() ? services : json::array();
  }

  std::optional<Connection> connect() {
    auto connection = Connection::open(socket_path_);
    if (!connection) {
      fmt::print(stderr, "armctl: {}\n", connection.error().message);
      return std::nullopt;
    }
    auto banner = connection->read_line();
    if (!banner) {
      fmt::print(stderr, "armctl: armd at {} closed the connection before greeting\n",
                 socket_path_);
      return std::nullopt;
    }
    auto hello = protocol::decode_reply(*banner);
    if (!hello || member(*hello, "hello") != "armd") {
      fmt::print(stderr, "armctl: {} is not armd's socket (its first line was not a hello)\n",
                 socket_path_);
      return std::nullopt;
    }
    if (member(*hello, "protocol") != protocol::protocol_version) {
      fmt::print(stderr, "armctl: armd at {} speaks protocol {}; this armctl speaks {}\n",
                 socket_path_, member(*hello, "protocol").dump(), protocol::protocol_version);
      return std::nullopt;
    }
    return std::move(*connection);
  }

  // `raw`, when given, gets the line as armd sent it.
  std::optional<json> read_reply(Connection& connection, std::string* raw = nullptr) {
    auto line = connection.read_line();
    if (!line) {
      fmt::print(stderr, "armctl: armd at {} closed the connection before answering\n",
                 socket_path_);
      return std::nullopt;
    }
    auto reply = protocol::decode_reply(*line);
    if (!reply) {
      fmt::print(stderr, "armctl: {}\n", reply.error());
      return std::nullopt;
    }
    if (raw) *raw = std::move(*line);
    return *reply;
  }

  int lost() {
    fmt::print(stderr, "armctl: lost the connection to armd at {}\n", socket_path_);
    return exit_unreachable;
  }

  // armd said no for a reason armctl has no special words for (shutting_down, bad_request...).
  static int refused(const json& reply, std::string_view what) {
    fmt::print(stderr, "armctl: {} refused: {}\n", what, message_of(reply));
    return exit_failed;
  }

  static std::string message_of(const json& reply) {
    auto message = reply.find("message");
    if (message != reply.end() && message->is_string()) return message->get<std::string>();
    return reply.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  static void print_report(const Report& report) {
    fmt::print(report.exit_code == exit_ok ? stdout : stderr, "{}\n", report.line);
  }

  static void print_json(const json& value) {
    fmt::print("{}\n", value.dump(2, ' ', false, json::error_handler_t::replace));
  }

  std::string socket_path_;
  bool json_output_;
};

// The first word that is not an option (nor --socket's value), if any: the command.
std::optional<std::string_view> command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view word = argv[i];
    if (word == "--socket") {
      ++i;
      continue;
    }
    if (word == "--")
      return i + 1 < argc ? std::optional<std::string_view>(argv[i + 1]) : std::nullopt;
    if (!word.starts_with('-')) return word;
  }
  return std::nullopt;
}

bool is_command(CLI::App& app, std::string_view word) {
  auto commands = app.get_subcommands([](const CLI::App*) { return true; });
  return std::ranges::any_of(
      commands, [&](const CLI::App* command) { return command->check_name(std::string(word)); });
}

// "start, stop, ...": armctl's commands, in the order --help lists them.
std::string command_list(CLI::App& app) {
  std::string names;
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; }))
    names += (names.empty() ? "" : ", ") + command->get_name();
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"armctl: control armd, the automated restart manager"};
  std::optional<std::string> socket_path;
  bool json_output = false;
  app.add_option(
      "--socket", socket_path,
      "armd's socket (default: $ARMD_SOCKET, $XDG_RUNTIME_DIR/armd.sock, /run/armd.sock)");
  app.add_flag("--json", json_output, "print armd's replies as JSON");
  app.set_version_flag("--version", fmt::format("armctl {}", armd::version));
  app.require_subcommand(1);

  std::vector<std::string> names;
  bool every_service = false;
  bool force = false;
  auto* start = app.add_subcommand("start", "start services; returns once each is running");
  auto* stop = app.add_subcommand("stop", "stop services; returns once each is reaped");
  auto* restart = app.add_subcommand("restart", "restart services, keeping their references");
  auto* reset = app.add_subcommand("reset", "clear services' failure and restart history");
  auto* reload_service = app.add_subcommand(
      "reload-service",
      "make running services take their configuration again without a restart (config_check "
      "first, then reload_signal or reload)");
  for (auto* command : {start, stop, restart, reset, reload_service})
    command->add_option("NAME", names, "service names, or shell patterns such as 'worker@*'");
  start->add_flag("--all", every_service, "every configured service (dependencies first)");
  stop->add_flag("--all", every_service,
                 "every service that runs or is wanted, whatever holds it (implies --force; "
                 "dependents first); armd keeps running");
  restart->add_flag("--all", every_service,
                    "every service that runs (or waits or backs off); stopped ones stay stopped");
  stop->add_flag("--force", force,
                 "drop every reference (other starts, default_services) and stop; hard "
                 "dependents are stopped first");
  restart->add_flag("--force", force, "skip the services' config_check");
  auto* status = app.add_subcommand("status", "show services (all, or those named)");
  status->add_option("NAME", names);
  auto* graph = app.add_subcommand("graph", "print the dependency graph");
  bool dot = false;
  graph->add_flag("--dot", dot, "as Graphviz (dot -Tsvg)");
  auto* logs = app.add_subcommand("logs", "print what services wrote (their captured output)");
  logs->add_option("NAME", names)->required();
  std::size_t log_lines = 10;
  bool follow = false;
  logs->add_option("-n,--lines", log_lines, "how many of the latest lines (default 10)");
  logs->add_flag("-f,--follow", follow, "then print new lines as they come");
  std::string since;
  logs->add_option("--since", since,
                   "only lines from this time on: RFC 3339 (2026-12-01T20:40:00Z) or a "
                   "duration back from now (30s, 10m, 2h)");
  auto* monitor = app.add_subcommand(
      "monitor", "print services' state, then each change as it happens (until Ctrl-C)");
  monitor->add_option("NAME", names, "only these services (default: all, also ones added later)");
  auto* reload = app.add_subcommand("reload", "re-read armd's configuration file");
  auto* shutdown = app.add_subcommand("shutdown", "stop every service and armd; returns when done");
  auto* reexec = app.add_subcommand(
      "reexec", "exec armd's program anew (after an upgrade), every service running on untouched");
  auto* metrics =
      app.add_subcommand("metrics", "print armd's metrics (Prometheus text format 0.0.4)");
  auto* import = app.add_subcommand(
      "import",
      "print an armd configuration for a supervisord file or a systemd .service unit "
      "(no armd needed); what cannot be carried over is listed on stderr");
  std::string import_path;
  std::optional<std::string> import_from;
  import->add_option("FILE", import_path, "the supervisord configuration or .service file")
      ->required();
  import->add_option("--from", import_from,
                     "supervisord or systemd (default: told from the file: a .service name, "
                     "or [program:NAME] sections)");
  for (auto* command : {start, stop, restart, reset, reload_service, status, logs, monitor, reload,
                        shutdown, reexec}) {
    command->add_flag("--json", json_output, "print armd's replies as JSON");
  }

  // CLI11 would answer a mistyped command with "A subcommand is required".
  if (auto word = command_word(argc, argv); word && !is_command(app, *word)) {
    fmt::print(stderr, "armctl: unknown command '{}'\ncommands: {} (armctl --help for more)\n",
               *word, command_list(app));
    return exit_usage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // Only for the missing command itself: a bad option ("--socket" without its value)
    // keeps CLI11's own words, which name it.
    if (error.get_name() == "RequiredError" && app.get_subcommands().empty() &&
        !app.get_option("--help")->count() && !app.get_option("--version")->count()) {
      fmt::print(stderr, "armctl: a command is required\ncommands: {} (armctl --help for more)\n",
                 command_list(app));
      return exit_usage;
    }
    int code = app.exit(error);
    return code == 0 ? exit_ok : exit_usage;
  }

  for (auto* command : {start, stop, restart, reset, reload_service}) {
    if (!command->parsed()) continue;
    if (every_service && !names.empty()) {
      fmt::print(stderr, "armctl: {} takes either --all or names, not both\n", command->get_name());
      return exit_usage;
    }
    if (!every_service && names.empty()) {
      fmt::print(stderr, "armctl: {}: name the services{}\n", command->get_name(),
                 command == reset || command == reload_service ? "" : ", or --all");
      return exit_usage;
    }
  }

  // armd would refuse an empty name as a bad request; it is a mistake on this command line.
  if (std::ranges::any_of(names, [](const std::string& name) { return name.empty(); })) {
    fmt::print(stderr, "armctl: a service name cannot be empty\n");
    return exit_usage;
  }

  // import reads a file and talks to no armd.
  if (import->parsed()) return armctl::import_file(import_path, import_from);

  // armctl reads no configuration file, so [arm].socket is not among its sources.
  Client client(armd::resolve_socket_path(armd::socket_path_sources(socket_path, std::nullopt)),
                json_output);
  if (every_service) {
    if (start->parsed()) return client.all("start");
    if (stop->parsed()) return client.all("stop");
    if (restart->parsed()) return client.all("restart", force);
  }
  if (auto expanded = client.expand_patterns(names))
    names = std::move(*expanded);
  else
    return expanded.error();
  if (start->parsed()) return client.per_service("start", names);
  if (stop->parsed()) return client.per_service("stop", names, force);
  if (restart->parsed()) return client.per_service("restart", names, force);
  if (reload_service->parsed()) return client.per_service("reload_service", names);
  if (reset->parsed()) return client.per_service("reset", names);
  if (status->parsed()) return client.status(names);
  if (graph->parsed()) return client.graph(dot);
  if (logs->parsed()) return client.logs(names, log_lines, follow, since);
  if (monitor->parsed()) return client.monitor(names);
  if (reload->parsed()) return client.reload();
  if (reexec->parsed()) return client.reexec();
  if (shutdown->parsed()) return client.shutdown();
  if (metrics->parsed()) return client.metrics();
  return exit_usage;
}
