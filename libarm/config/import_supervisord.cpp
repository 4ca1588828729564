// supervisord's [program:x] sections to armd services (import_detail.hpp; the mapping and why
// each key maps as it does: docs/import.md).
#include <fmt/format.h>
#include <strings.h>
#include <toml++/toml.h>
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <sstream>

#include "import_detail.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {
namespace {

// A "%(name)s" the value uses: the name and the format after it (the "s", "d" or "02d").
struct Placeholder {
  std::string name;
  std::string spec;
};

// Python's "%" formatting as supervisord applies it to a value (expand() in its options.py):
// `%%`, and `%(name)SPEC` with SPEC made of flags, a width and s, d, i or r. `lookup` answers
// a name with its text, or nullopt when it is unknown (the error names it).
std::expected<std::string, std::string> interpolate(
    std::string_view text,
    const std::function<std::optional<std::string>(const Placeholder&)>& lookup) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '%') {
      out += '%';
      ++i;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '(')
      return std::unexpected(
          std::string("a '%' that is neither '%%' nor '%(name)s' (write '%%' for a percent sign)"));
    auto close = text.find(')', i + 2);
    if (close == std::string_view::npos)
      return std::unexpected(std::string("'%(' without its closing ')'"));
    Placeholder placeholder{std::string(text.substr(i + 2, close - i - 2)), ""};
    std::size_t end = close + 1;
    while (end < text.size() &&
           std::string_view("-+ #0123456789.").find(text[end]) != std::string_view::npos)
      ++end;
    if (end == text.size() || std::string_view("sdir").find(text[end]) == std::string_view::npos)
      return std::unexpected(fmt::format("'%({})' needs a conversion: s or d", placeholder.name));
    placeholder.spec = std::string(text.substr(close + 1, end - close));
    auto value = lookup(placeholder);
    if (!value)
      return std::unexpected(
          fmt::format("'%({})s' names nothing supervisord defines here", placeholder.name));
    out += *value;
    i = end;
  }
  return out;
}

// A number in Python's "%SPECd" (only flags '0' and '-', and a width, mean anything here).
std::string format_number(long value, std::string_view spec) {
  bool zero = spec.starts_with('0');
  bool left = spec.starts_with('-');
  int width = 0;
  for (char c : spec)
    if (c >= '0' && c <= '9' && !(c == '0' && width == 0))
      width = std::min(width * 10 + (c - '0'), 64);  // bounded as it is read: no overflow
  if (left) return fmt::format("{:<{}}", value, width);
  if (zero) return fmt::format("{:0{}}", value, width);
  return fmt::format("{:{}}", value, width);
}

std::optional<long> to_number(std::string_view text) {
  long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// supervisord's boolean words (options.py, boolean()).
std::optional<bool> to_boolean(std::string_view text) {
  std::string lower(text);
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  return std::nullopt;
}

// `environment=A="x, y",B=2`: supervisord's dict_of_key_value_pairs.
std::expected<std::vector<std::pair<std::string, std::string>>, std::string> read_environment(
    std::string_view text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
  };
  while (true) {
    skip_space();
    if (i == text.size()) break;
    auto equals = text.find('=', i);
    if (equals == std::string_view::npos)
      return std::unexpected(fmt::format("'{}' is not NAME=VALUE", text.substr(i, 40)));
    std::string name(text.substr(i, equals - i));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (name.empty() || name.find_first_of(",\"' ") != std::string::npos)
      return std::unexpected(fmt::format("'{}' is not a variable name", name));
    i = equals + 1;
    skip_space();
    std::string value;
    while (i < text.size() && text[i] != ',') {
      if (text[i] == '"' || text[i] == '\'') {
        auto close = text.find(text[i], i + 1);
        if (close == std::string_view::npos)
          return std::unexpected(fmt::format("the value of {} has no closing {}", name, text[i]));
        value += text.substr(i + 1, close - i - 1);
        i = close + 1;
      } else {
        value += text[i++];
      }
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    pairs.emplace_back(std::move(name), std::move(value));
    if (i < text.size()) ++i;  // the ','
  }
  return pairs;
}

std::string seconds(long value) {
  return fmt::format("{}s", value);
}

// The section kinds supervisord knows that are not programs, and why armd takes nothing from
// them (or what it takes).
std::optional<std::string_view> other_section(std::string_view name) {
  if (name == "supervisord")
    return "supervisord's own settings: armd's are its command line and [arm] (only "
           "`environment` is carried, into every service)";
  if (name == "supervisorctl" || name == "unix_http_server" || name == "inet_http_server" ||
      name.starts_with("rpcinterface:"))
    return "supervisorctl's control channel: armctl talks to armd's own socket";
  if (name == "include")
    return "included files are not followed: import each of them with armctl import";
  if (name.starts_with("group:"))
    return "armd has no groups: act on several services with a pattern (armctl start 'web*')";
  if (name.starts_with("eventlistener:"))
    return "armd has no event listeners: `armctl monitor` prints every state change";
  if (name.starts_with("fcgi-program:"))
    return "not carried: a FastCGI socket shared by processes is a `listen` socket in armd; "
           "write the service by hand";
  return std::nullopt;
}

struct Program {
  const ImportSection* section = nullptr;
  std::string name;
  std::map<std::string, const ImportEntry*> keys;
};

class ProgramImport {
 public:
  ProgramImport(const ImportSource& source, ImportNotes& notes,
                const std::vector<std::pair<std::string, std::string>>& global_environment)
      : source_(source), notes_(notes), global_environment_(global_environment) {}

  std::expected<void, Error> run(const Program& program, toml::table& services) {
    program_ = &program;
    process_num_spec_.clear();
    noted_process_num_ = false;
    long numprocs = 1;
    long numprocs_start = 0;
    if (auto n = number_of("numprocs", 1, 10'000); n)
      numprocs = *n;
    else
      return fail(n.error());
    // Bounded over the whole file too: 400 programs of 10,000 each are 4 million services.
    instances_so_far_ += numprocs;
    if (instances_so_far_ > most_instances)
      return fail(Error::at(source_.path, find("numprocs") ? find("numprocs")->line : 0, 1,
                            "numprocs",
                            fmt::format("more than {} processes in all", most_instances)));
    if (auto n = number_of("numprocs_start", 0, 1'000'000); n)
      numprocs_start = *n;
    else
      return fail(n.error());
    templated_ = numprocs > 1;
    process_num_ = numprocs_start;

    // The name: process_name when it is set, else the program's; a numprocs program becomes
    // the template NAME@ whose instances are its process numbers.
    std::string service_name = program.name;
    if (const auto* entry = find("process_name"); entry != nullptr && !templated_) {
      auto expanded = expand(*entry);
      if (!expanded) return fail(expanded.error());
      service_name = *expanded;
    } else if (entry != nullptr) {
      if (auto expanded = expand(*entry); !expanded) return fail(expanded.error());
      notes_.add(entry->line, "process_name", entry->value,
                 fmt::format("armd names the instances {}@{}: the template's name, '@', the "
                             "process number",
                             program.name, instance_name(numprocs_start)));
    }
    std::string cleaned = import_service_name(service_name);
    if (cleaned != service_name)
      notes_.add(program.section->line, "[program:" + program.name + "]", "",
                 fmt::format("'{}' is not a service name armd accepts: named '{}'", service_name,
                             cleaned));
    if (templated_) cleaned += "@";
    if (services.contains(cleaned))
      return fail(Error::at(source_.path, program.section->line, 1, "",
                            fmt::format("two programs would both be the service '{}'", cleaned)));

    toml::table service;
    const auto* command = find("command");
    if (command == nullptr || command->value.empty())
      return fail(Error::at(source_.path, program.section->line, 1, "",
                            fmt::format("[program:{}] has no command", program.name)));
    auto command_text = expand(*command);
    if (!command_text) return fail(command_text.error());
    auto words = split_shell_words(*command_text);
    if (!words) return fail(error_at(*command, words.error()));
    if (words->empty()) return fail(error_at(*command, "the command is empty"));
    service.insert("binary", words->front());
    if (words->size() > 1) {
      toml::array options;
      for (std::size_t i = 1; i < words->size(); ++i) options.push_back((*words)[i]);
      service.insert("options", std::move(options));
    }

    if (const auto* entry = find("directory")) {
      auto value = expand(*entry);
      if (!value) return fail(value.error());
      service.insert("working_directory", *value);
    }
    if (auto result = carry_environment(service); !result) return result;
    if (auto result = carry_start_and_restart(service); !result) return result;
    if (auto result = carry_stop(service); !result) return result;
    if (auto result = carry_output(service); !result) return result;
    // Expanded as every value of a [program] (supervisord 4's saneget): user=%(ENV_LOGNAME)s.
    if (const auto* entry = find("user")) {
      auto user = expand(*entry);
      if (!user) return fail(user.error());
      service.insert("user", *user);
    }
    if (const auto* entry = find("umask")) {
      auto mask = expand(*entry);
      if (!mask) return fail(mask.error());
      if (mask->empty() || mask->size() > 4 ||
          mask->find_first_not_of("01234567") != std::string::npos)
        return fail(error_at(*entry, "expected an octal umask such as 022"));
      service.insert("umask", *mask);
    }
    for (const auto& [key, entry] : program.keys) {
      if (is_rotation_key(key)) {
        note_rotation(*entry);
        continue;
      }
      if (auto why = not_carried(key)) notes_.add(entry->line, key, entry->value, *why);
    }
    if (templated_) {
      toml::array instances;
      for (long n = numprocs_start; n < numprocs_start + numprocs; ++n)
        instances.push_back(instance_name(n));
      service.insert("instances", std::move(instances));
    }
    services.insert(cleaned, std::move(service));
    return {};
  }

 private:
  std::expected<void, Error> fail(Error error) { return std::unexpected(std::move(error)); }

  Error error_at(const ImportEntry& entry, std::string_view why) const {
    return Error::at(source_.path, entry.line, 1,
                     fmt::format("[program:{}] {}", program_->name, entry.key), std::string(why));
  }

  const ImportEntry* find(const std::string& key) const {
    auto found = program_->keys.find(key);
    return found == program_->keys.end() ? nullptr : found->second;
  }

  std::expected<long, Error> number_of(const std::string& key, long low, long high) {
    const auto* entry = find(key);
    if (entry == nullptr) return key == "numprocs" ? 1 : low;
    auto value = to_number(entry->value);
    if (!value || *value < low || *value > high)
      return std::unexpected(
          error_at(*entry, fmt::format("expected an integer from {} to {}", low, high)));
    return *value;
  }

  std::string instance_name(long number) const {
    return process_num_spec_.empty() ? std::to_string(number)
                                     : format_number(number, process_num_spec_);
  }

  // The value with supervisord's expansions: here, program_name, group_name, process_num,
  // numprocs, ENV_*. In a numprocs template process_num becomes armd's {instance}.
  std::expected<std::string, Error> expand(const ImportEntry& entry) {
    auto result = interpolate(entry.value, [&](const Placeholder& p) -> std::optional<std::string> {
      if (p.name == "here") return source_.directory;
      if (p.name == "program_name" || p.name == "group_name") return program_->name;
      if (p.name == "process_num") {
        if (!templated_) return format_number(process_num_, p.spec.substr(0, p.spec.size() - 1));
        std::string spec = p.spec.substr(0, p.spec.size() - 1);
        if (process_num_spec_.empty() && !spec.empty())
          process_num_spec_ = spec;
        else if (spec != process_num_spec_ && !noted_process_num_) {
          noted_process_num_ = true;
          notes_.add(entry.line, entry.key, entry.value,
                     "each %(process_num) is the instance's name, written one way for all");
        }
        return "{instance}";
      }
      if (p.name == "numprocs") {
        const auto* numprocs = find("numprocs");
        return numprocs == nullptr ? "1" : numprocs->value;
      }
      if (p.name.starts_with("ENV_")) {
        auto value = source_.environment ? source_.environment(p.name.substr(4)) : std::nullopt;
        if (value)
          notes_.add(entry.line, entry.key, entry.value,
                     fmt::format("%({})s is taken from armctl's environment now, not armd's when "
                                 "it starts",
                                 p.name));
        return value;
      }
      return std::nullopt;
    });
    if (!result) return std::unexpected(error_at(entry, result.error()));
    return *result;
  }

  std::expected<void, Error> carry_environment(toml::table& service) {
    std::vector<std::pair<std::string, std::string>> pairs = global_environment_;
    if (const auto* entry = find("environment")) {
      auto text = expand(*entry);
      if (!text) return fail(text.error());
      auto own = read_environment(*text);
      if (!own) return fail(error_at(*entry, own.error()));
      pairs.insert(pairs.end(), own->begin(), own->end());
    }
    if (pairs.empty()) return {};
    toml::table environment;
    for (auto& [name, value] : pairs) environment.insert_or_assign(name, value);
    service.insert("environment", std::move(environment));
    return {};
  }

  std::expected<void, Error> carry_start_and_restart(toml::table& service) {
    bool autostart = true;
    if (const auto* entry = find("autostart")) {
      auto value = to_boolean(entry->value);
      if (!value) return fail(error_at(*entry, "expected true or false"));
      autostart = *value;
    }
    if (autostart) service.insert("start", "boot");

    std::string autorestart = "unexpected";
    if (const auto* entry = find("autorestart")) {
      if (entry->value == "unexpected")
        autorestart = "unexpected";
      else if (auto value = to_boolean(entry->value))
        autorestart = *value ? "true" : "false";
      else
        return fail(error_at(*entry, "expected true, false or unexpected"));
    }
    service.insert("restart", autorestart == "true"    ? "always"
                              : autorestart == "false" ? "never"
                                                       : "on-failure");
    if (const auto* entry = find("exitcodes")) {
      toml::array codes;
      for (std::string_view rest = entry->value; !rest.empty();) {
        auto comma = rest.find(',');
        std::string_view piece = rest.substr(0, comma);
        while (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
        while (!piece.empty() && piece.back() == ' ') piece.remove_suffix(1);
        auto code = to_number(piece);
        if (!code || *code < 0 || *code > 255)
          return fail(error_at(*entry, "expected exit codes 0-255 separated by commas"));
        codes.push_back(*code);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      service.insert("success_exit_codes", std::move(codes));
    }

    auto startsecs = number_of("startsecs", 0, 86'400);
    if (!startsecs) return fail(startsecs.error());
    if (find("startsecs") == nullptr) startsecs = 1;  // supervisord's default
    if (*startsecs > 0) {
      service.insert("readiness", fmt::format("after:{}s", *startsecs));
      // armd's readiness must come before its start_timeout (90s by default).
      if (*startsecs >= 90) service.insert("start_timeout", seconds(*startsecs + 60));
    }
    // supervisord restarts a process that ran past startsecs every time, without limit; its
    // startretries counts only starts that failed sooner (then FATAL). armd's max_restarts
    // counts every restart within restart_window: a window of startretries x startsecs holds
    // at most startretries restarts of a process that ran startsecs each time, so only the
    // faster failures can trip it, as in supervisord.
    auto retries = number_of("startretries", 0, 1'000'000);
    if (!retries) return fail(retries.error());
    if (find("startretries") == nullptr) retries = 3;  // supervisord's default
    if (autorestart != "false") {
      if (*startsecs == 0 || *retries == 0) {
        service.insert("max_restarts", "unlimited");
        if (const auto* entry = find("startretries"); entry && *retries == 0 && *startsecs > 0)
          notes_.add(entry->line, entry->key, entry->value,
                     "supervisord gives up at the first start that fails before startsecs; "
                     "armd restarts it without limit (max_restarts = \"unlimited\")");
      } else {
        // armd's windows end at 100 years; a longer one counts the same restarts.
        constexpr long longest_window = 100L * 365 * 24 * 3600;
        service.insert("max_restarts", *retries);
        service.insert("restart_window", seconds(std::min(*retries * *startsecs, longest_window)));
      }
    }
    return {};
  }

  std::expected<void, Error> carry_stop(toml::table& service) {
    if (const auto* entry = find("stopsignal")) {
      std::string signal = entry->value;
      if (signal.starts_with("SIG")) signal.erase(0, 3);
      if (signal != "TERM")
        notes_.add(entry->line, entry->key, entry->value,
                   "armd stops a service with SIGTERM, then SIGKILL after stop_timeout");
    }
    auto wait = number_of("stopwaitsecs", 0, 86'400);
    if (!wait) return fail(wait.error());
    service.insert("stop_timeout", seconds(find("stopwaitsecs") == nullptr ? 10 : *wait));
    for (const char* key : {"stopasgroup", "killasgroup"}) {
      const auto* entry = find(key);
      if (entry == nullptr) continue;
      auto value = to_boolean(entry->value);
      if (!value) return fail(error_at(*entry, "expected true or false"));
      if (!*value)
        notes_.add(entry->line, entry->key, entry->value, "armd always signals the process group");
    }
    return {};
  }

  std::expected<void, Error> carry_output(toml::table& service) {
    bool redirect = false;
    if (const auto* entry = find("redirect_stderr")) {
      auto value = to_boolean(entry->value);
      if (!value) return fail(error_at(*entry, "expected true or false"));
      redirect = *value;
    }
    for (std::string stream : {"stdout", "stderr"}) {
      const auto* entry = find(stream + "_logfile");
      if (stream == "stderr" && redirect) {
        service.insert("stderr", "stdout");
        if (entry != nullptr)
          notes_.add(entry->line, entry->key, entry->value,
                     "not used: redirect_stderr sends stderr to stdout's destination");
        continue;
      }
      // supervisord's logfile_name() reads these words in any case.
      auto is = [&](const char* word) { return strcasecmp(entry->value.c_str(), word) == 0; };
      if (entry == nullptr || is("auto")) continue;  // captured: armd's "log"
      if (is("none")) {
        service.insert(stream, "null");
        continue;
      }
      if (is("syslog")) {
        notes_.add(entry->line, entry->key, entry->value,
                   "armd does not write to syslog: the output is captured (armctl logs)");
        continue;
      }
      auto path = expand(*entry);
      if (!path) return fail(path.error());
      service.insert(stream, "file:" + *path);
      const auto* maxbytes = find(stream + "_logfile_maxbytes");
      if (maxbytes == nullptr || maxbytes->value != "0")
        notes_.add(entry->line, entry->key, entry->value,
                   "armd appends to the file without rotating it (supervisord rotated it at "
                   "_logfile_maxbytes, 50MB by default): use log_file for rotation");
    }
    return {};
  }

  static bool is_rotation_key(std::string_view key) {
    return key.ends_with("_logfile_maxbytes") || key.ends_with("_logfile_backups");
  }

  // supervisord's rotation of its log files: a file given as the logfile is noted there
  // already; its rotation off (maxbytes 0) is what armd does with a file anyway.
  void note_rotation(const ImportEntry& entry) {
    std::string stream = entry.key.substr(0, entry.key.find('_'));
    const auto* logfile = find(stream + "_logfile");
    bool to_a_file = logfile != nullptr && logfile->value != "AUTO" && logfile->value != "NONE" &&
                     logfile->value != "syslog";
    if (to_a_file || entry.value == "0") return;
    notes_.add(entry.line, entry.key, entry.value,
               "armd keeps captured output in memory (log_buffer); for files with rotation set "
               "log_file or [arm] log_dir, and log_max_size");
  }

  // Keys read above are carried; these are noted with why not.
  static std::optional<std::string> not_carried(std::string_view key) {
    static const std::map<std::string_view, std::string_view> why = {
        {"priority", "armd orders starts by depends_on, not by priority: add depends_on"},
        {"serverurl", "armd has no supervisor XML-RPC URL to pass"},
        {"stdout_capture_maxbytes", "armd has no capture mode (events)"},
        {"stderr_capture_maxbytes", "armd has no capture mode (events)"},
        {"stdout_events_enabled", "armd has no event listeners"},
        {"stderr_events_enabled", "armd has no event listeners"},
        {"stdout_syslog", "armd does not write to syslog"},
        {"stderr_syslog", "armd does not write to syslog"},
    };
    static const std::vector<std::string_view> carried = {
        "command",        "directory",    "environment",    "autostart",      "autorestart",
        "exitcodes",      "startsecs",    "startretries",   "stopsignal",     "stopwaitsecs",
        "stopasgroup",    "killasgroup",  "user",           "umask",          "numprocs",
        "numprocs_start", "process_name", "stdout_logfile", "stderr_logfile", "redirect_stderr"};
    if (std::ranges::find(carried, key) != carried.end()) return std::nullopt;
    if (auto found = why.find(key); found != why.end()) return std::string(found->second);
    return std::string("not a [program] key supervisord knows: left out");
  }

  const ImportSource& source_;
  ImportNotes& notes_;
  const std::vector<std::pair<std::string, std::string>>& global_environment_;
  const Program* program_ = nullptr;
  bool templated_ = false;
  long process_num_ = 0;
  std::string process_num_spec_;
  bool noted_process_num_ = false;
  static constexpr long most_instances = 10'000;  // services of one file, numprocs summed
  long instances_so_far_ = 0;
};

}  // namespace

std::expected<ImportResult, Error> import_supervisord(const ImportSource& source) {
  auto sections = read_supervisord_ini(source.text, source.path);
  if (!sections) return std::unexpected(sections.error());
  ImportNotes notes{source.path, {}};
  std::vector<Program> programs;
  std::vector<std::pair<std::string, std::string>> global_environment;
  for (const auto& section : *sections) {
    if (section.name.starts_with("program:")) {
      Program program{&section, section.name.substr(8), {}};
      if (program.name.empty())
        return std::unexpected(
            Error::at(source.path, section.line, 1, "", "[program:] needs a name after ':'"));
      for (const auto& entry : section.entries) program.keys[entry.key] = &entry;
      programs.push_back(std::move(program));
      continue;
    }
    auto why = other_section(section.name);
    if (!why)
      return std::unexpected(Error::at(
          source.path, section.line, 1, "",
          fmt::format("[{}] is not a section supervisord knows ([program:NAME], [group:NAME], "
                      "[supervisord], [include], ...)",
                      section.name)));
    notes.lines.push_back(
        fmt::format("{}:{}: [{}]: {}", source.path, section.line, section.name, *why));
    if (section.name == "supervisord") {
      for (const auto& entry : section.entries) {
        if (entry.key != "environment") continue;
        auto pairs = read_environment(entry.value);
        if (!pairs)
          return std::unexpected(
              Error::at(source.path, entry.line, 1, entry.key,
                        fmt::format("[supervisord] environment: {}", pairs.error())));
        global_environment = std::move(*pairs);
      }
    }
  }
  if (programs.empty())
    return std::unexpected(Error::at(source.path, 0, 0, "", "no [program:NAME] section"));

  toml::table services;
  ProgramImport import(source, notes, global_environment);
  for (const auto& program : programs)
    if (auto result = import.run(program, services); !result)
      return std::unexpected(result.error());
  toml::table root;
  root.insert("services", std::move(services));
  std::ostringstream out;
  out << root << '\n';
  return ImportResult{out.str(), std::move(notes.lines)};
}

}  // namespace config_detail
ARM_END_NAMESPACE
