#include "stored_spec.hpp"

#include <functional>
#include <string_view>
#include <utility>

ARM_BEGIN_NAMESPACE
namespace detail {

SharedSettings::SharedSettings(ServiceSpec spec) : ServiceSpec(std::move(spec)) {
  // Assigned rather than cleared: a cleared string or vector would keep its buffer.
  name = {};
  binary = {};
  options = {};
  config_file = std::nullopt;
  config_section = std::nullopt;
  config_digest = std::nullopt;
  working_directory = std::nullopt;
  log_file = std::nullopt;
}

namespace {

void mix(std::size_t& hash, std::size_t value) {
  hash ^= value + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
}

void mix_words(std::size_t& hash, const std::vector<std::string>& words) {
  mix(hash, words.size());
  for (const auto& word : words) mix(hash, std::hash<std::string_view>{}(word));
}

}  // namespace

std::size_t settings_hash(const ServiceSpec& settings) {
  // What services of one configuration most often differ in: their dependencies and
  // environment, then the policy numbers.
  std::size_t hash = 0;
  mix_words(hash, settings.depends_on);
  mix_words(hash, settings.wants);
  mix(hash, settings.environment.size());
  for (const auto& [variable, value] : settings.environment) {
    mix(hash, std::hash<std::string_view>{}(variable));
    mix(hash, std::hash<std::string_view>{}(value));
  }
  mix(hash, static_cast<std::size_t>(settings.restart));
  mix(hash, static_cast<std::size_t>(settings.backoff_initial.count()));
  mix(hash, static_cast<std::size_t>(settings.stop_timeout.count()));
  mix(hash, settings.max_restarts.value_or(0));
  mix(hash, settings.log_buffer);
  mix(hash, static_cast<std::size_t>(settings.readiness.kind));
  mix(hash, static_cast<std::size_t>(settings.start_timeout.count()));
  return hash;
}

std::shared_ptr<const SharedSettings> SettingsPool::intern(SharedSettings settings) {
  std::size_t hash = settings_hash(settings);
  auto [first, last] = blocks_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    if (*it->second.block == settings) return it->second.handle.lock();
  }
  // The deleter hands the block back to the pool, so it is forgotten with its last user.
  std::shared_ptr<const SharedSettings> block(
      new SharedSettings(std::move(settings)),
      [this](const SharedSettings* gone) { release(gone); });
  blocks_.emplace(hash, Entry{block.get(), block});
  return block;
}

SharedText SettingsPool::intern_text(const std::string& text) {
  if (auto found = texts_.find(text); found != texts_.end()) return found->second.lock();
  SharedText shared(new std::string(text), [this](const std::string* gone) {
    texts_.erase(*gone);
    delete gone;
  });
  texts_.emplace(*shared, shared);
  return shared;
}

void SettingsPool::release(const SharedSettings* block) {
  auto [first, last] = blocks_.equal_range(settings_hash(*block));
  for (auto it = first; it != last; ++it) {
    if (it->second.block == block) {
      blocks_.erase(it);
      break;
    }
  }
  delete block;
}

StoredSpec::StoredSpec(ServiceSpec spec, SettingsPool& pool)
    : identity_{std::move(spec.name),
                pool.intern_text(spec.binary),
                WordList(spec.options),
                std::move(spec.config_file),
                std::move(spec.config_section),
                std::move(spec.config_digest),
                std::move(spec.working_directory),
                std::move(spec.log_file)},
      settings_(pool.intern(SharedSettings(std::move(spec)))) {}

ServiceSpec StoredSpec::joined() const {
  ServiceSpec spec = static_cast<const ServiceSpec&>(*settings_);
  spec.name = identity_.name;
  spec.binary = *identity_.binary;
  spec.options = identity_.options.to_vector();
  spec.config_file = identity_.config_file;
  spec.config_section = identity_.config_section;
  spec.config_digest = identity_.config_digest;
  spec.working_directory = identity_.working_directory;
  spec.log_file = identity_.log_file;
  return spec;
}

void StoredSpec::replace(StoredSpec next) {
  std::string name = std::move(identity_.name);
  *this = std::move(next);
  identity_.name = std::move(name);
}

}  // namespace detail
ARM_END_NAMESPACE
