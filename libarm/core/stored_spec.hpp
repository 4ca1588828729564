// How the core holds a service's ServiceSpec: in two parts. Private to libarm/core.
//
// What is usually unique to a service (its name, program, options and the files it names) is
// kept in its record; everything else (restart policy, backoff, output and readiness settings,
// environment, dependencies...), nearly always equal across services, is one block shared by
// every service whose settings are equal, interned by value and freed with its last user. With
// ten thousand services of one configuration that is one block instead of ten thousand copies
// of the ~500 bytes a ServiceSpec takes (issue 9: armd's memory per service).
//
// A field added to ServiceSpec is shared by default, with nothing to change here: it is compared
// by ServiceSpec's own operator==. (Hashing it too, in settings_hash, only spreads the pool.)
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "arm/config.hpp"
#include "word_list.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

// A text several services may name alike, held once by all of them (the pool interns it).
using SharedText = std::shared_ptr<const std::string>;

// The fields of a ServiceSpec that are usually unique to its service, with ServiceSpec's names
// and meanings (the options packed: word_list.hpp says why). The binary is shared: services of
// one program are common, and a path past 15 characters is an allocation, which, made while the
// file was read, kept a page of the freed TOML tree resident per service (issue 9). Compared by
// pointer: one pool interns every binary, so equal paths are one string.
// The names a service's edges refer to (depends_on, then wants). Usually unique to the service,
// so kept with it: in the shared settings, services that differed only in these held a block
// each (issue 9's core benchmark, a graph of thousands of services).
struct DependencyNames {
  WordList depends_on;
  WordList wants;

  bool operator==(const DependencyNames&) const = default;
};

struct Identity {
  std::string name;
  SharedText binary;
  WordList options;
  BoxedOptional<std::string> config_file;
  BoxedOptional<std::string> config_section;
  BoxedOptional<std::string> config_digest;
  BoxedOptional<std::string> working_directory;
  BoxedOptional<std::string> log_file;          // `<log_dir>/<name>.log` when read with a log_dir
  BoxedOptional<DependencyNames> dependencies;  // absent: none (most services)

  bool operator==(const Identity&) const = default;
};

// A ServiceSpec without its identity (those fields are empty). The identity fields are private
// here, so reading one from the shared part, where it is always empty, does not compile: read it
// from the service's Identity.
class SharedSettings : public ServiceSpec {
 public:
  // Keeps everything of `spec` but its identity, which is emptied.
  explicit SharedSettings(ServiceSpec spec);

 private:
  using ServiceSpec::binary;
  using ServiceSpec::config_digest;
  using ServiceSpec::config_file;
  using ServiceSpec::config_section;
  using ServiceSpec::depends_on;
  using ServiceSpec::log_file;
  using ServiceSpec::name;
  using ServiceSpec::options;
  using ServiceSpec::wants;
  using ServiceSpec::working_directory;
};

// The shared blocks, one per distinct value. Every block it hands out must be gone before it
// is destroyed (the supervisor declares it before its services).
class SettingsPool {
 public:
  SettingsPool() = default;
  SettingsPool(const SettingsPool&) = delete;
  SettingsPool& operator=(const SettingsPool&) = delete;

  // The block equal to `settings`, a copy made if none is: services with equal settings share
  // one. `settings` has no identity (those fields are empty), as a block has none.
  std::shared_ptr<const SharedSettings> intern(const ServiceSpec& settings);
  // The same for a text.
  SharedText intern_text(const std::string& text);
  // Distinct blocks in use; distinct texts in use.
  std::size_t size() const { return blocks_.size(); }
  std::size_t texts() const { return texts_.size(); }

 private:
  struct Entry {
    const SharedSettings* block;
    std::weak_ptr<const SharedSettings> handle;
  };
  void release(const SharedSettings* block, std::size_t hash);  // its last user is gone
  std::unordered_multimap<std::size_t, Entry> blocks_;          // by settings_hash
  std::unordered_map<std::string_view, std::weak_ptr<const std::string>> texts_;  // views them
};

// Equal settings give equal hashes. Only a few fields are mixed in: settings that differ only in
// the others land in the same bucket, and equality tells them apart.
std::size_t settings_hash(const ServiceSpec& settings);

// A service's spec: its identity inline, its settings shared.
class StoredSpec {
 public:
  // Copies what it keeps of `spec`: the identity, and the settings unless the pool has them.
  // `spec` is as it was when this returns; meanwhile its identity is swapped out and back (hence
  // the reference), so that the rest can be compared with the pool's blocks where it lies: no
  // copy of the whole spec made and freed per service (issue 9's core benchmark). What is kept
  // is a fresh allocation, not a buffer of the caller's (which may lie among a parsed file's
  // freed pages: docs/performance.md, memory per service).
  StoredSpec(ServiceSpec& spec, SettingsPool& pool);
  // The same for a spec it may not touch: a copy is set aside instead.
  StoredSpec(const ServiceSpec& spec, SettingsPool& pool);

  const Identity& identity() const { return identity_; }
  // The service's edges by name, in the order the configuration gave them.
  const WordList& depends_on() const {
    return identity_.dependencies ? identity_.dependencies->depends_on : no_words();
  }
  const WordList& wants() const {
    return identity_.dependencies ? identity_.dependencies->wants : no_words();
  }
  const SharedSettings& settings() const { return *settings_; }
  // The whole ServiceSpec again, as the configuration gave it (ServiceSupervisor::config()).
  ServiceSpec joined() const;
  // A new spec for the same service. The name's string keeps its buffer (the supervisor's map
  // of services by name views it), so `next` must have the same name.
  void replace(StoredSpec next);

  // The same spec (both interned in one pool: equal settings are one block).
  friend bool operator==(const StoredSpec& a, const StoredSpec& b) {
    return a.identity_ == b.identity_ &&
           (a.settings_ == b.settings_ || *a.settings_ == *b.settings_);
  }

 private:
  struct Copied {
    ServiceSpec spec;
  };
  StoredSpec(Copied&& copy, SettingsPool& pool) : StoredSpec(copy.spec, pool) {}
  static const WordList& no_words() {
    static const WordList none;
    return none;
  }

  Identity identity_;
  std::shared_ptr<const SharedSettings> settings_;
};

}  // namespace detail
ARM_END_NAMESPACE
