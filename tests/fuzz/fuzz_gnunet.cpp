// libFuzzer target: any bytes as a GNUnet configuration, with any bytes of it also the text of
// every file it includes. parse_gnunet_config_text must return a Config or an Error, never crash
// nor let an exception escape, whatever the includes, expansions and sockets say.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "arm/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  arm::GnunetSources sources;
  sources.config_file = "/fuzz/peer.conf";
  sources.config_text = text;
  // The first half is also a defaults file: layering over itself.
  sources.defaults.push_back({"/fuzz/defaults.conf", text.substr(0, text.size() / 2)});
  // Every include gets the input again (so loops and depth are reached) but "missing.conf".
  sources.read_file = [&](const std::string& path) -> std::expected<std::string, std::string> {
    if (path.find("missing") != std::string::npos) return std::unexpected(std::string("gone"));
    return text;
  };
  sources.environment = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return std::string("/home/fuzz");
    return std::nullopt;
  };
  sources.libexec_directory = "/usr/lib/gnunet/libexec";
  auto config = arm::parse_gnunet_config_text(sources);
  if (config) {
    for (const auto& [name, spec] : config->config.services)
      (void)arm::compose_argv(spec, config->config.arm);
  } else {
    (void)config.error().to_string();
  }
  return 0;
}
