// armctl: the command-line client of armd.
//
// Exit codes (scripts rely on them): 0 done; 1 a service could not be started; 2 usage error,
// or an invalid configuration on reload; 3 unknown service; 4 armd not reachable.
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "protocol.hpp"

namespace {

using nlohmann::json;
namespace protocol = armd::protocol;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_unknown = 3;
constexpr int exit_unreachable = 4;

// The more severe code wins when several names fail differently.
int worse(int a, int b) {
  auto rank = [](int code) {
    switch (code) {
      case exit_unreachable:
        return 4;
      case exit_unknown:
        return 3;
      case exit_usage:
        return 2;
      case exit_failed:
        return 1;
      default:
        return 0;
    }
  };
  return rank(a) >= rank(b) ? a : b;
}

// json::value() throws when the key exists with another type (a null pid, say); this does not.
long long number_or(const json& object, const char* key, long long fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<long long>() : fallback;
}

std::string default_socket_path() {
  if (const char* path = std::getenv("ARMD_SOCKET"); path && *path) return path;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime)
    return std::string(runtime) + "/armd.sock";
  return "/run/armd.sock";
}

struct Unreachable {
  std::string message;
};

// A blocking connection to armd that reads whole lines.
class Connection {
 public:
  static std::expected<Connection, Unreachable> open(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
      return std::unexpected(Unreachable{fmt::format("socket path too long: {}", path)});
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return std::unexpected(Unreachable{fmt::format("socket: {}", std::strerror(errno))});
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return std::unexpected(Unreachable{fmt::format("cannot reach armd at {}: {}", path, why)});
    }
    return Connection(fd);
  }
  Connection(Connection&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {}
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool send(std::string_view text) {
    while (!text.empty()) {
      ssize_t sent = ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // The next line, or nullopt at end of stream.
  std::optional<std::string> read_line() {
    for (;;) {
      if (auto newline = buffer_.find('\n'); newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      char chunk[65536];
      ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  int fd_;
  std::string buffer_;
};

class Client {
 public:
  Client(std::string socket_path, bool json_output)
      : socket_path_(std::move(socket_path)), json_output_(json_output) {}

  // One request per service, pipelined; replies may come in any order.
  int per_service(std::string_view method, const std::vector<std::string>& names) {
    auto connection = connect();
    if (!connection) return exit_unreachable;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!connection->send(protocol::encode_request(i, method, {{"service", names[i]}})))
        return lost();
    }
    std::map<std::size_t, json> replies;
    while (replies.size() < names.size()) {
      auto reply = read_reply(*connection);
      if (!reply) return exit_unreachable;
      if (!(*reply)["id"].is_number_unsigned()) {
        // An error not tied to one of our requests: armd refused the exchange.
        fmt::print(stderr, "armctl: {}\n", (*reply).value("message", reply->dump()));
        return exit_failed;
      }
      auto index = (*reply)["id"].get<std::size_t>();
      replies[index] = std::move(*reply);
    }
    int code = exit_ok;
    json all = json::array();
    for (auto& [index, reply] : replies) {
      code = worse(code, report_service_reply(reply));
      all.push_back(std::move(reply));
    }
    if (json_output_) fmt::print("{}\n", all.dump(2));
    return code;
  }

  int status(const std::vector<std::string>& names) {
    auto connection = connect();
    if (!connection) return exit_unreachable;
    json params = json::object();
    if (!names.empty()) params["services"] = names;
    if (!connection->send(protocol::encode_request(1, "status", params))) return lost();
    auto reply = read_reply(*connection);
    if (!reply) return exit_unreachable;
    if (!reply->value("ok", false)) {
      fmt::print(stderr, "armctl: {}\n", reply->value("message", "status failed"));
      return reply->value("outcome", "") == "unknown_service" ? exit_unknown : exit_failed;
    }
    const json& services = (*reply)["services"];
    if (json_output_) {
      fmt::print("{}\n", services.dump(2));
    } else {
      print_status_table(services);
    }
    return exit_ok;
  }

  int reload() {
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(protocol::encode_request(1, "reload"))) return lost();
    auto reply = read_reply(*connection);
    if (!reply) return exit_unreachable;
    if (json_output_) fmt::print("{}\n", reply->dump(2));
    if (!reply->value("ok", false)) {
      if (!json_output_)
        fmt::print(stderr, "armctl: reload refused, the running configuration stays: {}\n",
                   reply->value("message", ""));
      return reply->value("outcome", "") == "invalid_config" ? exit_usage : exit_failed;
    }
    if (!json_output_) {
      for (const char* change : {"added", "removed", "restarted", "updated"}) {
        for (const auto& name : (*reply)[change]) {
          fmt::print("{}: {}\n", name.get<std::string>(), change);
        }
      }
      fmt::print("reloaded\n");
    }
    return exit_ok;
  }

  int shutdown() {
    auto connection = connect();
    if (!connection) return exit_unreachable;
    if (!connection->send(protocol::encode_request(1, "shutdown"))) return lost();
    auto reply = read_reply(*connection);
    if (!reply) return exit_unreachable;
    // armd closes the connection once it has finished: wait for that too.
    while (connection->read_line()) {
    }
    if (json_output_) {
      fmt::print("{}\n", reply->dump(2));
    } else {
      fmt::print("armd: every service stopped; shut down\n");
    }
    return exit_ok;
  }

 private:
  std::optional<Connection> connect() {
    auto connection = Connection::open(socket_path_);
    if (!connection) {
      fmt::print(stderr, "armctl: {}\n", connection.error().message);
      return std::nullopt;
    }
    auto banner = connection->read_line();
    if (!banner) {
      fmt::print(stderr, "armctl: armd at {} closed the connection\n", socket_path_);
      return std::nullopt;
    }
    auto hello = protocol::decode_reply(*banner);
    if (!hello || hello->value("hello", "") != "armd" ||
        number_or(*hello, "protocol", 0) != protocol::protocol_version) {
      fmt::print(stderr, "armctl: {} does not speak armd protocol {}\n", socket_path_,
                 protocol::protocol_version);
      return std::nullopt;
    }
    return std::move(*connection);
  }

  std::optional<json> read_reply(Connection& connection) {
    auto line = connection.read_line();
    if (!line) {
      fmt::print(stderr, "armctl: armd closed the connection before answering\n");
      return std::nullopt;
    }
    auto reply = protocol::decode_reply(*line);
    if (!reply) {
      fmt::print(stderr, "armctl: {}\n", reply.error());
      return std::nullopt;
    }
    return *reply;
  }

  int lost() {
    fmt::print(stderr, "armctl: lost the connection to armd at {}\n", socket_path_);
    return exit_unreachable;
  }

  // Prints what happened to one service; returns its exit code.
  int report_service_reply(const json& reply) {
    std::string name = reply.value("service", "?");
    std::string outcome = reply.value("outcome", "");
    std::string message = reply.value("message", "");
    int code = exit_ok;
    std::string text;
    if (outcome == "started" || outcome == "restarted") {
      text = fmt::format("{}: {} (pid {})", name, outcome, number_or(reply, "pid", 0));
    } else if (outcome == "already_running") {
      text =
          fmt::format("{}: already running (refcount {})", name, number_or(reply, "refcount", 0));
    } else if (outcome == "reset") {
      text = fmt::format("{}: reset (failure and restart history cleared)", name);
    } else if (outcome == "stopped") {
      text = fmt::format("{}: stopped", name);
    } else if (outcome == "still_referenced") {
      text = fmt::format("{}: still running, held by {} other reference(s)", name,
                         number_or(reply, "refcount", 0));
    } else if (outcome == "not_running") {
      text = fmt::format("{}: {}", name, message.empty() ? "not running" : message);
    } else if (outcome == "unknown_service") {
      text = fmt::format("{}: unknown service", name);
      code = exit_unknown;
    } else if (outcome == "start_failed") {
      text = fmt::format("{}: could not be started: {}", name, message);
      code = exit_failed;
    } else if (outcome == "shutting_down") {
      text = fmt::format("{}: refused, armd is shutting down", name);
      code = exit_failed;
    } else {
      text = fmt::format("{}: {} {}", name, outcome, message);
      code = exit_failed;
    }
    if (!json_output_) fmt::print(code == exit_ok ? stdout : stderr, "{}\n", text);
    return code;
  }

  static std::string format_ms(const json& value) {
    if (!value.is_number()) return "-";
    auto ms = value.get<long long>();
    if (ms < 10'000) return fmt::format("{}ms", ms);
    if (ms < 600'000) return fmt::format("{}s", ms / 1000);
    return fmt::format("{}m", ms / 60'000);
  }

  static void print_status_table(const json& services) {
    std::vector<std::array<std::string, 7>> rows;
    rows.push_back({"NAME", "STATE", "PID", "RESTARTS", "REFS", "LAST-EXIT", "NEXT-RESTART"});
    for (const auto& service : services) {
      std::string last_exit = "-";
      if (const json& exit = service["last_exit"]; exit.is_object()) {
        std::string how =
            exit["signal"].is_number()
                ? fmt::format("signal {}", exit["signal"].get<int>())
                : fmt::format("code {}", exit["code"].is_number() ? exit["code"].get<int>() : 0);
        last_exit = fmt::format("{}, {} ago", how, format_ms(exit["ms_ago"]));
      }
      rows.push_back({service.value("name", "?"), service.value("state", "?"),
                      service["pid"].is_number() ? std::to_string(service["pid"].get<int>()) : "-",
                      std::to_string(number_or(service, "restarts", 0)),
                      std::to_string(number_or(service, "refcount", 0)), last_exit,
                      service["next_restart_in_ms"].is_number()
                          ? "in " + format_ms(service["next_restart_in_ms"])
                          : "-"});
    }
    std::array<std::size_t, 7> widths{};
    for (const auto& row : rows) {
      for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    for (const auto& row : rows) {
      std::string text;
      for (std::size_t i = 0; i < row.size(); ++i) {
        text += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], widths[i]) : row[i];
      }
      fmt::print("{}\n", text);
    }
  }

  std::string socket_path_;
  bool json_output_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"armctl: control armd, the automated restart manager"};
  std::string socket_path = default_socket_path();
  bool json_output = false;
  app.add_option(
      "--socket", socket_path,
      "armd's socket (default: $ARMD_SOCKET, $XDG_RUNTIME_DIR/armd.sock, /run/armd.sock)");
  app.add_flag("--json", json_output, "print armd's replies as JSON");
  app.require_subcommand(1);

  std::vector<std::string> names;
  auto* start = app.add_subcommand("start", "start services; returns once each is running");
  auto* stop = app.add_subcommand("stop", "stop services; returns once each is reaped");
  auto* restart = app.add_subcommand("restart", "restart services, keeping their references");
  auto* reset = app.add_subcommand("reset", "clear services' failure and restart history");
  for (auto* command : {start, stop, restart, reset})
    command->add_option("NAME", names)->required();
  auto* status = app.add_subcommand("status", "show services (all, or those named)");
  status->add_option("NAME", names);
  auto* reload = app.add_subcommand("reload", "re-read armd's configuration file");
  auto* shutdown = app.add_subcommand("shutdown", "stop every service and armd; returns when done");
  for (auto* command : {start, stop, restart, reset, status, reload, shutdown}) {
    command->add_flag("--json", json_output, "print armd's replies as JSON");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? exit_ok : exit_usage;
  }

  Client client(socket_path, json_output);
  if (start->parsed()) return client.per_service("start", names);
  if (stop->parsed()) return client.per_service("stop", names);
  if (restart->parsed()) return client.per_service("restart", names);
  if (reset->parsed()) return client.per_service("reset", names);
  if (status->parsed()) return client.status(names);
  if (reload->parsed()) return client.reload();
  if (shutdown->parsed()) return client.shutdown();
  return exit_usage;
}
