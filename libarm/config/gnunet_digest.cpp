// What a GNUnet service reads of the shared configuration file, as one digest (issue 17 item 2:
// a change restarts only the services whose digest changed; the original ARM's TODO, "check if
// *relevant* parts of the configuration were changed").
//
// Relevant to service NAME: the keys of its section [NAME], and of the sections named NAME-...
// (GNUnet's plugins: [transport-tcp], [datastore-sqlite]); every variable their values name
// ($X, ${X}, ${X:-...}), followed through [PATHS] values that name others, with the value it
// has in [PATHS] or, where [PATHS] does not set it, in the environment. The layering is done:
// a key is digested as it ends up, whichever file (defaults, the user's file, an @INLINE@d one)
// set it, so a comment, or another service's section, changes nothing. Not followed: sections
// a service reads besides its own and its plugins' ([PEER], [nat], [TESTING]...).
#include <fmt/format.h>
#include <strings.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gnunet_services.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

namespace {

// FNV-1a, 64 bits: what the file watcher hashes content with too.
class Fnv1a {
 public:
  void add(std::string_view text) {
    for (unsigned char c : text) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ULL;
    }
    // A separator no text holds: "ab"+"c" and "a"+"bc" differ.
    hash_ ^= 0xff;
    hash_ *= 0x100000001b3ULL;
  }
  std::string hex() const { return fmt::format("{:016x}", hash_); }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
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

bool is_plugin_section_of(std::string_view section, std::string_view service) {
  return section.size() > service.size() + 1 && section[service.size()] == '-' &&
         strncasecmp(section.data(), service.data(), service.size()) == 0;
}

}  // namespace

std::string gnunet_service_digest(const IniDocument& document, std::string_view service,
                                  const LookUpEnvironment& environment) {
  Fnv1a digest;
  std::vector<std::string> pending;
  for (const auto& [name, section] : document.sections) {
    bool own = strcasecmp(name.c_str(), std::string(service).c_str()) == 0;
    if (!own && !is_plugin_section_of(name, service)) continue;
    digest.add("[" + name + "]");
    if (section.inaccessible) digest.add(section.inaccessible_because);
    for (const auto& [key, value] : section.values) {
      digest.add(key);
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
