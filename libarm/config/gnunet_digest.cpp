// What a GNUnet service reads of the shared configuration file, as one digest (issue 17 item 2:
// a change restarts only the services whose digest changed; what the original ARM's source left
// as work to do, "check if *relevant* parts of the configuration were changed").
//
// Relevant to service NAME: the keys of its section [NAME] but those only ARM reads (BINARY,
// OPTIONS, IMMEDIATE_START...: a change of those changes the command line, the sockets or the
// start, which a reload compares anyway), and the keys of the sections named NAME-... that are
// not services themselves (GNUnet's plugins: [transport-tcp], [datastore-sqlite]; not
// [nat-auto], a service of its own); every variable their values name
// ($X, ${X}, ${X:-...}), followed through [PATHS] values that name others, with the value it
// has in [PATHS] or, where [PATHS] does not set it, in the environment. The layering is done:
// a key is digested as it ends up, whichever file (defaults, the user's file, an @INLINE@d one)
// set it, so a comment, or another service's section, changes nothing. Not followed: sections
// a service reads besides its own and its plugins' ([PEER], [TESTING], dht's [dhtcache]...).
// Key names are compared as GNUnet does, in any case.
#include <fmt/format.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "../core/fnv1a.hpp"
#include "gnunet_services.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

namespace {

// FNV-1a over a sequence of texts (libarm/core/fnv1a.hpp, what the file watcher hashes with).
class Fnv1a {
 public:
  void add(std::string_view text) {
    // Each text followed by a byte no text holds: "ab"+"c" and "a"+"bc" differ.
    hash_ = detail::fnv1a(std::string_view("\xff", 1), detail::fnv1a(text, hash_));
  }
  std::string hex() const { return fmt::format("{:016x}", hash_); }

 private:
  std::uint64_t hash_ = detail::fnv1a_offset_basis;
};

// The names `text` refers to as $NAME or ${NAME...}, defaults included (read as expansion reads
// them: a bare name ends at '/', '\' or a space).
void add_variable_names(std::string_view text, std::vector<std::string>& names) {
  for (std::size_t at = text.find('$'); at != std::string_view::npos; at = text.find('$', at)) {
    ++at;
    if (at < text.size() && text[at] == '{') {
      std::size_t end = text.find_first_of(":}", at + 1);
      if (end == std::string_view::npos) end = text.size();
      names.emplace_back(text.substr(at + 1, end - at - 1));
      at = end;
    } else {
      std::size_t end = text.find_first_of("/\\ $", at);
      if (end == std::string_view::npos) end = text.size();
      if (end > at) names.emplace_back(text.substr(at, end - at));
      at = end;
    }
  }
}

bool is_plugin_section_of(std::string_view section, const IniSection& contents,
                          std::string_view service) {
  return section.size() > service.size() + 1 && section[service.size()] == '-' &&
         strncasecmp(section.data(), service.data(), service.size()) == 0 &&
         !contents.values.contains("BINARY");
}

// The keys of a service's section that ARM reads and the service does not (gnunet_services.cpp
// maps each to the launch). UNIXPATH, PORT, ACCEPT_FROM... the service reads too: digested.
constexpr std::array<std::string_view, 11> arm_only_keys{
    "BINARY",    "PREFIX", "OPTIONS",      "IMMEDIATE_START", "FORCESTART", "START_ON_DEMAND",
    "NOARMBIND", "DEBUG",  "RUN_PER_USER", "PIPECONTROL",     "TYPE"};

bool is_arm_only(std::string_view key) {
  return std::ranges::any_of(arm_only_keys, [&](std::string_view arm_key) {
    return key.size() == arm_key.size() && strncasecmp(key.data(), arm_key.data(), key.size()) == 0;
  });
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string gnunet_service_digest(const IniDocument& document, std::string_view service,
                                  const LookUpEnvironment& environment) {
  Fnv1a digest;
  std::vector<std::string> pending;
  for (const auto& [name, section] : document.sections) {
    bool own = strcasecmp(name.c_str(), std::string(service).c_str()) == 0;
    if (!own && !is_plugin_section_of(name, section, service)) continue;
    digest.add("[" + lower(name) + "]");
    // Not why (it names the directive's line, which a comment above it moves): that it is.
    if (section.inaccessible) digest.add("inaccessible");
    for (const auto& [key, value] : section.values) {  // in GNUnet's key order: any case alike
      if (own && is_arm_only(key)) continue;
      digest.add(lower(key));
      digest.add(value.text);
      add_variable_names(value.text, pending);
    }
  }
  // Each variable once, in name order, however often and in whatever order it was named.
  std::set<std::string, CaseInsensitiveLess> seen;
  while (!pending.empty()) {
    std::string name = std::move(pending.back());
    pending.pop_back();
    if (name.empty() || !seen.insert(name).second) continue;
    if (const IniValue* value = document.find("PATHS", name))
      add_variable_names(value->text, pending);
  }
  for (const std::string& name : seen) {
    digest.add("$" + name);
    if (const IniValue* value = document.find("PATHS", name)) {
      digest.add("PATHS");
      digest.add(value->text);
    } else if (auto found = environment ? environment(name) : std::nullopt) {
      digest.add("environment");
      digest.add(*found);
    } else {
      digest.add("unset");
    }
  }
  return digest.hex();
}

}  // namespace config_detail
ARM_END_NAMESPACE
