#include "exit_policy.hpp"

#include <algorithm>

ARM_BEGIN_NAMESPACE
namespace detail {

ExitClass classify_exit(const ServiceSpec& spec, const ExitStatus& status) {
  if (status.kind == ExitStatus::Kind::exited) {
    auto listed = [&](const std::vector<int>& codes) {
      return std::ranges::find(codes, status.value) != codes.end();
    };
    if (listed(spec.success_exit_codes)) return ExitClass::clean;
    if (listed(spec.permanent_failure_exit_codes)) return ExitClass::permanent_failure;
  }
  return ExitClass::failure;
}

namespace {

bool policy_restarts(RestartPolicy policy, ExitClass exit) {
  if (exit == ExitClass::permanent_failure) return false;
  switch (policy) {
    case RestartPolicy::always:
      return true;
    case RestartPolicy::on_failure:
      return exit == ExitClass::failure;
    case RestartPolicy::never:
      return false;
  }
  return false;
}

}  // namespace

ExitVerdict decide_exit(RestartPolicy policy, ExitClass exit, bool shutting_down,
                        bool intensity_exhausted) {
  if (shutting_down || !policy_restarts(policy, exit))
    return exit == ExitClass::clean ? ExitVerdict::settle_stopped : ExitVerdict::settle_failed;
  return intensity_exhausted ? ExitVerdict::give_up : ExitVerdict::back_off;
}

ConfigChangeVerdict decide_config_change(bool intensity_exhausted, bool healthy_run) {
  if (intensity_exhausted) return ConfigChangeVerdict::give_up;
  return healthy_run ? ConfigChangeVerdict::restart_now : ConfigChangeVerdict::back_off;
}

}  // namespace detail
ARM_END_NAMESPACE
