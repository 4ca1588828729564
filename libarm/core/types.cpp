#include "arm/types.hpp"

#include <fmt/compile.h>
#include <fmt/format.h>

ARM_BEGIN_NAMESPACE

std::string describe(const ExitStatus& status) {
  switch (status.kind) {
    case ExitStatus::Kind::exited:
      return fmt::format(FMT_COMPILE("exit code {}"), status.value);
    case ExitStatus::Kind::signaled:
      return fmt::format(FMT_COMPILE("signal {}"), status.value);
    case ExitStatus::Kind::lost:
      return "exit status lost (reaped by someone else: is SIGCHLD ignored, or does the host "
             "wait for any child?)";
  }
  return "exit status unknown";
}

ARM_END_NAMESPACE
