// libFuzzer target: any bytes as a TOML configuration. parse_config must return a Config or a
// ConfigError, never crash nor let an exception escape.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "arm/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = arm::parse_config(text, "fuzz.toml");
  if (config) {
    for (const auto& [name, spec] : config->services) (void)arm::compose_argv(spec, config->arm);
  } else {
    (void)config.error().to_string();
  }
  return 0;
}
