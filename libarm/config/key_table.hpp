// Reading a TOML table through a list of the keys it may hold, each with its own reader.
//
// The list is the single place a key is declared: the loop that reads a table, the refusal of
// keys that are not in it, and the spelling suggestions all come from the same entries, so a key
// cannot be readable yet missing from the suggestions, or the other way round.
#pragma once

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "key_suggestion.hpp"
#include "value_reader.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

using Done = std::expected<void, ConfigError>;

// One key a table may hold, and how its value is read into `Settings` (ArmSettings,
// ServiceSpec). `path` is the key's dotted path, for errors.
template <class Settings>
struct Key {
  std::string_view name;
  Done (*read)(const ValueReader& reader, const toml::node& value, const std::string& path,
               Settings& into);
};

// Stores a value that was read successfully; passes a failure on.
template <class T, class Target>
Done assign(Read<T> value, Target& target) {
  if (!value) return Failure(std::move(value.error()));
  target = std::move(*value);
  return {};
}

// Reads every key of `table`, whose dotted path is `table_path`, with its entry in `keys`. The
// first unknown key or bad value ends the reading.
template <class Settings>
Done read_keys(const ValueReader& reader, const toml::table& table, std::string_view table_path,
               std::type_identity_t<std::span<const Key<Settings>>> keys, Settings& into) {
  for (auto&& [key, value] : table) {
    std::string path = fmt::format("{}.{}", table_path, key.str());
    auto known = std::ranges::find(keys, key.str(), &Key<Settings>::name);
    if (known == keys.end()) {
      std::vector<std::string_view> names;
      for (const Key<Settings>& candidate : keys) names.push_back(candidate.name);
      return Failure(reader.error_at(key.source(), path, unknown_key_message(key.str(), names)));
    }
    if (Done done = known->read(reader, value, path, into); !done) return done;
  }
  return {};
}

}  // namespace config_reading
ARM_END_NAMESPACE
