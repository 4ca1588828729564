// arm::version(): compiled into the library, so it reports the library's version, not the
// version of the headers the caller was compiled with.
#include "arm/version.hpp"

ARM_BEGIN_NAMESPACE

std::string_view version() {
  return ARM_VERSION;
}

ARM_END_NAMESPACE
