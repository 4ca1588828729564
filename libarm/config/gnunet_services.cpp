// GNUnet's configuration to armd's Config: one service per section with a BINARY, set up as
// GNUnet's ARM (gnunet-service-arm.c, 0.19: setup_service and start_process) sets it up.
//
// What ARM itself reads is mapped (docs/config.md has the table); every other key of a service
// section is the service's own business (its database, ACCEPT_FROM, UNIX_MATCH_UID...) and is
// passed to it untouched through `-c`. The ARM keys armd cannot honour are reported once each.
#include "gnunet_services.hpp"

#include <fmt/format.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "arm/config.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

namespace {

constexpr int deepest_expansion = 64;
constexpr std::size_t longest_expansion = 64 * 1024;
// Variables looked up for one value, in all: neither limit above stops "L1 = ${L0}${L0}",
// "L2 = ${L1}${L1}", ... when L0 is empty (the text stays short and shallow while the work
// doubles at each level; GNUnet's own gnunet-config hangs on it).
constexpr std::size_t most_look_ups = 100000;

struct Expansion {
  const IniDocument& document;
  const LookUpEnvironment& environment;
  std::vector<std::string>* unresolved;
  std::string problem;  // why expand() gave nothing
  std::size_t look_ups = 0;

  // [PATHS] NAME (expanded), else the environment's NAME.
  std::optional<std::optional<std::string>> look_up(const std::string& name, int depth) {
    if (++look_ups > most_look_ups) {
      problem = fmt::format(
          "expands through more than {} variables (each refers to others "
          "several times?)",
          most_look_ups);
      return std::nullopt;
    }
    if (const IniValue* value = document.find("PATHS", name)) {
      auto expanded = expand(value->text, depth + 1);
      if (!expanded) return std::nullopt;  // too deep
      return std::optional<std::string>(std::move(*expanded));
    }
    if (environment) {
      if (auto found = environment(name)) return std::optional<std::string>(std::move(*found));
    }
    return std::optional<std::string>();
  }

  std::optional<std::string> expand(std::string_view text, int depth) {
    if (depth > deepest_expansion) {
      problem = fmt::format("variables nested deeper than {} (one that refers to itself?)",
                            deepest_expansion);
      return std::nullopt;
    }
    std::string out;
    std::size_t at = 0;
    while (at < text.size()) {
      if (out.size() > longest_expansion) {
        problem = fmt::format("expands to more than {} KiB", longest_expansion / 1024);
        return std::nullopt;
      }
      if (text[at] != '$') {
        out += text[at++];
        continue;
      }
      if (at + 1 < text.size() && text[at + 1] == '{') {
        // ${NAME} or ${NAME:-DEFAULT}, DEFAULT possibly holding ${...} of its own.
        std::size_t close = at + 2;
        int open = 1;
        for (; close < text.size(); ++close) {
          if (text[close] == '{') ++open;
          if (text[close] == '}' && --open == 0) break;
        }
        if (close >= text.size()) {  // unbalanced: kept as written, as GNUnet warns and keeps
          out += text.substr(at);
          break;
        }
        std::string_view inside = text.substr(at + 2, close - at - 2);
        auto separator = inside.find(":-");
        std::string name(inside.substr(0, separator));
        auto found = look_up(name, depth);
        if (!found) return std::nullopt;
        if (*found) {
          out += **found;
        } else if (separator != std::string_view::npos) {
          auto fallback = expand(inside.substr(separator + 2), depth + 1);
          if (!fallback) return std::nullopt;
          out += *fallback;
        } else {
          if (unresolved) unresolved->push_back(name);
          out += text.substr(at, close - at + 1);
        }
        at = close + 1;
        continue;
      }
      std::size_t end = text.find_first_of("/\\ ", at + 1);
      if (end == std::string_view::npos) end = text.size();
      std::string name(text.substr(at + 1, end - at - 1));
      auto found = name.empty()
                       ? std::optional<std::optional<std::string>>(std::optional<std::string>())
                       : look_up(name, depth);
      if (!found) return std::nullopt;
      if (*found) {
        out += **found;
        at = end;
      } else {
        // Kept: the '$' stays and what follows is read on (GNUnet's "$A$B" keeps "$A", then
        // expands "$B").
        if (unresolved && !name.empty()) unresolved->push_back(name);
        out += '$';
        ++at;
      }
    }
    return out;
  }
};

bool is_armd_service_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '@' || c == '-';
  });
}

using Failure = std::unexpected<Error>;

// Reading one layered document into a Config: the values of a section, expanded, with the place
// they were written for errors and warnings.
class ServiceReader {
 public:
  ServiceReader(const IniDocument& document, const GnunetSources& sources)
      : document_(document), sources_(sources) {}

  std::expected<GnunetConfig, Error> read() {
    GnunetConfig result;
    for (const std::string& warning : document_.warnings) result.warnings.push_back(warning);

    auto start_user = yes_no("arm", "START_USER_SERVICES");
    auto start_system = yes_no("arm", "START_SYSTEM_SERVICES");
    if (!start_user) return Failure(start_user.error());
    if (!start_system) return Failure(start_system.error());
    if (*start_user == YesNo::no && *start_system == YesNo::no)
      return Failure(error_at("arm", "START_USER_SERVICES",
                              "START_USER_SERVICES and START_SYSTEM_SERVICES are both NO: no "
                              "service could run (GNUnet's ARM refuses this too)"));

    if (auto prefix = expanded("arm", "GLOBAL_PREFIX"); !prefix) {
      return Failure(prefix.error());
    } else if (*prefix) {
      result.config.arm.global_prefix = split_gnunet_words(**prefix);
    }
    auto postfix = raw("arm", "GLOBAL_POSTFIX");
    std::set<std::string, CaseInsensitiveLess> default_services;
    if (const IniValue* listed = document_.find("arm", "DEFAULTSERVICES"))
      for (auto& name : split_gnunet_words(listed->text)) default_services.insert(name);

    for (const auto& [name, section] : document_.sections) {
      if (strcasecmp(name.c_str(), "arm") == 0) {
        // [arm] is GNUnet's ARM itself, which armd replaces.
        note_arm_section();
        continue;
      }
      // Its secret file could not be read: GNUnet finds no BINARY there either (the parser
      // has said why).
      if (section.inaccessible) continue;
      if (!section.values.contains("BINARY")) continue;  // a plugin's or a library's settings
      if (!is_armd_service_name(name)) {
        result.warnings.push_back(fmt::format(
            "{}: [{}] is left out: armd's service names hold only letters, digits and _ . @ -",
            where(name, "BINARY"), name));
        continue;
      }
      auto per_user = yes_no(name, "RUN_PER_USER");
      if (!per_user) return Failure(per_user.error());
      if (*per_user == YesNo::yes ? *start_user == YesNo::no : *start_system == YesNo::no)
        continue;  // a user service for a system ARM, or the other way round
      auto spec = read_service(name, postfix, default_services.contains(name));
      if (!spec) return Failure(spec.error());
      result.config.services.emplace(name, std::move(*spec));
    }
    for (const std::string& listed : default_services)
      if (!result.config.services.contains(listed))
        note_once("DEFAULTSERVICES",
                  fmt::format("{}: [arm] DEFAULTSERVICES names '{}', which is not a service here "
                              "(no section with a BINARY)",
                              where("arm", "DEFAULTSERVICES"), listed));
    if (auto unique = check_sockets_unique(result.config); !unique) return Failure(unique.error());
    for (auto& [key, warning] : warnings_) result.warnings.push_back(std::move(warning));
    if (auto checked = check_config(result.config); !checked)
      return Failure(
          Error::at(sources_.config_file.string(), 0, 0, "", checked.error().front().to_string()));
    return result;
  }

 private:
  const IniDocument& document_;
  const GnunetSources& sources_;
  std::map<std::string, std::string> warnings_;  // by key: each reported once

  std::string where(std::string_view section, std::string_view key) const {
    const IniValue* value = document_.find(section, key);
    if (!value) return sources_.config_file.string();
    return fmt::format("{}:{}", value->file, value->line);
  }

  Error error_at(std::string_view section, std::string_view key, std::string message) const {
    const IniValue* value = document_.find(section, key);
    std::string dotted = fmt::format("{}.{}", section, key);
    if (!value) return Error::at(sources_.config_file.string(), 0, 0, dotted, std::move(message));
    return Error::at(value->file, value->line, value->column, dotted, std::move(message));
  }

  void note_once(const std::string& key, std::string warning) {
    warnings_.try_emplace(key, std::move(warning));
  }

  // A key ARM reads that armd does not honour, set in [section]: reported once per key.
  void note_unsupported(std::string_view section, std::string_view key, std::string_view why) {
    if (!document_.find(section, key)) return;
    note_once(std::string(key), fmt::format("{}: [{}] {} is not applied: {}", where(section, key),
                                            section, key, why));
  }

  void note_arm_section() {
    note_unsupported("arm", "RESOURCE_DIAGNOSTICS",
                     "armd records each exit in `armctl status` and its metrics instead");
    for (const char* key : {"UNIXPATH", "PORT"})
      note_unsupported("arm", key,
                       "armd does not speak GNUnet's ARM protocol, so gnunet-arm cannot reach it; "
                       "armctl talks to armd over its own socket (--socket)");
  }

  const IniValue* raw(std::string_view section, std::string_view key) const {
    return document_.find(section, key);
  }

  // The value, $-expanded; nullopt when it is not set.
  std::expected<std::optional<std::string>, Error> expanded(std::string_view section,
                                                            std::string_view key) {
    const IniValue* value = raw(section, key);
    if (!value) return std::optional<std::string>();
    return expand(value->text, section, key);
  }

  std::expected<std::optional<std::string>, Error> expand(std::string_view text,
                                                          std::string_view section,
                                                          std::string_view key) {
    std::vector<std::string> unresolved;
    auto out = expand_gnunet_value(text, document_, sources_.environment, &unresolved);
    if (!out) return Failure(error_at(section, key, std::move(out.error())));
    for (const std::string& name : unresolved)
      note_once("$" + name, fmt::format("{}: [{}] {}: ${} is set neither in [PATHS] nor in the "
                                        "environment; kept as written",
                                        where(section, key), section, key, name));
    return std::optional<std::string>(std::move(*out));
  }

  std::expected<YesNo, Error> yes_no(std::string_view section, std::string_view key) {
    const IniValue* value = raw(section, key);
    if (!value) return YesNo::neither;
    YesNo read = read_yes_no(value->text);
    if (read == YesNo::neither)
      return Failure(
          error_at(section, key, fmt::format("expected YES or NO, not '{}'", value->text)));
    return read;
  }

  // UNIXPATH and PORT (with BINDTO, DISABLEV6) to the sockets armd holds, as ARM's
  // get_server_addresses binds them: the unix socket first, then IPv6, then IPv4.
  std::expected<std::vector<std::string>, Error> addresses(const std::string& name) {
    std::vector<std::string> sockets;
    auto unixpath = expanded(name, "UNIXPATH");
    if (!unixpath) return Failure(unixpath.error());
    if (*unixpath && !(*unixpath)->empty()) {
      auto abstract = yes_no("TESTING", "USE_ABSTRACT_SOCKETS");
      if (!abstract) return Failure(abstract.error());
      sockets.push_back(fmt::format("unix:{}{}", *abstract == YesNo::yes ? "@" : "", **unixpath));
    }
    const IniValue* port_value = raw(name, "PORT");
    unsigned long port = 0;
    if (port_value) {
      const std::string& text = port_value->text;
      if (text.empty() || text.size() > 5 ||
          !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }) ||
          (port = std::stoul(text)) > 65535)
        return Failure(
            error_at(name, "PORT", fmt::format("expected a port 0-65535, not '{}'", text)));
    }
    if (port == 0) return sockets;  // no TCP: the unix socket only (PORT = 0 is GNUnet's "none")
    auto disable_v6 = yes_no(name, "DISABLEV6");
    if (!disable_v6) return Failure(disable_v6.error());
    auto bind_to = expanded(name, "BINDTO");
    if (!bind_to) return Failure(bind_to.error());
    std::vector<std::string> hosts;
    if (!*bind_to || (*bind_to)->empty()) {
      if (*disable_v6 != YesNo::yes) hosts.push_back("[::]");
      hosts.push_back("0.0.0.0");
    } else if (**bind_to == "localhost") {
      if (*disable_v6 != YesNo::yes) hosts.push_back("[::1]");
      hosts.push_back("127.0.0.1");
    } else if ((*bind_to)->find(':') != std::string::npos) {
      hosts.push_back("[" + **bind_to + "]");
    } else {
      hosts.push_back(**bind_to);
    }
    for (const std::string& host : hosts) {
      std::string text = fmt::format("tcp:{}:{}", host, port);
      if (!parse_listen_socket(text))
        return Failure(error_at(name, "BINDTO",
                                fmt::format("'{}' is not an IP address (armd does not look names "
                                            "up, but for localhost)",
                                            **bind_to)));
      sockets.push_back(std::move(text));
    }
    return sockets;
  }

  // GNUnet's fix_permissions for a service's unix socket: UNIX_MATCH_UID = YES keeps it to the
  // owner, else UNIX_MATCH_GID = YES to the group too, else anyone may connect.
  std::expected<unsigned, Error> socket_mode(const std::string& name) {
    auto match_uid = yes_no(name, "UNIX_MATCH_UID");
    if (!match_uid) return Failure(match_uid.error());
    auto match_gid = yes_no(name, "UNIX_MATCH_GID");
    if (!match_gid) return Failure(match_gid.error());
    if (*match_uid == YesNo::yes) return 0600u;
    if (*match_gid == YesNo::yes) return 0660u;
    return 0666u;
  }

  std::expected<ServiceSpec, Error> read_service(const std::string& name, const IniValue* postfix,
                                                 bool listed_default) {
    ServiceSpec spec;
    spec.name = name;
    auto binary = expanded(name, "BINARY");
    if (!binary) return Failure(binary.error());
    if ((*binary)->empty()) return Failure(error_at(name, "BINARY", "BINARY is empty"));

    const IniValue* type = raw(name, "TYPE");
    bool simple = false;
    if (type) {
      if (strcasecmp(type->text.c_str(), "SIMPLE") == 0)
        simple = true;
      else if (strcasecmp(type->text.c_str(), "GNUNET") != 0)
        return Failure(
            error_at(name, "TYPE", fmt::format("expected GNUNET or SIMPLE, not '{}'", type->text)));
    }
    // A GNUnet service's program is found in GNUnet's libexec directory unless its path is
    // absolute (GNUNET_OS_get_libexec_binary_path: "sub/x" is LIBEXEC/sub/x too); a SIMPLE one
    // (any program) as written, through $PATH.
    spec.binary = **binary;
    if (!simple && !spec.binary.starts_with('/') && !sources_.libexec_directory.empty())
      spec.binary = sources_.libexec_directory + "/" + spec.binary;

    if (simple) {
      spec.config_arg = std::vector<std::string>{};  // no -c, no -L: "no GNUnet options"
    } else {
      auto config = expanded(name, "CONFIG");
      if (!config) return Failure(config.error());
      if (!*config) config = expanded("PATHS", "DEFAULTCONFIG");
      if (!config) return Failure(config.error());
      spec.config_file = *config && !(*config)->empty() ? **config : sources_.config_file.string();
      // The file read here: a change restarts the service only when what it reads of it
      // changed (armd reloads on a change of any file read here). Another file (CONFIG): whole.
      if (*spec.config_file == sources_.config_file.string() ||
          (sources_.is_config_file && sources_.is_config_file(*spec.config_file)))
        spec.config_digest = gnunet_service_digest(document_, name, sources_.environment);
      auto debug = yes_no(name, "DEBUG");
      if (!debug) return Failure(debug.error());
      spec.debug = *debug == YesNo::yes;
    }
    if (simple && raw(name, "DEBUG"))
      note_once("DEBUG@simple", fmt::format("{}: [{}] DEBUG is not applied: a TYPE = SIMPLE "
                                            "service gets no GNUnet options, as under ARM",
                                            where(name, "DEBUG"), name));

    if (raw(name, "PREFIX")) {
      auto prefix = expanded(name, "PREFIX");
      if (!prefix) return Failure(prefix.error());
      spec.prefix = split_gnunet_words(**prefix);  // even empty: it overrides GLOBAL_PREFIX
    }
    // GLOBAL_POSTFIX (with {} the section's name), then OPTIONS: one string, split at spaces.
    std::string options;
    if (postfix) {
      std::string text = postfix->text;
      for (std::size_t at; (at = text.find("{}")) != std::string::npos;) text.replace(at, 2, name);
      auto out = expand(text, "arm", "GLOBAL_POSTFIX");
      if (!out) return Failure(out.error());
      options = **out;
    }
    if (auto own = expanded(name, "OPTIONS"); !own) {
      return Failure(own.error());
    } else if (*own) {
      options += " " + **own;
    }
    spec.options = split_gnunet_words(options);

    // When it starts: FORCESTART (before 0.15) / IMMEDIATE_START, or [arm] DEFAULTSERVICES (the
    // original ARM's list): at boot; START_ON_DEMAND: on its first connection.
    auto immediate = yes_no(name, "IMMEDIATE_START");
    if (!immediate) return Failure(immediate.error());
    auto forced = yes_no(name, "FORCESTART");
    if (!forced) return Failure(forced.error());
    auto on_demand = yes_no(name, "START_ON_DEMAND");
    if (!on_demand) return Failure(on_demand.error());
    auto no_bind = yes_no(name, "NOARMBIND");
    if (!no_bind) return Failure(no_bind.error());
    bool at_boot = *immediate == YesNo::yes || *forced == YesNo::yes || listed_default;
    // ARM holds the sockets of every service started on demand, and of those started at once
    // unless NOARMBIND = YES; a service it holds none for binds its own.
    bool arm_binds = at_boot ? *no_bind != YesNo::yes : *on_demand == YesNo::yes;
    if (arm_binds) {
      auto sockets = addresses(name);
      if (!sockets) return Failure(sockets.error());
      for (const std::string& text : *sockets) {
        auto socket = parse_listen_socket(text);
        if (!socket)  // a relative UNIXPATH (an unset $VARIABLE), one too long for sun_path
          return Failure(
              error_at(name, text.starts_with("unix:") ? "UNIXPATH" : "PORT", socket.error()));
        spec.listen.push_back(std::move(*socket));
      }
      if (!spec.listen.empty()) {
        // GNUnet's services accept until EAGAIN: their sockets must come non-blocking.
        spec.listen_nonblocking = true;
        auto mode = socket_mode(name);
        if (!mode) return Failure(mode.error());
        spec.listen_mode = *mode;
      }
    }
    if (at_boot)
      spec.start = StartMode::boot;
    else if (*on_demand == YesNo::yes && !spec.listen.empty())
      spec.start = StartMode::on_demand;
    else if (*on_demand == YesNo::yes)
      note_once("START_ON_DEMAND@" + name,
                fmt::format("{}: [{}] START_ON_DEMAND = YES, but it has neither UNIXPATH nor a "
                            "PORT: it starts only when asked (armctl start {})",
                            where(name, "START_ON_DEMAND"), name, name));

    note_unsupported(name, "PIPECONTROL",
                     "armd stops a service with SIGTERM (then its stop sequence), never through "
                     "GNUnet's control pipe");
    return spec;
  }

  // Two services on one socket: the second could never be bound.
  std::expected<void, Error> check_sockets_unique(const Config& config) const {
    std::map<std::string, std::string> owner;
    for (const auto& [name, spec] : config.services)
      for (const ListenSocket& socket : spec.listen) {
        auto [at, inserted] = owner.emplace(to_string(socket), name);
        if (!inserted)
          return Failure(
              error_at(name, socket.kind == ListenSocket::Kind::unix_stream ? "UNIXPATH" : "PORT",
                       fmt::format("{} is also [{}]'s socket", to_string(socket), at->second)));
      }
    return {};
  }
};

}  // namespace

std::expected<std::string, std::string> expand_gnunet_value(std::string_view text,
                                                            const IniDocument& document,
                                                            const LookUpEnvironment& environment,
                                                            std::vector<std::string>* unresolved) {
  Expansion expansion{document, environment, unresolved, {}, 0};
  auto out = expansion.expand(text, 0);
  if (!out) return std::unexpected(std::move(expansion.problem));
  if (out->size() > longest_expansion)
    return std::unexpected(fmt::format("expands to more than {} KiB", longest_expansion / 1024));
  return std::move(*out);
}

std::vector<std::string> split_gnunet_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false;
  bool have_word = false;
  for (char c : text) {
    if (c == '"') {
      quoted = !quoted;
      have_word = true;
    } else if (!quoted && (c == ' ' || c == '\t')) {
      if (have_word) words.push_back(std::move(word));
      word.clear();
      have_word = false;
    } else {
      word += c;
      have_word = true;
    }
  }
  if (have_word) words.push_back(std::move(word));
  return words;
}

}  // namespace config_detail

std::expected<GnunetConfig, ConfigError> parse_gnunet_config_text(const GnunetSources& sources) {
  using namespace config_detail;
  try {
    IniDocument document;
    ReadTextFile read =
        sources.read_file ? ReadTextFile(sources.read_file) : ReadTextFile([](const std::string&) {
          return std::expected<std::string, std::string>(std::unexpect, "files are not read here");
        });
    for (const GnunetSources::File& defaults : sources.defaults)
      if (auto parsed = parse_gnunet_ini(defaults.text, defaults.path, read, document); !parsed)
        return std::unexpected(parsed.error());
    if (auto parsed =
            parse_gnunet_ini(sources.config_text, sources.config_file.string(), read, document);
        !parsed)
      return std::unexpected(parsed.error());
    return ServiceReader(document, sources).read();
  } catch (const std::exception& error) {
    return std::unexpected(Error::at(sources.config_file.string(), 0, 0, "", error.what()));
  }
}

ARM_END_NAMESPACE
