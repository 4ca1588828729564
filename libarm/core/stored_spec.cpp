#include "stored_spec.hpp"

#include <functional>
#include <string_view>
#include <utility>

ARM_BEGIN_NAMESPACE
namespace detail {

namespace {

// A spec's identity fields, swapped out of it for as long as this lives and back in after: the
// spec reads as its bare settings meanwhile. Swaps move buffers; nothing is copied or freed.
class IdentityAside {
 public:
  explicit IdentityAside(ServiceSpec& spec) : spec_(spec) { swap_with_spec(); }
  ~IdentityAside() {
    if (!kept_out_) swap_with_spec();
  }
  // The fields stay out of the spec, freed with this.
  void keep_out() { kept_out_ = true; }
  IdentityAside(const IdentityAside&) = delete;
  IdentityAside& operator=(const IdentityAside&) = delete;

  // The identity: the fields SharedSettings hides (stored_spec.hpp), kept in Identity.
  std::string name;
  std::string binary;
  std::vector<std::string> options;
  BoxedOptional<std::string> config_file;
  BoxedOptional<std::string> config_section;
  BoxedOptional<std::string> config_digest;
  BoxedOptional<std::string> working_directory;
  BoxedOptional<std::string> log_file;
  std::vector<std::string> depends_on;
  std::vector<std::string> wants;

 private:
  void swap_with_spec() {
    using std::swap;
    swap(name, spec_.name);
    swap(binary, spec_.binary);
    swap(options, spec_.options);
    swap(config_file, spec_.config_file);
    swap(config_section, spec_.config_section);
    swap(config_digest, spec_.config_digest);
    swap(working_directory, spec_.working_directory);
    swap(log_file, spec_.log_file);
    swap(depends_on, spec_.depends_on);
    swap(wants, spec_.wants);
  }
  ServiceSpec& spec_;
  bool kept_out_ = false;
};

}  // namespace

SharedSettings::SharedSettings(ServiceSpec spec) : ServiceSpec(std::move(spec)) {
  // The identity goes with `dropped` (buffers and all; a cleared string would keep its buffer).
  IdentityAside dropped(*this);
  dropped.keep_out();
}

namespace {

void mix(std::size_t& hash, std::size_t value) {
  hash ^= value + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
}

}  // namespace

std::size_t settings_hash(const ServiceSpec& settings) {
  // What services of one configuration most often differ in (their dependencies being kept
  // with each service, not here): their environment, then the policy numbers.
  std::size_t hash = 0;
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

std::shared_ptr<const SharedSettings> SettingsPool::intern(const ServiceSpec& settings) {
  std::size_t hash = settings_hash(settings);
  auto [first, last] = blocks_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    if (static_cast<const ServiceSpec&>(*it->second.block) == settings)
      return it->second.handle.lock();
  }
  // The deleter hands the block back to the pool, so it is forgotten with its last user.
  std::shared_ptr<const SharedSettings> block(
      new SharedSettings(settings),
      [this, hash](const SharedSettings* gone) { release(gone, hash); });
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

void SettingsPool::release(const SharedSettings* block, std::size_t hash) {
  auto [first, last] = blocks_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    if (it->second.block == block) {
      blocks_.erase(it);
      break;
    }
  }
  delete block;
}

namespace {

Identity copy_identity(const IdentityAside& aside, SettingsPool& pool) {
  Identity identity{aside.name,
                    pool.intern_text(aside.binary),
                    WordList(aside.options),
                    aside.config_file,
                    aside.config_section,
                    aside.config_digest,
                    aside.working_directory,
                    aside.log_file,
                    std::nullopt};
  if (!aside.depends_on.empty() || !aside.wants.empty())
    identity.dependencies = DependencyNames{WordList(aside.depends_on), WordList(aside.wants)};
  return identity;
}

}  // namespace

StoredSpec::StoredSpec(ServiceSpec& spec, SettingsPool& pool) {
  IdentityAside aside(spec);
  identity_ = copy_identity(aside, pool);
  settings_ = pool.intern(spec);
}

StoredSpec::StoredSpec(const ServiceSpec& spec, SettingsPool& pool)
    : StoredSpec(Copied{spec}, pool) {}

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
  spec.depends_on = depends_on().to_vector();
  spec.wants = wants().to_vector();
  return spec;
}

void StoredSpec::replace(StoredSpec next) {
  std::string name = std::move(identity_.name);
  *this = std::move(next);
  identity_.name = std::move(name);
}

}  // namespace detail
ARM_END_NAMESPACE
