// libFuzzer target: any bytes as a supervisord configuration and as a systemd unit (a template
// one, so %i and {instance} are reached too). import_config must return the TOML or an Error,
// never crash nor let an exception escape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "arm/config_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto environment = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return std::string("/home/fuzz");
    return std::nullopt;
  };
  for (auto [path, format] : {std::pair{"/fuzz/app.conf", arm::ImportFormat::supervisord},
                              std::pair{"/fuzz/app@.service", arm::ImportFormat::systemd}}) {
    arm::ImportSource source{path, "/fuzz", text, environment};
    auto result = arm::import_config(source, format);
    if (!result) (void)result.error().to_string();
  }
  (void)arm::detect_import_format("/fuzz/app", text);
  return 0;
}
