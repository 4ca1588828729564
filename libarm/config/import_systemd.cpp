// A systemd .service unit to an armd service (import_detail.hpp; the mapping and why each key
// maps as it does: docs/import.md).
#include <fmt/format.h>
#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "import_detail.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {
namespace {

// Where the unit's name puts it: nginx.service is `nginx`; getty@.service the template `getty@`
// (its %i is armd's {instance}); getty@tty1.service the service `getty@tty1` (%i is "tty1").
struct UnitName {
  std::string full;      // "getty@tty1.service", "getty@{instance}.service"
  std::string prefix;    // "getty"
  std::string instance;  // "tty1", "{instance}", or empty
  std::string service;   // armd's name: "getty@tty1", "getty@"
  bool is_template = false;
};

UnitName unit_name(std::string_view path) {
  auto slash = path.rfind('/');
  std::string base(slash == std::string_view::npos ? path : path.substr(slash + 1));
  std::string stem = base;
  if (stem.ends_with(".service"))
    stem.resize(stem.size() - 8);
  else if (auto dot = stem.rfind('.'); dot != std::string::npos && dot > 0)
    stem.resize(dot);
  UnitName name;
  auto at = stem.find('@');
  if (at == std::string::npos) {
    name.prefix = stem;
    name.service = import_service_name(stem);
    name.full = stem + ".service";
    return name;
  }
  name.prefix = stem.substr(0, at);
  name.instance = stem.substr(at + 1);
  if (name.instance.empty()) {
    name.is_template = true;
    name.instance = "{instance}";
    name.service = import_service_name(name.prefix) + "@";
  } else {
    name.service = import_service_name(stem);
  }
  name.full = name.prefix + "@" + name.instance + ".service";
  return name;
}

// A systemd time span ("90", "5s", "1min 30s", "500ms", "infinity") in milliseconds; nullopt
// for infinity; an error for anything else.
std::expected<std::optional<long long>, std::string> time_span(std::string_view text) {
  if (text == "infinity") return std::optional<long long>();
  static const std::vector<std::pair<std::string_view, double>> units = {
      {"usec", 0.001},      {"us", 0.001},       {"msec", 1},       {"ms", 1},
      {"seconds", 1000},    {"second", 1000},    {"sec", 1000},     {"s", 1000},
      {"minutes", 60'000},  {"minute", 60'000},  {"min", 60'000},   {"m", 60'000},
      {"hours", 3'600'000}, {"hour", 3'600'000}, {"hr", 3'600'000}, {"h", 3'600'000},
      {"days", 86'400'000}, {"day", 86'400'000}, {"d", 86'400'000}};
  double total = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    std::size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (start == i) return std::unexpected(fmt::format("'{}' is not a time span", text));
    // "1.5" read digit by digit: libc++ 16 (the clang check's) has no from_chars for double.
    double number = 0;
    double fraction = 0;  // the place value of the next digit after the point; 0 before it
    for (char c : text.substr(start, i - start)) {
      if (c == '.') {
        if (fraction != 0) return std::unexpected(fmt::format("'{}' is not a time span", text));
        fraction = 0.1;
      } else if (fraction == 0) {
        number = number * 10 + (c - '0');
      } else {
        number += (c - '0') * fraction;
        fraction /= 10;
      }
      if (number > 1e13) return std::unexpected(fmt::format("'{}' is too long a time span", text));
    }
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = 1000;  // a bare number is seconds
    if (!unit.empty()) {
      auto found = std::ranges::find(units, unit, &std::pair<std::string_view, double>::first);
      if (found == units.end())
        return std::unexpected(fmt::format("'{}' is not a time unit systemd knows", unit));
      scale = found->second;
    }
    total += number * scale;
    any = true;
  }
  if (!any || total > 3.1e12) return std::unexpected(fmt::format("'{}' is not a time span", text));
  return std::optional<long long>(std::llround(total));
}

std::string armd_duration(long long milliseconds) {
  if (milliseconds % 1000 == 0) return fmt::format("{}s", milliseconds / 1000);
  return fmt::format("{}ms", milliseconds);
}

std::optional<bool> to_boolean(std::string_view text) {
  std::string lower(text);
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  if (lower == "yes" || lower == "true" || lower == "on" || lower == "1" || lower == "y" ||
      lower == "t")
    return true;
  if (lower == "no" || lower == "false" || lower == "off" || lower == "0" || lower == "n" ||
      lower == "f")
    return false;
  return std::nullopt;
}

std::optional<long long> to_integer(std::string_view text) {
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string upper(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  });
  return text;
}

// systemd's Limit*= names and the setrlimit names armd's `limits` uses.
const std::map<std::string, std::string>& limit_names() {
  static const std::map<std::string, std::string> names = {
      {"LimitAS", "as"},           {"LimitCORE", "core"},         {"LimitCPU", "cpu"},
      {"LimitDATA", "data"},       {"LimitFSIZE", "fsize"},       {"LimitLOCKS", "locks"},
      {"LimitMEMLOCK", "memlock"}, {"LimitMSGQUEUE", "msgqueue"}, {"LimitNICE", "nice"},
      {"LimitNOFILE", "nofile"},   {"LimitNPROC", "nproc"},       {"LimitRSS", "rss"},
      {"LimitRTPRIO", "rtprio"},   {"LimitRTTIME", "rttime"},     {"LimitSIGPENDING", "sigpending"},
      {"LimitSTACK", "stack"}};
  return names;
}

// One side of a Limit*= value: a count or bytes (K, M, G, T: powers of 1024), or infinity.
std::expected<std::string, std::string> limit_side(std::string_view text, long long& out) {
  if (text == "infinity") return std::string("unlimited");
  long long scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
        scale = 1LL << 10;
        break;
      case 'M':
        scale = 1LL << 20;
        break;
      case 'G':
        scale = 1LL << 30;
        break;
      case 'T':
        scale = 1LL << 40;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  auto number = to_integer(text);
  if (!number || *number < 0 || *number > (1LL << 62) / scale)
    return std::unexpected(std::string("expected a number (K, M, G, T allowed) or infinity"));
  out = *number * scale;
  return std::string();
}

// The settings of the unit, last assignment winning; an empty assignment resets a list.
class Settings {
 public:
  void add(const ImportEntry& entry) {
    auto& list = values_[entry.key];
    if (entry.value.empty())
      list.clear();
    else
      list.push_back(&entry);
  }
  const ImportEntry* last(const std::string& key) const {
    auto found = values_.find(key);
    return found == values_.end() || found->second.empty() ? nullptr : found->second.back();
  }
  std::vector<const ImportEntry*> all(const std::string& key) const {
    auto found = values_.find(key);
    return found == values_.end() ? std::vector<const ImportEntry*>() : found->second;
  }
  const std::map<std::string, std::vector<const ImportEntry*>>& map() const { return values_; }

 private:
  std::map<std::string, std::vector<const ImportEntry*>> values_;
};

class UnitImport {
 public:
  UnitImport(const ImportSource& source, ImportNotes& notes) : source_(source), notes_(notes) {}

  std::expected<std::string, Error> run(const std::vector<ImportSection>& sections) {
    name_ = unit_name(source_.path);
    if (name_.prefix.empty())
      return std::unexpected(Error::at(source_.path, 0, 0, "",
                                       "the file's name gives no service name (NAME.service)"));
    const ImportSection* service_section = nullptr;
    for (const auto& section : sections) {
      if (section.name == "Unit")
        for (const auto& e : section.entries) unit_.add(e);
      else if (section.name == "Service") {
        service_section = &section;
        for (const auto& e : section.entries) service_.add(e);
      } else if (section.name == "Install")
        for (const auto& e : section.entries) install_.add(e);
      else
        return std::unexpected(
            Error::at(source_.path, section.line, 1, "",
                      fmt::format("[{}] is not a section of a service unit ([Unit], [Service], "
                                  "[Install]): armctl import reads .service files",
                                  section.name)));
    }
    if (service_section == nullptr)
      return std::unexpected(
          Error::at(source_.path, 0, 0, "", "no [Service] section: not a service unit"));
    if (auto result = carry_service(); !result) return std::unexpected(result.error());
    carry_unit();
    carry_install();
    if (name_.is_template && !table_.contains("instances")) {
      table_.insert("instances", toml::array{"1"});
      notes_.lines.push_back(fmt::format(
          "{}: {} is a template: instances = [\"1\"] stands for the instances you enable "
          "(systemctl enable {}@NAME); list yours in `instances`",
          source_.path, name_.prefix + "@.service", name_.prefix));
    }
    toml::table services;
    services.insert(name_.service, std::move(table_));
    toml::table root;
    root.insert("services", std::move(services));
    std::ostringstream out;
    out << root << '\n';
    return out.str();
  }

 private:
  Error error_at(const ImportEntry& entry, std::string_view why) const {
    return Error::at(source_.path, entry.line, 1, entry.key, std::string(why));
  }
  void note(const ImportEntry& entry, std::string_view why) {
    notes_.add(entry.line, entry.key, entry.value, why);
    noted_.insert(&entry);
  }
  bool is_noted(const ImportEntry* entry) const { return noted_.contains(entry); }

  // systemd-escape's escaping undone (%I, %P): '-' is '/', "\xNN" the byte NN.
  static std::string unescaped_unit_name(std::string_view name) {
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '-') {
        out += '/';
      } else if (name[i] == '\\' && i + 3 < name.size() && name[i + 1] == 'x' &&
                 std::isxdigit(static_cast<unsigned char>(name[i + 2])) &&
                 std::isxdigit(static_cast<unsigned char>(name[i + 3]))) {
        out += static_cast<char>(std::stoi(std::string(name.substr(i + 2, 2)), nullptr, 16));
        i += 3;
      } else {
        out += name[i];
      }
    }
    return out;
  }

  // The specifiers systemd resolves when it loads the unit (systemd.unit, "SPECIFIERS").
  std::string specifiers(const ImportEntry& entry, std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '%' || i + 1 == text.size()) {
        out += text[i];
        continue;
      }
      char c = text[++i];
      switch (c) {
        case '%':
          out += '%';
          break;
        case 'i':
          out += name_.instance;
          break;
        case 'I':
          out += unescaped_unit_name(name_.instance);
          break;
        case 'n':
          out += name_.full;
          break;
        case 'N':
          out += name_.full.substr(0, name_.full.size() - 8);
          break;
        case 'p':
          out += name_.prefix;
          break;
        case 'P':
          out += unescaped_unit_name(name_.prefix);
          break;
        case 't':
          out += "/run";
          break;
        case 'S':
          out += "/var/lib";
          break;
        case 'C':
          out += "/var/cache";
          break;
        case 'L':
          out += "/var/log";
          break;
        case 'E':
          out += "/etc";
          break;
        case 'T':
          out += "/tmp";
          break;
        case 'V':
          out += "/var/tmp";
          break;
        case 'u':
          if (const auto* user = service_.last("User")) {
            out += user->value;
            break;
          }
          out += "root";
          break;
        default:
          out += '%';
          out += c;
          note(entry, fmt::format("the specifier %{} is not known when importing: kept as "
                                  "written (armd does not resolve it)",
                                  c));
      }
    }
    return out;
  }

  // A command line: its prefixes, words, and $VAR / ${VAR} from Environment= (what systemd
  // expands when it runs it; armd expands nothing).
  std::expected<std::vector<std::string>, Error> command(const ImportEntry& entry) {
    std::string_view text = entry.value;
    bool expand_variables = true;
    bool separate_argv0 = false;
    while (!text.empty() &&
           std::string_view("-@:+!").find(text.front()) != std::string_view::npos) {
      switch (text.front()) {
        case '-':
          note(entry,
               "'-': a failing exit is not ignored by armd (list its exit codes in "
               "success_exit_codes)");
          break;
        case '@':
          separate_argv0 = true;
          break;
        case ':':
          expand_variables = false;
          break;
        default:
          note(entry,
               "'+' / '!': armd runs every command with the service's user and "
               "privileges");
      }
      text.remove_prefix(1);
    }
    auto words = split_systemd_words(specifiers(entry, text));
    if (!words) return std::unexpected(error_at(entry, words.error()));
    if (words->empty()) return std::unexpected(error_at(entry, "an empty command"));
    if (separate_argv0 && words->size() >= 2) {
      note(entry, fmt::format("'@': armd cannot set argv[0] ('{}'): the program is started "
                              "under its own name",
                              (*words)[1]));
      words->erase(words->begin() + 1);
    }
    if (!expand_variables) return *words;
    // What Linux takes for one program's arguments (execve: MAX_ARG_STRLEN per word, and a
    // usual ARG_MAX for all): systemd's exec would fail past these, and a few $VARs of a long
    // value repeated must not make the importer itself grow without bound.
    constexpr std::size_t longest_word = 128 * 1024;
    constexpr std::size_t longest_command = 2 * 1024 * 1024;
    std::size_t command_bytes = 0;
    auto too_long = [&](std::size_t word_bytes) {
      command_bytes += word_bytes + 1;
      return word_bytes >= longest_word || command_bytes > longest_command;  // with its NUL
    };
    auto too_long_error = [&] {
      return std::unexpected(error_at(
          entry, fmt::format("with its variables expanded the command is longer than a program's "
                             "arguments can be ({} KiB a word, {} MiB in all): systemd could not "
                             "run it either",
                             longest_word / 1024, longest_command / (1024 * 1024))));
    };
    std::vector<std::string> out;
    for (const auto& word : *words) {
      // "$VAR" alone is split at whitespace into words; "${VAR}" inside a word is replaced.
      if (word.size() > 1 && word[0] == '$' && word[1] != '{' &&
          word.find('$', 1) == std::string::npos) {
        auto value = variable(entry, word.substr(1));
        if (!value) continue;
        for (auto& piece : split_variable_value(*value)) {
          if (too_long(piece.size())) return too_long_error();
          out.push_back(std::move(piece));
        }
        continue;
      }
      std::string expanded;
      // A word that is only an unknown "${VAR}" is left out, as "$VAR" is: an empty argument
      // in its place would change what the program parses.
      bool unknown_alone = false;
      for (std::size_t i = 0; i < word.size(); ++i) {
        if (word[i] == '$' && i + 1 < word.size() && word[i + 1] == '$') {
          expanded += '$';
          ++i;
        } else if (word[i] == '$' && i + 1 < word.size() && word[i + 1] == '{') {
          auto close = word.find('}', i + 2);
          if (close == std::string::npos) {
            expanded += word.substr(i);
            break;
          }
          if (auto value = variable(entry, word.substr(i + 2, close - i - 2))) {
            if (expanded.size() + value->size() >= longest_word) return too_long_error();
            expanded += *value;
          } else if (i == 0 && close + 1 == word.size())
            unknown_alone = true;
          i = close;
        } else {
          expanded += word[i];
        }
      }
      if (unknown_alone) continue;
      if (too_long(expanded.size())) return too_long_error();
      out.push_back(std::move(expanded));
    }
    return out;
  }

  // A "$VAR" value into words as systemd splits it (replace_env_argv: EXTRACT_UNQUOTE |
  // EXTRACT_RELAX): at blanks, '...' and "..." kept together without their quotes, no escapes;
  // a quote left open runs to the end.
  static std::vector<std::string> split_variable_value(std::string_view value) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < value.size()) {
      while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == '\n')) ++i;
      if (i == value.size()) break;
      std::string word;
      while (i < value.size() && value[i] != ' ' && value[i] != '\t' && value[i] != '\n') {
        if (value[i] == '\'' || value[i] == '"') {
          char quote = value[i++];
          while (i < value.size() && value[i] != quote) word += value[i++];
          if (i < value.size()) ++i;  // the closing quote
        } else {
          word += value[i++];
        }
      }
      words.push_back(std::move(word));
    }
    return words;
  }

  // What systemd takes as an environment variable's name (env_name_is_valid).
  static bool is_variable_name(std::string_view name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
    return std::ranges::all_of(name, [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
  }

  std::optional<std::string> variable(const ImportEntry& entry, const std::string& name) {
    if (name == "MAINPID") return "{pid}";
    if (auto found = environment_.find(name); found != environment_.end()) {
      // systemd reads the files after Environment=: a value there wins (the "default in the
      // unit, override in /etc/default" pattern), which an import cannot see.
      if (!service_.all("EnvironmentFile").empty())
        note(entry, fmt::format("${} taken from Environment= ('{}'); an EnvironmentFile= may set "
                                "it otherwise, which armd would not apply here (it expands no "
                                "variables): check the value in options",
                                name, found->second));
      return found->second;
    }
    note(entry, fmt::format("${} is not set by Environment= (it may come from an "
                            "EnvironmentFile= or systemd): left out, since armd expands no "
                            "variables; put its value in options",
                            name));
    return std::nullopt;
  }

  std::expected<void, Error> carry_service() {
    // Environment= first: commands expand its variables.
    toml::table environment;
    for (const auto* entry : service_.all("Environment")) {
      auto words = split_systemd_words(specifiers(*entry, entry->value));
      if (!words) return std::unexpected(error_at(*entry, words.error()));
      for (const auto& word : *words) {
        auto equals = word.find('=');
        if (equals == std::string::npos || equals == 0)
          return std::unexpected(error_at(*entry, fmt::format("'{}' is not NAME=VALUE", word)));
        std::string name = word.substr(0, equals);
        if (!is_variable_name(name)) {
          // systemd logs "Invalid environment assignment, ignoring" and runs without it.
          note(*entry, fmt::format("'{}' is not a variable name (letters, digits and _, not "
                                   "starting with a digit): left out, as systemd does",
                                   name));
          continue;
        }
        environment_[name] = word.substr(equals + 1);
        environment.insert_or_assign(name, word.substr(equals + 1));
      }
    }
    // systemd starts a service with a clean environment, not its own: the same under armd
    // (without it the service would inherit armd's), with the PATH systemd gives.
    table_.insert("clear_environment", true);
    if (!environment.contains("PATH"))
      environment.insert("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    // systemd also sets the system's locale ($LANG, from /etc/locale.conf); the importing
    // environment's stands for it.
    if (!environment.contains("LANG") && source_.environment)
      if (auto lang = source_.environment("LANG")) environment.insert("LANG", *lang);
    table_.insert("environment", std::move(environment));

    std::string type = "simple";
    if (const auto* entry = service_.last("Type")) {
      type = entry->value;
      if (type == "notify" || type == "notify-reload") {
        table_.insert("readiness", "notify");
        if (type == "notify-reload") table_.insert("reload_signal", "HUP");
      } else if (type == "forking") {
        note(*entry,
             "armd needs the program in the foreground (it supervises the process it "
             "started): give it its no-daemon option (nginx: -g 'daemon off;', sshd: "
             "-D, redis: --daemonize no)");
      } else if (type == "oneshot") {
        note(*entry,
             "armd has no oneshot: the service runs its command once and is 'stopped' "
             "after a clean exit (RemainAfterExit is not carried)");
      } else if (type == "dbus" || type == "idle") {
        note(*entry,
             "ready when the program executes (armd does not watch D-Bus names or wait "
             "for idle)");
      } else if (type != "simple" && type != "exec") {
        return std::unexpected(error_at(*entry,
                                        "expected simple, exec, forking, oneshot, "
                                        "dbus, notify, notify-reload or idle"));
      }
    }

    auto starts = service_.all("ExecStart");
    if (starts.empty())
      return std::unexpected(
          Error::at(source_.path, 0, 0, "ExecStart", "the unit has no ExecStart=: nothing to run"));
    auto argv = command(*starts.front());
    if (!argv) return std::unexpected(argv.error());
    table_.insert("binary", argv->front());
    if (argv->size() > 1) {
      toml::array options;
      for (std::size_t i = 1; i < argv->size(); ++i) options.push_back((*argv)[i]);
      table_.insert("options", std::move(options));
    }
    for (std::size_t i = 1; i < starts.size(); ++i)
      note(*starts[i], "armd runs one command per service: only the first ExecStart= is carried");

    for (const auto* entry : service_.all("ExecReload")) {
      if (entry != service_.last("ExecReload")) {
        note(*entry, "armd runs one reload command: only the last ExecReload= is carried");
        continue;
      }
      auto words = command(*entry);
      if (!words) return std::unexpected(words.error());
      if (auto signal = kill_signal(*words)) {
        table_.insert_or_assign("reload_signal", *signal);
        continue;
      }
      toml::array reload;
      for (const auto& word : *words) reload.push_back(word);
      table_.insert_or_assign("reload", std::move(reload));
      table_.erase("reload_signal");
    }

    std::string restart = "never";  // systemd's default: Restart=no
    if (const auto* entry = service_.last("Restart")) {
      const std::string& value = entry->value;
      if (value == "no")
        restart = "never";
      else if (value == "always")
        restart = "always";
      else if (value == "on-failure") {
        restart = "on-failure";
        note(*entry,
             "armd also restarts after SIGHUP, SIGINT, SIGTERM or SIGPIPE, which systemd counts "
             "as a clean stop");
      } else if (value == "on-abnormal" || value == "on-abort" || value == "on-watchdog") {
        restart = "on-failure";
        note(*entry, "approximately on-failure: armd also restarts after an unclean exit code");
      } else if (value == "on-success") {
        note(*entry, "armd cannot restart only after a clean exit: never restarted");
      } else {
        return std::unexpected(error_at(*entry,
                                        "expected no, always, on-success, on-failure, "
                                        "on-abnormal, on-abort or on-watchdog"));
      }
    }
    table_.insert("restart", restart);

    if (auto result = carry_durations(); !result) return result;
    if (auto result = carry_exit_statuses(); !result) return result;
    if (auto result = carry_identity(); !result) return result;
    if (auto result = carry_output(); !result) return result;
    if (auto result = carry_limits(); !result) return result;
    note_the_rest(service_, "[Service]");
    return {};
  }

  // `/bin/kill -HUP $MAINPID` and its spellings: the signal, if it is one reload_signal takes.
  static std::optional<std::string> kill_signal(const std::vector<std::string>& words) {
    if (words.size() < 3 || words.back() != "{pid}") return std::nullopt;
    if (words[0] != "/bin/kill" && words[0] != "/usr/bin/kill" && words[0] != "kill")
      return std::nullopt;
    std::string signal;
    if (words.size() == 3 && words[1].starts_with("-"))
      signal = words[1].substr(1);
    else if (words.size() == 4 && (words[1] == "-s" || words[1] == "--signal"))
      signal = words[2];
    else
      return std::nullopt;
    signal = upper(signal);
    if (signal.starts_with("SIG")) signal.erase(0, 3);
    static const std::vector<std::string> accepted = {"HUP",  "USR1", "USR2", "INT",
                                                      "QUIT", "TERM", "WINCH"};
    if (signal == "1") signal = "HUP";
    if (std::ranges::find(accepted, signal) == accepted.end()) return std::nullopt;
    return signal;
  }

  std::expected<void, Error> duration_key(const char* key, const char* armd_key) {
    const auto* entry = service_.last(key);
    if (entry == nullptr) return {};
    auto span = time_span(entry->value);
    if (!span) return std::unexpected(error_at(*entry, span.error()));
    bool unlimited = !*span || **span == 0;  // systemd reads 0 as infinity here
    if (!unlimited) {
      table_.insert_or_assign(armd_key, armd_duration(**span));
    } else if (std::string_view(armd_key) == "start_timeout") {
      table_.insert_or_assign(armd_key, "0");  // armd's "no limit" too
    } else {
      // armd's stop_timeout 0 would kill at once: the opposite. A day stands for "wait".
      table_.insert_or_assign(armd_key, "24h");
      note(*entry, "no timeout: armd has no unlimited stop_timeout, so 24h (SIGKILL after it)");
    }
    return {};
  }

  std::expected<void, Error> carry_durations() {
    if (auto r = duration_key("TimeoutSec", "stop_timeout"); !r) return r;
    if (auto r = duration_key("TimeoutSec", "start_timeout"); !r) return r;
    if (auto r = duration_key("TimeoutStopSec", "stop_timeout"); !r) return r;
    if (auto r = duration_key("TimeoutStartSec", "start_timeout"); !r) return r;
    if (const auto* entry = service_.last("RestartSec")) {
      auto span = time_span(entry->value);
      if (!span || !*span) return std::unexpected(error_at(*entry, "expected a time span"));
      // systemd waits RestartSec before every restart; armd's backoff doubles up to
      // backoff_max, so both set to it give systemd's fixed delay.
      table_.insert("backoff_initial", armd_duration(**span));
      table_.insert("backoff_max", armd_duration(std::max(**span, 1LL)));
    }
    if (const auto* entry = service_.last("WatchdogSec")) {
      auto span = time_span(entry->value);
      if (!span) return std::unexpected(error_at(*entry, span.error()));
      if (!table_.contains("readiness"))
        note(*entry, "armd's watchdog needs Type=notify (readiness = \"notify\"): left out");
      else if (*span && **span > 0)
        table_.insert("watchdog", armd_duration(**span));
    }
    // The start limit, in [Unit] (or [Service], where older units have it), and the interval
    // also as StartLimitInterval=, the older spelling systemd still reads. Each is one setting
    // however it is written: systemd reads the file in order, so the last assignment wins.
    auto start_limit = [&](std::initializer_list<const char*> keys) {
      const ImportEntry* latest = nullptr;
      for (const char* key : keys) {
        for (const Settings* section : {&unit_, &service_}) {
          const ImportEntry* entry = section->last(key);
          if (!entry) continue;
          noted_.insert(entry);  // read, even where a later one overrides it
          if (!latest || entry->line > latest->line) latest = entry;
        }
      }
      return latest;
    };
    if (const ImportEntry* entry = start_limit({"StartLimitBurst"})) {
      auto burst = to_integer(entry->value);
      if (!burst || *burst < 0)
        return std::unexpected(error_at(*entry, "expected a whole number of starts"));
      if (*burst > 1'000'000)
        return std::unexpected(error_at(*entry, "more than 1,000,000 starts: out of range"));
      // systemd counts only a limit with both a burst and an interval; a 0 burst is none.
      if (*burst == 0)
        table_.insert("max_restarts", "unlimited");
      else
        table_.insert("max_restarts", *burst);
    }
    if (const ImportEntry* entry = start_limit({"StartLimitIntervalSec", "StartLimitInterval"})) {
      auto span = time_span(entry->value);
      if (!span) return std::unexpected(error_at(*entry, span.error()));
      if (!*span)  // infinity: a window that never ends, so the burst counts for ever
        table_.insert("restart_window", "876000h");
      else if (**span > 0)
        table_.insert("restart_window", armd_duration(**span));
      else  // systemd: no limit at all, whatever the burst says
        table_.insert_or_assign("max_restarts", "unlimited");
    }
    // systemd's defaults where the unit says nothing, not armd's: a stop waits 90 s
    // (DefaultTimeoutStopSec), a restart comes 100 ms after the exit every time, and the limit
    // counts 5 starts within 10 s (DefaultStartLimitBurst, DefaultStartLimitIntervalSec).
    table_.insert("stop_timeout", "90s");
    if (table_["restart"].value<std::string>() == "never") return {};  // no restart to pace
    if (!service_.last("RestartSec")) {
      table_.insert("backoff_initial", "100ms");
      table_.insert("backoff_max", "100ms");
    }
    if (!table_.contains("max_restarts")) table_.insert("max_restarts", 5);
    if (table_["max_restarts"].value<std::string>() != "unlimited")
      table_.insert("restart_window", "10s");
    return {};
  }

  std::expected<void, Error> exit_codes(const ImportEntry& entry, toml::array& codes) {
    std::istringstream words(entry.value);
    for (std::string word; words >> word;) {
      auto code = to_integer(word);
      if (code && *code >= 0 && *code <= 255)
        codes.push_back(*code);
      else
        note(entry, fmt::format("'{}': armd counts exit codes only (not signals)", word));
    }
    return {};
  }

  std::expected<void, Error> carry_exit_statuses() {
    if (!service_.all("SuccessExitStatus").empty()) {
      toml::array codes{0};
      for (const auto* entry : service_.all("SuccessExitStatus")) (void)exit_codes(*entry, codes);
      table_.insert("success_exit_codes", std::move(codes));
    }
    if (!service_.all("RestartPreventExitStatus").empty()) {
      toml::array codes;
      for (const auto* entry : service_.all("RestartPreventExitStatus"))
        (void)exit_codes(*entry, codes);
      if (!codes.empty()) table_.insert("permanent_failure_exit_codes", std::move(codes));
    }
    return {};
  }

  std::expected<void, Error> carry_identity() {
    if (const auto* entry = service_.last("WorkingDirectory")) {
      std::string directory = specifiers(*entry, entry->value);
      if (directory.starts_with('-')) {
        directory.erase(0, 1);
        note(*entry, "'-': armd fails the start when the directory is missing");
      }
      if (directory == "~" || !directory.starts_with('/'))
        note(*entry, "armd takes no '~' (the user's home): write the path");
      else
        table_.insert("working_directory", directory);
    }
    auto files = service_.all("EnvironmentFile");
    for (const auto* entry : files) {
      std::string path = specifiers(*entry, entry->value);
      if (entry != files.front()) {
        note(*entry, "armd reads one environment_file: only the first is carried");
        continue;
      }
      if (path.starts_with('-')) {
        path.erase(0, 1);
        note(*entry, "'-': armd fails the start when the file is missing, where systemd went on");
      }
      table_.insert("environment_file", path);
      note(*entry,
           "armd reads KEY=VALUE lines with '#' comments only: no ';' comments, no '\\' "
           "continuation lines, no escapes in quotes (check the file)");
    }
    if (const auto* entry = service_.last("User"))
      table_.insert("user", specifiers(*entry, entry->value));
    if (const auto* entry = service_.last("Group"))
      table_.insert("group", specifiers(*entry, entry->value));
    if (!service_.all("SupplementaryGroups").empty()) {
      // systemd adds these to the user's own groups; armd's supplementary_groups replaces them,
      // and the user's groups are those of the machine the file runs on, not known here.
      std::set<std::string> seen;
      toml::array groups;
      for (const auto* entry : service_.all("SupplementaryGroups")) {
        std::istringstream words(entry->value);
        for (std::string word; words >> word;)
          if (seen.insert(word).second) groups.push_back(word);
        note(*entry,
             "systemd adds these to the user's own groups, armd's supplementary_groups "
             "replaces them: add the user's groups to the list (id -Gn USER)");
      }
      table_.insert("supplementary_groups", std::move(groups));
    }
    if (const auto* entry = service_.last("UMask")) {
      std::string mask = entry->value;
      if (mask.empty() || mask.size() > 4 ||
          mask.find_first_not_of("01234567") != std::string::npos)
        return std::unexpected(error_at(*entry, "expected an octal umask such as 0027"));
      table_.insert("umask", mask);
    }
    if (const auto* entry = service_.last("Nice")) {
      auto nice = to_integer(entry->value);
      if (!nice || *nice < -20 || *nice > 19)
        return std::unexpected(error_at(*entry, "expected an integer from -20 to 19"));
      table_.insert("nice", *nice);
    }
    if (const auto* entry = service_.last("OOMScoreAdjust")) {
      auto score = to_integer(entry->value);
      if (!score || *score < -1000 || *score > 1000)
        return std::unexpected(error_at(*entry, "expected an integer from -1000 to 1000"));
      table_.insert("oom_score_adj", *score);
    }
    if (const auto* entry = service_.last("NoNewPrivileges")) {
      auto value = to_boolean(entry->value);
      if (!value) return std::unexpected(error_at(*entry, "expected yes or no"));
      if (*value) table_.insert("no_new_privileges", true);
    }
    if (!service_.all("AmbientCapabilities").empty()) {
      toml::array capabilities;
      for (const auto* entry : service_.all("AmbientCapabilities")) {
        if (entry->value.starts_with('~')) {
          note(*entry, "'~' (all but these): armd raises only capabilities it is given");
          continue;
        }
        std::istringstream words(entry->value);
        for (std::string word; words >> word;) capabilities.push_back(upper(word));
      }
      if (!capabilities.empty()) table_.insert("capabilities", std::move(capabilities));
    }
    return {};
  }

  std::expected<void, Error> carry_output() {
    bool stdout_set = false;
    for (const char* key : {"StandardOutput", "StandardError"}) {
      const auto* entry = service_.last(key);
      std::string_view armd_key = std::string_view(key) == "StandardOutput" ? "stdout" : "stderr";
      if (entry == nullptr) {
        if (armd_key == "stderr" && stdout_set) table_.insert("stderr", "stdout");
        continue;
      }
      std::string value = specifiers(*entry, entry->value);
      if (value == "journal" || value == "syslog" || value == "kmsg" ||
          value.starts_with("journal+") || value.starts_with("syslog+") ||
          value.starts_with("kmsg+")) {
        if (value != "journal")
          note(*entry, "armd captures the output itself (armctl logs, log_file)");
        continue;  // armd's "log"
      }
      if (value == "inherit") {
        if (armd_key == "stderr" && stdout_set) table_.insert("stderr", "stdout");
        continue;
      }
      if (value == "null") {
        table_.insert(armd_key, "null");
      } else if (value.starts_with("append:") || value.starts_with("file:")) {
        table_.insert(armd_key, "file:" + value.substr(value.find(':') + 1));
        if (value.starts_with("file:"))
          note(*entry, "armd appends to the file; systemd's file: writes from its start");
      } else {
        note(*entry, "armd sends output to log, null, a file or armd's own (inherit)");
        continue;
      }
      if (armd_key == "stdout") stdout_set = true;
    }
    return {};
  }

  std::expected<void, Error> carry_limits() {
    toml::table limits;
    for (const auto& [systemd_name, armd_name] : limit_names()) {
      const auto* entry = service_.last(systemd_name);
      if (entry == nullptr) continue;
      if (systemd_name == "LimitCPU" || systemd_name == "LimitRTTIME" ||
          systemd_name == "LimitNICE") {
        if (!to_integer(entry->value) && entry->value != "infinity") {
          note(*entry, "only plain numbers are carried for this limit (in the kernel's units)");
          continue;
        }
      }
      std::string_view text = entry->value;
      auto colon = text.find(':');
      long long soft = 0;
      long long hard = 0;
      auto soft_word = limit_side(text.substr(0, colon), soft);
      if (!soft_word) return std::unexpected(error_at(*entry, soft_word.error()));
      if (colon == std::string_view::npos) {
        if (!soft_word->empty())
          limits.insert(armd_name, *soft_word);
        else
          limits.insert(armd_name, soft);
        continue;
      }
      auto hard_word = limit_side(text.substr(colon + 1), hard);
      if (!hard_word) return std::unexpected(error_at(*entry, hard_word.error()));
      toml::table pair;
      if (soft_word->empty())
        pair.insert("soft", soft);
      else
        pair.insert("soft", *soft_word);
      if (hard_word->empty())
        pair.insert("hard", hard);
      else
        pair.insert("hard", *hard_word);
      limits.insert(armd_name, std::move(pair));
    }
    if (!limits.empty()) table_.insert("limits", std::move(limits));
    return {};
  }

  void carry_unit() {
    for (const auto& [key, entries] : unit_.map()) {
      for (const auto* entry : entries) {
        if (is_noted(entry)) continue;
        if (key == "Requires" || key == "Wants" || key == "BindsTo" || key == "Requisite") {
          std::istringstream words(entry->value);
          for (std::string unit; words >> unit;) {
            std::string armd_key = key == "Wants" ? "wants" : "depends_on";
            if (unit.ends_with(".service"))
              notes_.add(
                  entry->line, key, unit,
                  fmt::format("add {} = [\"{}\"] once that service is in the same file "
                              "(it is not here, and armd refuses a name it does not know)",
                              armd_key, import_service_name(unit.substr(0, unit.size() - 8))));
            else
              notes_.add(entry->line, key, unit,
                         "armd has no targets, sockets, mounts or devices: left out");
          }
        } else if (key == "After" || key == "Before") {
          note(*entry,
               "ordering only: armd orders by depends_on, which also starts the "
               "dependency");
        } else if (key == "Description" || key == "Documentation") {
          note(*entry, "armd keeps no description");
        } else {
          note(*entry, "not carried: armd has no equivalent");
        }
      }
    }
  }

  void carry_install() {
    for (const auto& [key, entries] : install_.map()) {
      for (const auto* entry : entries) {
        if (key == "WantedBy" || key == "RequiredBy") {
          bool boot = entry->value.find("multi-user.target") != std::string::npos ||
                      entry->value.find("default.target") != std::string::npos ||
                      entry->value.find("graphical.target") != std::string::npos;
          if (boot)
            table_.insert_or_assign("start", "boot");
          else
            note(*entry, "armd has no targets: started by hand or by a dependent");
        } else if (key == "DefaultInstance" && name_.is_template) {
          table_.insert_or_assign("instances", toml::array{entry->value});
        } else {
          note(*entry, "not carried: armd has no equivalent");
        }
      }
    }
  }

  // Every key of the section not read above, with why.
  void note_the_rest(const Settings& settings, std::string_view section) {
    static const std::vector<std::string_view> carried = {"Type",
                                                          "ExecStart",
                                                          "ExecReload",
                                                          "Restart",
                                                          "RestartSec",
                                                          "TimeoutSec",
                                                          "TimeoutStopSec",
                                                          "TimeoutStartSec",
                                                          "WatchdogSec",
                                                          "StartLimitBurst",
                                                          "StartLimitIntervalSec",
                                                          "StartLimitInterval",
                                                          "SuccessExitStatus",
                                                          "RestartPreventExitStatus",
                                                          "WorkingDirectory",
                                                          "Environment",
                                                          "EnvironmentFile",
                                                          "User",
                                                          "Group",
                                                          "SupplementaryGroups",
                                                          "UMask",
                                                          "Nice",
                                                          "OOMScoreAdjust",
                                                          "NoNewPrivileges",
                                                          "AmbientCapabilities",
                                                          "StandardOutput",
                                                          "StandardError"};
    static const std::map<std::string_view, std::string_view> why = {
        {"ExecStartPre",
         "armd runs no command before the start: fold it into the program or a "
         "wrapper script (a config test is `config_check`)"},
        {"ExecStartPost", "armd runs no command after the start"},
        {"ExecStop", "armd stops with SIGTERM, then SIGKILL after stop_timeout"},
        {"ExecStopPost", "armd runs no command after the stop"},
        {"ExecCondition", "armd runs no condition command"},
        {"KillMode", "armd signals the whole process group (cgroup)"},
        {"KillSignal", "armd stops with SIGTERM"},
        {"PIDFile", "armd's main process is the one it started"},
        {"RemainAfterExit", "armd has no oneshot"},
        {"GuessMainPID", "armd's main process is the one it started"},
        {"DynamicUser", "armd allocates no users: set user to an existing one"},
        {"RuntimeDirectory", "armd creates no directories (use tmpfiles.d or the package)"},
        {"StateDirectory", "armd creates no directories (use tmpfiles.d or the package)"},
        {"LogsDirectory", "armd creates no directories (use tmpfiles.d or the package)"},
        {"CacheDirectory", "armd creates no directories (use tmpfiles.d or the package)"},
        {"ConfigurationDirectory", "armd creates no directories (use tmpfiles.d or the package)"},
        {"SyslogIdentifier", "armd names the lines by the service"},
        {"PassEnvironment",
         "armd starts the service with a clean environment (as systemd does) and passes none "
         "of its own variables: set them in environment"},
    };
    for (const auto& [key, entries] : settings.map()) {
      if (std::ranges::find(carried, key) != carried.end() || limit_names().contains(key)) continue;
      for (const auto* entry : entries) {
        if (is_noted(entry)) continue;
        auto found = why.find(key);
        if (found != why.end())
          note(*entry, found->second);
        else if (key.starts_with("Protect") || key.starts_with("Private") ||
                 key.starts_with("Restrict") || key.find("Paths") != std::string::npos ||
                 key.starts_with("System") || key == "CapabilityBoundingSet" ||
                 key.starts_with("Memory") || key.starts_with("Lock"))
          note(*entry, "armd applies no sandboxing: left out");
        else
          note(*entry, fmt::format("{} key not carried: armd has no equivalent", section));
      }
    }
  }

  const ImportSource& source_;
  ImportNotes& notes_;
  UnitName name_;
  Settings unit_, service_, install_;
  std::map<std::string, std::string> environment_;
  toml::table table_;
  std::set<const ImportEntry*> noted_;  // a set: a unit may hold many thousands of keys
};

}  // namespace

std::expected<ImportResult, Error> import_systemd(const ImportSource& source) {
  auto sections = read_systemd_unit(source.text, source.path);
  if (!sections) return std::unexpected(sections.error());
  ImportNotes notes{source.path, {}};
  UnitImport import(source, notes);
  auto toml = import.run(*sections);
  if (!toml) return std::unexpected(toml.error());
  return ImportResult{std::move(*toml), std::move(notes.lines)};
}

}  // namespace config_detail
ARM_END_NAMESPACE
