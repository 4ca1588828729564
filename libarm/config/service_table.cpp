#include "service_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>

#include "execution_table.hpp"
#include "health_table.hpp"
#include "key_table.hpp"
#include "listen_table.hpp"
#include "reload_keys.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

namespace {

Done read_restart(const ValueReader& reader, const toml::node& value, const std::string& path,
                  ServiceSpec& spec) {
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  if (*text == "always") {
    spec.restart = RestartPolicy::always;
  } else if (*text == "on-failure") {
    spec.restart = RestartPolicy::on_failure;
  } else if (*text == "never") {
    spec.restart = RestartPolicy::never;
  } else {
    return Failure(reader.error_at(
        value, path, fmt::format("'{}': expected one of always, on-failure, never", *text)));
  }
  return {};
}

Done read_environment(const ValueReader& reader, const toml::node& value, const std::string& path,
                      ServiceSpec& spec) {
  const toml::table* variables = value.as_table();
  if (!variables) return Failure(reader.wrong_type(value, path, "a table of strings"));
  for (auto&& [variable, text] : *variables) {
    std::string_view name = variable.str();
    std::string variable_path = fmt::format("{}.{}", path, name);
    // What execve would mangle: "A=B" as a name reads back as variable A, a NUL cuts it short.
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string_view::npos)
      return Failure(reader.error_at(variable.source(), variable_path,
                                     "variable names must be non-empty, without '=' or NUL"));
    auto string = reader.string(text, variable_path);
    if (!string) return Failure(string.error());
    spec.environment[std::string(name)] = std::move(*string);
  }
  return {};
}

Done read_jitter(const ValueReader& reader, const toml::node& value, const std::string& path,
                 ServiceSpec& spec) {
  if (!value.is_floating_point() && !value.is_integer())
    return Failure(reader.wrong_type(value, path, "a number between 0 and 1"));
  double jitter = *value.value<double>();
  // Written so that TOML's nan fails too.
  if (!(jitter >= 0.0 && jitter <= 1.0))
    return Failure(reader.error_at(value, path, "must be between 0 and 1"));
  spec.backoff_jitter = jitter;
  return {};
}

Done read_max_restarts(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec) {
  // A bound so the count fits any unsigned; a million restarts in one window is no limit anyway.
  constexpr std::int64_t most = 1'000'000;
  if (value.is_string() && *value.value<std::string_view>() == "unlimited") {
    spec.max_restarts = std::nullopt;  // the original ARM's way: the backoff alone paces it
    return {};
  }
  if (!value.is_integer())
    return Failure(reader.wrong_type(value, path, "an integer or \"unlimited\""));
  auto count = *value.value<std::int64_t>();
  if (count < 0 || count > most)
    return Failure(reader.error_at(value, path, fmt::format("must be between 0 and {}", most)));
  spec.max_restarts = static_cast<unsigned>(count);
  return {};
}

// A size in bytes, as an integer or a string with a unit ("64KiB", "2MiB"), 1 KiB to 1 GiB.
Read<std::size_t> read_size(const ValueReader& reader, const toml::node& value,
                            const std::string& path) {
  constexpr std::int64_t most = std::int64_t{1} << 30;
  std::int64_t bytes = 0;
  if (value.is_integer()) {
    bytes = *value.value<std::int64_t>();
  } else if (value.is_string()) {
    std::string text = *value.value<std::string>();
    std::int64_t unit = 1;
    for (auto [suffix, size] : {std::pair{"KiB", 1024}, std::pair{"MiB", 1024 * 1024}}) {
      if (text.ends_with(suffix)) {
        unit = size;
        text.resize(text.size() - 3);
        break;
      }
    }
    std::int64_t number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc() || end != text.data() + text.size() || text.empty() || number > most)
      return Failure(reader.error_at(
          value, path,
          fmt::format("'{}': expected bytes, as a number or with KiB or MiB (\"64KiB\")",
                      *value.value<std::string>())));
    bytes = number * unit;
  } else {
    return Failure(reader.wrong_type(value, path, "a size (bytes, or a string like \"64KiB\")"));
  }
  if (bytes < 1024 || bytes > most)
    return Failure(reader.error_at(value, path, "must be between 1KiB and 1024MiB"));
  return static_cast<std::size_t>(bytes);
}

// A path, or `false` for no log file even when [arm] log_dir would give one. Not "none": that
// is a file name a service may well want.
Done read_log_file(const ValueReader& reader, const toml::node& value, const std::string& path,
                   ServiceSpec& spec) {
  if (value.is_boolean()) {
    if (*value.value<bool>())
      return Failure(reader.error_at(value, path, "expected a path, or false for no log file"));
    spec.log_file.reset();
    return {};
  }
  if (!value.is_string())
    return Failure(reader.wrong_type(value, path, "a path, or false for no log file"));
  return assign(reader.path(value, path), spec.log_file);
}

Done read_log_overflow(const ValueReader& reader, const toml::node& value, const std::string& path,
                       ServiceSpec& spec) {
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  if (*text == "block")
    spec.log_overflow = ServiceSpec::LogOverflow::block;
  else if (*text == "drop")
    spec.log_overflow = ServiceSpec::LogOverflow::drop;
  else
    return Failure(reader.error_at(value, path, "expected \"block\" or \"drop\""));
  return {};
}

Done read_log_max_files(const ValueReader& reader, const toml::node& value, const std::string& path,
                        ServiceSpec& spec) {
  constexpr std::int64_t most = 1000;
  if (!value.is_integer()) return Failure(reader.wrong_type(value, path, "an integer"));
  auto count = *value.value<std::int64_t>();
  if (count < 1 || count > most)
    return Failure(reader.error_at(value, path, fmt::format("must be between 1 and {}", most)));
  spec.log_max_files = static_cast<std::size_t>(count);
  return {};
}

Done read_crash_context_lines(const ValueReader& reader, const toml::node& value,
                              const std::string& path, ServiceSpec& spec) {
  constexpr std::int64_t most = 1000;
  if (!value.is_integer()) return Failure(reader.wrong_type(value, path, "an integer"));
  auto count = *value.value<std::int64_t>();
  if (count < 0 || count > most)
    return Failure(reader.error_at(value, path, fmt::format("must be between 0 and {}", most)));
  spec.crash_context_lines = static_cast<std::size_t>(count);
  return {};
}

Done read_restart_window(const ValueReader& reader, const toml::node& value,
                         const std::string& path, ServiceSpec& spec) {
  auto window = reader.duration(value, path);
  if (!window) return Failure(window.error());
  // Restarts are counted within the window; an empty window would count none and never trip.
  if (window->count() == 0) return Failure(reader.error_at(value, path, "must be more than 0"));
  spec.restart_window = *window;
  return {};
}

// depends_on / wants: an array of service names, each listed once, none naming the service
// itself. Whether the names exist is the graph check's business (config_loader.cpp), once every
// service has been read.
Done read_dependencies(const ValueReader& reader, const toml::node& value, const std::string& path,
                       const ServiceSpec& spec, std::vector<std::string>& into) {
  const toml::array* array = value.as_array();
  if (!array) return Failure(reader.wrong_type(value, path, "an array of service names"));
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    std::string element_path = fmt::format("{}[{}]", path, i);
    auto name = reader.string(element, element_path);
    if (!name) return Failure(name.error());
    std::string problem;
    if (!is_valid_service_name(*name))
      problem = fmt::format("'{}' is not a valid service name", *name);
    else if (*name == spec.name)
      problem = fmt::format("{} cannot depend on itself", spec.name);
    else if (std::ranges::find(into, *name) != into.end())
      problem = fmt::format("'{}' is listed twice", *name);
    if (!problem.empty()) return Failure(reader.error_at(element, element_path, problem));
    into.push_back(std::move(*name));
  }
  return {};
}

// config_section: the name between the brackets of a `[NAME]` header line.
Done read_config_section(const ValueReader& reader, const toml::node& value,
                         const std::string& path, ServiceSpec& spec) {
  auto name = reader.string(value, path);
  if (!name) return Failure(name.error());
  if (auto problem = config_section_problem(*name))
    return Failure(reader.error_at(value, path, *problem));
  spec.config_section = std::move(*name);
  return {};
}

// readiness: "exec", "notify", "fd:N" (N a descriptor the spawner can give the process: 3 to
// 1023, above stdin/stdout/stderr and below the usual descriptor limit) or "after:DURATION".
Done read_readiness(const ValueReader& reader, const toml::node& value, const std::string& path,
                    ServiceSpec& spec) {
  constexpr std::string_view allowed =
      "expected \"exec\", \"notify\", \"fd:N\" (N from 3 to 1023) or \"after:DURATION\" "
      "(e.g. \"after:2s\")";
  auto text = reader.string(value, path);
  if (!text) return Failure(text.error());
  auto refused = [&](std::string_view why) {
    return Failure(reader.error_at(value, path, fmt::format("'{}': {}", *text, why)));
  };
  Readiness readiness;
  std::string_view written = *text;
  if (written == "exec") {
    readiness.kind = Readiness::Kind::exec;
  } else if (written == "notify") {
    readiness.kind = Readiness::Kind::notify;
  } else if (written.starts_with("fd:")) {
    std::string_view number = written.substr(3);
    int fd = -1;
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), fd);
    if (error != std::errc() || end != number.data() + number.size() || number.empty() || fd < 3 ||
        fd > 1023)
      return refused(
          "the descriptor must be a number from 3 to 1023 (0-2 are stdin, stdout and "
          "stderr)");
    readiness.kind = Readiness::Kind::fd;
    readiness.fd = fd;
  } else if (written.starts_with("after:")) {
    auto delay = parse_duration(written.substr(6));
    if (!delay) return Failure(reader.error_at(value, path, delay.error()));
    if (delay->count() == 0)
      return refused("the delay must be more than 0 (\"exec\" is ready at once)");
    readiness.kind = Readiness::Kind::after;
    readiness.after = *delay;
  } else {
    return refused(allowed);
  }
  spec.readiness = readiness;
  return {};
}

Done read_watchdog(const ValueReader& reader, const toml::node& value, const std::string& path,
                   ServiceSpec& spec) {
  auto interval = reader.duration(value, path);
  if (!interval) return Failure(interval.error());
  // A zero interval would expire at once; leaving the key out is how to have no watchdog.
  if (interval->count() == 0)
    return Failure(reader.error_at(value, path, "must be more than 0 (leave it out for none)"));
  spec.watchdog = *interval;
  return {};
}

// Checks between the readiness keys, made once the whole table is read (the keys may come in
// any order). Each error points at the key that was written.
Done check_readiness(const ValueReader& reader, const toml::table& table,
                     const std::string& table_path, const ServiceSpec& spec) {
  // Only a notify service has a channel to send WATCHDOG=1 on: any other would always be killed.
  if (spec.watchdog && spec.readiness.kind != Readiness::Kind::notify)
    return Failure(reader.error_at(*table.get("watchdog"), table_path + ".watchdog",
                                   "needs readiness = \"notify\": only a notify service can "
                                   "send the WATCHDOG=1 keep-alives"));
  // A delay the start timeout always cuts short: the service could never become ready.
  if (spec.readiness.kind == Readiness::Kind::after && spec.start_timeout.count() != 0 &&
      spec.readiness.after >= spec.start_timeout)
    return Failure(reader.error_at(
        *table.get("readiness"), table_path + ".readiness",
        fmt::format("the delay ({} ms) must be less than start_timeout ({} ms; 0 for no limit)",
                    spec.readiness.after.count(), spec.start_timeout.count())));
  return {};
}

// Every key of a service table. Keep in the order of docs/config.md.
const std::array service_keys{
    Key<ServiceSpec>{"binary",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.program(value, path), spec.binary);
                     }},
    Key<ServiceSpec>{"config",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.path(value, path), spec.config_file);
                     }},
    Key<ServiceSpec>{"config_section", read_config_section},
    Key<ServiceSpec>{"config_arg", read_config_arg},
    Key<ServiceSpec>{"prefix",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.command_prefix(value, path), spec.prefix);
                     }},
    Key<ServiceSpec>{"options",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.words(value, path), spec.options);
                     }},
    Key<ServiceSpec>{"debug",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.boolean(value, path), spec.debug);
                     }},
    Key<ServiceSpec>{"restart", read_restart},
    Key<ServiceSpec>{"backoff_initial",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.duration(value, path), spec.backoff_initial);
                     }},
    Key<ServiceSpec>{"backoff_max",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.duration(value, path), spec.backoff_max);
                     }},
    Key<ServiceSpec>{"backoff_reset_after",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.duration(value, path), spec.backoff_reset_after);
                     }},
    Key<ServiceSpec>{"stop_timeout",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.duration(value, path), spec.stop_timeout);
                     }},
    Key<ServiceSpec>{"backoff_jitter", read_jitter},
    Key<ServiceSpec>{"max_restarts", read_max_restarts},
    Key<ServiceSpec>{"restart_window", read_restart_window},
    Key<ServiceSpec>{"retry_failed_after",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.duration(value, path), spec.retry_failed_after);
                     }},
    Key<ServiceSpec>{"success_exit_codes",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.exit_codes(value, path), spec.success_exit_codes);
                     }},
    Key<ServiceSpec>{"permanent_failure_exit_codes",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.exit_codes(value, path),
                                     spec.permanent_failure_exit_codes);
                     }},
    Key<ServiceSpec>{"environment", read_environment},
    Key<ServiceSpec>{"working_directory",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.path(value, path), spec.working_directory);
                     }},
    Key<ServiceSpec>{"stdout",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.output_target(value, path), spec.standard_output);
                     }},
    Key<ServiceSpec>{"stderr",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.output_target(value, path), spec.standard_error);
                     }},
    Key<ServiceSpec>{"log_buffer",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(read_size(reader, value, path), spec.log_buffer);
                     }},
    Key<ServiceSpec>{"log_file", read_log_file},
    Key<ServiceSpec>{"log_max_size",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(read_size(reader, value, path), spec.log_max_size);
                     }},
    Key<ServiceSpec>{"log_max_files", read_log_max_files},
    Key<ServiceSpec>{"log_overflow", read_log_overflow},
    Key<ServiceSpec>{"crash_context_lines", read_crash_context_lines},
    Key<ServiceSpec>{"depends_on",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return read_dependencies(reader, value, path, spec, spec.depends_on);
                     }},
    Key<ServiceSpec>{"wants",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return read_dependencies(reader, value, path, spec, spec.wants);
                     }},
    Key<ServiceSpec>{"restart_with_dependencies",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.boolean(value, path), spec.restart_with_dependencies);
                     }},
    Key<ServiceSpec>{"readiness", read_readiness},
    Key<ServiceSpec>{"start_timeout",
                     [](auto& reader, auto& value, auto& path, ServiceSpec& spec) {
                       return assign(reader.duration(value, path), spec.start_timeout);
                     }},
    Key<ServiceSpec>{"watchdog", read_watchdog},
    Key<ServiceSpec>{"health", read_health},
    Key<ServiceSpec>{"on_unhealthy", read_on_unhealthy},
    Key<ServiceSpec>{"listen", read_listen},
    Key<ServiceSpec>{"listen_backlog", read_listen_backlog},
    Key<ServiceSpec>{"listen_mode", read_listen_mode},
    Key<ServiceSpec>{"listen_owner", read_listen_owner},
    Key<ServiceSpec>{"listen_nonblocking", read_listen_nonblocking},
    Key<ServiceSpec>{"start", read_start},
    Key<ServiceSpec>{"idle_stop", read_idle_stop},
    Key<ServiceSpec>{"reload_signal", read_reload_signal},
    Key<ServiceSpec>{"reload", read_reload_command},
    Key<ServiceSpec>{"config_check", read_config_check},
    Key<ServiceSpec>{"check_timeout", read_check_timeout},
    Key<ServiceSpec>{"user", read_user},
    Key<ServiceSpec>{"group", read_group},
    Key<ServiceSpec>{"supplementary_groups", read_supplementary_groups},
    Key<ServiceSpec>{"umask", read_umask},
    Key<ServiceSpec>{"limits", read_limits},
    Key<ServiceSpec>{"nice", read_nice},
    Key<ServiceSpec>{"oom_score_adj", read_oom_score_adj},
    Key<ServiceSpec>{"no_new_privileges", read_no_new_privileges},
    Key<ServiceSpec>{"capabilities", read_capabilities},
    Key<ServiceSpec>{"environment_file", read_environment_file},
    Key<ServiceSpec>{"clear_environment", read_clear_environment},
};

}  // namespace

bool is_valid_service_name(std::string_view name) {
  return !name.empty() && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '@' || c == '-';
  });
}

Read<ServiceSpec> read_service(const ValueReader& reader, const std::string& name,
                               const toml::table& table) {
  ServiceSpec spec;
  spec.name = name;
  std::string table_path = "services." + name;
  if (Done done = read_keys<ServiceSpec>(reader, table, table_path, service_keys, spec); !done)
    return Failure(done.error());

  if (!table.contains("binary"))
    return Failure(reader.error_at(table, table_path + ".binary", "is required"));
  if (spec.config_section && !spec.config_file)
    return Failure(reader.error_at(*table.get("config_section"), table_path + ".config_section",
                                   "needs `config`: the file the section is part of"));
  if (spec.backoff_initial > spec.backoff_max) {
    // Blame the key that was written: a lone `backoff_max = "50ms"` is below the default
    // backoff_initial, and pointing at an invisible default would only confuse.
    if (const toml::node* initial = table.get("backoff_initial")) {
      return Failure(
          reader.error_at(*initial, table_path + ".backoff_initial",
                          fmt::format("{} ms is more than backoff_max ({} ms)",
                                      spec.backoff_initial.count(), spec.backoff_max.count())));
    }
    return Failure(
        reader.error_at(*table.get("backoff_max"), table_path + ".backoff_max",
                        fmt::format("{} ms is less than backoff_initial (default {} ms)",
                                    spec.backoff_max.count(), spec.backoff_initial.count())));
  }
  for (std::size_t i = 0; i < spec.wants.size(); ++i) {
    if (std::ranges::find(spec.depends_on, spec.wants[i]) != spec.depends_on.end()) {
      std::string path = fmt::format("{}.wants[{}]", table_path, i);
      return Failure(reader.error_at(*table.get("wants")->as_array()->get(i), path,
                                     fmt::format("'{}' is already in depends_on", spec.wants[i])));
    }
  }
  if (Done done = check_readiness(reader, table, table_path, spec); !done)
    return Failure(done.error());
  if (Done done = apply_on_unhealthy(reader, table, table_path, spec); !done)
    return Failure(done.error());
  if (Done done = check_socket_activation(reader, table, table_path, spec); !done)
    return Failure(done.error());
  if (Done done = check_reload_keys(reader, table, table_path, spec); !done)
    return Failure(done.error());
  if (Done done = complete_execution(reader, table, table_path, spec); !done)
    return Failure(done.error());
  for (int code : spec.permanent_failure_exit_codes) {
    if (std::ranges::find(spec.success_exit_codes, code) != spec.success_exit_codes.end()) {
      return Failure(reader.error_at(
          *table.get("permanent_failure_exit_codes"), table_path + ".permanent_failure_exit_codes",
          fmt::format("exit code {} is also a success exit code", code)));
    }
  }
  return spec;
}

}  // namespace config_reading
ARM_END_NAMESPACE
