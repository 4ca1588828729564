// find_unbounded_restarts: the warning `armd --check-config` gives for a valid configuration
// that asks for a crash loop without end — a service with `max_restarts = "unlimited"` that is
// restarted at all. Not an error: the original ARM restarted for ever, and a service that must
// come back whatever happens may want that; but a deploy check should say it out loud.

#include <fmt/format.h>

#include "arm/config.hpp"
#include "read_file_posix.hpp"
#include "service_key.hpp"

ARM_BEGIN_NAMESPACE

std::vector<Error> find_unbounded_restarts(const std::filesystem::path& path,
                                           const Config& config) {
  std::optional<toml::table> root;
  std::vector<Error> warnings;
  for (const auto& [name, spec] : config.services) {
    if (spec.max_restarts || spec.restart == RestartPolicy::never) continue;
    if (!root) root = config_detail::reread_for_positions(path);
    int line = 0;
    int column = 0;
    if (const toml::node* key =
            root ? config_reading::service_table(*root, name)["max_restarts"].node() : nullptr) {
      line = static_cast<int>(key->source().begin.line);
      column = static_cast<int>(key->source().begin.column);
    }
    std::string pace =
        spec.backoff_initial.count() == 0
            ? fmt::format("the minimum restart delay of {}",
                          human_duration(minimum_unlimited_restart_delay))
            : fmt::format("the backoff ({}, doubling up to {})",
                          human_duration(spec.backoff_initial), human_duration(spec.backoff_max));
    warnings.push_back(Error::at(
        path.string(), line, column, fmt::format("services.{}.max_restarts", name),
        fmt::format("{} can crash-loop without bound: its restarts are unlimited, paced only by {}",
                    name, pace)));
  }
  return warnings;
}

ARM_END_NAMESPACE
