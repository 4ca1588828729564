#include "listen_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "service_key.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

bool names_config(const std::vector<std::string>& words) {
  return std::ranges::any_of(
      words, [](const std::string& word) { return word.find("{config}") != std::string::npos; });
}

// The node of `key` in the table, for an error about a key that may have been left out.
const toml::node& node_of(const toml::table& table, std::string_view key) {
  const toml::node* node = table.get(key);
  return node ? *node : table;
}

}  // namespace

Done read_listen(const ValueReader& reader, const toml::node& value, const std::string& path,
                 ServiceSpec& spec) {
  std::vector<std::pair<const toml::node*, std::string>> texts;
  if (value.is_string()) {
    texts.emplace_back(&value, *value.value<std::string>());
  } else if (const toml::array* array = value.as_array()) {
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      auto text = reader.string(element, fmt::format("{}[{}]", path, i));
      if (!text) return Failure(text.error());
      texts.emplace_back(&element, std::move(*text));
    }
  } else {
    return Failure(reader.wrong_type(value, path, "an array of socket addresses"));
  }
  // A spawn hands every socket to the process at once: kept to what a descriptor table holds
  // comfortably, and to the spawner's fixed room for them.
  constexpr std::size_t most = 64;
  if (texts.size() > most)
    return Failure(reader.error_at(value, path, fmt::format("at most {} sockets", most)));
  spec.listen.clear();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto& [node, text] = texts[i];
    std::string key = value.is_array() ? fmt::format("{}[{}]", path, i) : path;
    auto socket = parse_listen_socket(text);
    if (!socket)
      return Failure(reader.error_at(*node, key, fmt::format("'{}': {}", text, socket.error())));
    if (std::ranges::find(spec.listen, *socket) != spec.listen.end())
      return Failure(reader.error_at(*node, key, fmt::format("'{}' is listed twice", text)));
    spec.listen.push_back(std::move(*socket));
  }
  return {};
}

Done read_listen_backlog(const ValueReader& reader, const toml::node& value,
                         const std::string& path, ServiceSpec& spec) {
  if (!value.is_integer()) return Failure(reader.wrong_type(value, path, "an integer"));
  auto backlog = *value.value<std::int64_t>();
  if (backlog < 1 || backlog > 65535)
    return Failure(reader.error_at(value, path, "must be between 1 and 65535"));
  spec.listen_backlog = static_cast<unsigned>(backlog);
  return {};
}

Done read_listen_mode(const ValueReader& reader, const toml::node& value, const std::string& path,
                      ServiceSpec& spec) {
  std::int64_t mode = -1;
  if (value.is_integer()) {
    mode = *value.value<std::int64_t>();
  } else if (value.is_string()) {
    // Octal as chmod reads it: "0660", "660".
    std::string_view text = *value.value<std::string_view>();
    if (!text.empty() && text.size() <= 4 &&
        std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '7'; })) {
      mode = 0;
      for (char c : text) mode = mode * 8 + (c - '0');
    } else {
      return Failure(
          reader.error_at(value, path, fmt::format("'{}': expected octal such as \"0660\"", text)));
    }
  } else {
    return Failure(reader.wrong_type(value, path, "an octal string such as \"0660\" or 0o660"));
  }
  if (mode < 0 || mode > 07777)
    return Failure(reader.error_at(value, path, "must be permission bits, 0 to 0o7777"));
  spec.listen_mode = static_cast<unsigned>(mode);
  return {};
}

Done read_listen_owner(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec) {
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  auto colon = text->find(':');
  std::string_view user = std::string_view(*text).substr(0, colon);
  std::string_view group =
      colon == std::string::npos ? std::string_view{} : std::string_view(*text).substr(colon + 1);
  if (user.empty() || (colon != std::string::npos && group.empty()) ||
      group.find(':') != std::string_view::npos)
    return Failure(reader.error_at(
        value, path, fmt::format("'{}': expected \"USER\" or \"USER:GROUP\"", *text)));
  spec.listen_owner = std::move(*text);
  return {};
}

Done read_listen_nonblocking(const ValueReader& reader, const toml::node& value,
                             const std::string& path, ServiceSpec& spec) {
  return assign(reader.boolean(value, path), spec.listen_nonblocking);
}

Done read_start(const ValueReader& reader, const toml::node& value, const std::string& path,
                ServiceSpec& spec) {
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  if (*text == "manual") {
    spec.start = StartMode::manual;
  } else if (*text == "boot") {
    spec.start = StartMode::boot;
  } else if (*text == "on-demand") {
    spec.start = StartMode::on_demand;
  } else {
    return Failure(reader.error_at(
        value, path, fmt::format("'{}': expected one of manual, boot, on-demand", *text)));
  }
  return {};
}

Done read_idle_stop(const ValueReader& reader, const toml::node& value, const std::string& path,
                    ServiceSpec& spec) {
  auto delay = reader.duration(value, path);
  if (!delay) return Failure(delay.error());
  if (delay->count() <= 0) return Failure(reader.error_at(value, path, "must be more than 0"));
  spec.idle_stop = *delay;
  return {};
}

Done read_config_arg(const ValueReader& reader, const toml::node& value, const std::string& path,
                     ServiceSpec& spec) {
  // An empty array is meaningful here (the file is not passed), and words() takes it as such.
  auto words = reader.words(value, path);
  if (!words) return Failure(words.error());
  spec.config_arg = std::move(*words);
  return {};
}

Done check_socket_activation(const ValueReader& reader, const toml::table& table,
                             const std::string& table_path, const ServiceSpec& spec) {
  auto fail = [&](std::string_view key, std::string message) {
    return Failure(reader.error_at(node_of(table, key), fmt::format("{}.{}", table_path, key),
                                   std::move(message)));
  };
  bool any_unix = std::ranges::any_of(spec.listen, [](const ListenSocket& socket) {
    return socket.kind == ListenSocket::Kind::unix_stream;
  });
  for (std::string_view key :
       {"listen_backlog", "listen_mode", "listen_owner", "listen_nonblocking"}) {
    if (!table.contains(key)) continue;
    if (spec.listen.empty()) return fail(key, "needs `listen`: the sockets it applies to");
    if ((key == "listen_mode" || key == "listen_owner") && !any_unix)
      return fail(key, "applies to unix sockets only, and `listen` has none");
  }
  if (spec.start == StartMode::on_demand && spec.listen.empty())
    return fail("start", "\"on-demand\" needs `listen`: the sockets whose clients start it");
  if (spec.idle_stop && spec.start != StartMode::on_demand)
    return fail("idle_stop", "needs start = \"on-demand\": only such a service listens again");
  if (spec.readiness.kind == Readiness::Kind::fd && !spec.listen.empty() &&
      spec.readiness.fd < 3 + static_cast<int>(spec.listen.size()))
    return fail(
        "readiness",
        fmt::format("descriptor {} is one of the `listen` sockets' (3 to {}): use {} or more",
                    spec.readiness.fd, 2 + spec.listen.size(), 3 + spec.listen.size()));
  if (!spec.config_file) {
    if (table.contains("config_arg"))
      return fail("config_arg", "needs `config`: the file it puts on the command line");
    if (names_config(spec.options))
      return fail("options", "names {config}, but the service has no `config`");
  }
  return {};
}

Done check_sockets_unique(const ValueReader& reader, const toml::table& root,
                          const Config& config) {
  std::map<std::string, std::string> owner;  // socket's text -> the first service listing it
  for (const auto& [name, spec] : config.services) {
    for (std::size_t i = 0; i < spec.listen.size(); ++i) {
      std::string text = to_string(spec.listen[i]);
      auto [it, fresh] = owner.emplace(text, name);
      if (fresh) continue;
      std::string key = fmt::format("services.{}.listen", name);
      const toml::node* where = service_table(root, name)["listen"].node();
      if (const toml::array* array = where ? where->as_array() : nullptr;
          array && i < array->size()) {
        where = array->get(i);
        key = fmt::format("{}[{}]", key, i);
      }
      std::string message = fmt::format(
          "'{}' is also listed by service '{}': a socket belongs to one service", text, it->second);
      if (!where) return Failure(Error::at(reader.file(), 0, 0, key, message));
      return Failure(reader.error_at(*where, key, message));
    }
  }
  return {};
}

}  // namespace config_reading
ARM_END_NAMESPACE
