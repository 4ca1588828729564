// find_missing_files: what `armd --check-config` adds to loading — the programs and service
// config files a valid configuration names but the filesystem does not hold. Loading itself
// never looks (a program may be installed after armd starts; its spawn then fails with the
// reason), so this is the one place of libarm/config that asks about files other than the
// configuration.
//
// The Config holds no positions; they are found again in the file's TOML, which is read once
// more. Should that fail (the file changed meanwhile), the errors still name the file and key.

#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "arm/config.hpp"
#include "read_file_posix.hpp"

ARM_BEGIN_NAMESPACE

namespace {

// Why execve(path) would fail, or nullopt when it would not.
std::optional<std::string> why_not_executable(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return std::string(std::strerror(errno));
  if (S_ISDIR(status.st_mode)) return std::string(std::strerror(EISDIR));
  if (!S_ISREG(status.st_mode)) return std::string("not a regular file");
  if (::access(path.c_str(), X_OK) != 0) return std::string("not executable");
  return std::nullopt;
}

// What execvp does with a name without '/': the first directory of the search path holding an
// executable file of that name. An empty entry is the current directory.
bool found_in_search_path(const std::string& name, std::string_view search_path) {
  for (std::size_t begin = 0;;) {
    std::size_t colon = search_path.find(':', begin);
    std::string_view directory = search_path.substr(begin, colon - begin);
    std::string candidate = directory.empty() ? name : fmt::format("{}/{}", directory, name);
    if (!why_not_executable(candidate)) return true;
    if (colon == std::string_view::npos) return false;
    begin = colon + 1;
  }
}

std::optional<std::string> why_program_is_missing(const std::string& program,
                                                  std::string_view search_path) {
  if (program.find('/') != std::string::npos) {
    auto why = why_not_executable(program);
    if (!why) return std::nullopt;
    return fmt::format("cannot execute {}: {}", program, *why);
  }
  if (found_in_search_path(program, search_path)) return std::nullopt;
  return fmt::format("cannot execute {}: no executable of that name in PATH ({})", program,
                     search_path);
}

class Findings {
 public:
  Findings(const std::filesystem::path& path, const std::optional<toml::table>& root)
      : file_(path.string()), root_(root) {}

  // An error at `node` (looked up in the re-read TOML; no position without it).
  void add(toml::node_view<const toml::node> node, std::string key, std::string message) {
    int line = 0;
    int column = 0;
    if (const toml::node* found = node.node()) {
      line = static_cast<int>(found->source().begin.line);
      column = static_cast<int>(found->source().begin.column);
    }
    errors_.push_back(Error::at(file_, line, column, std::move(key), std::move(message)));
  }

  toml::node_view<const toml::node> at(std::string_view table, std::string_view name,
                                       std::string_view key) const {
    if (!root_) return {};
    // Step by step: a service name may contain '.', which at_path would split.
    if (name.empty()) return (*root_)[table][key];
    return (*root_)[table][name][key];
  }

  std::vector<Error> take() { return std::move(errors_); }

 private:
  std::string file_;
  const std::optional<toml::table>& root_;
  std::vector<Error> errors_;
};

// The first word of a prefix, as an array's element or as the string written.
toml::node_view<const toml::node> first_word(toml::node_view<const toml::node> prefix) {
  return prefix.is_array() ? prefix[0] : prefix;
}

std::string first_word_key(toml::node_view<const toml::node> prefix, std::string key) {
  return prefix.is_array() ? key + "[0]" : key;
}

}  // namespace

std::vector<Error> find_missing_files(const std::filesystem::path& path, const Config& config,
                                      std::string_view search_path) {
  std::optional<toml::table> root = config_detail::reread_for_positions(path);
  Findings findings(path, root);
  // A program of the global prefix is reported once, naming the services it would start.
  std::vector<std::string> global_prefix_users;
  std::string global_prefix_missing;
  for (const auto& [name, spec] : config.services) {
    std::string program = compose_argv(spec, config.arm).front();
    auto missing = why_program_is_missing(program, search_path);
    if (missing && !spec.prefix && !config.arm.global_prefix.empty()) {
      global_prefix_users.push_back(name);
      global_prefix_missing = *missing;
    } else if (missing) {
      std::string key = fmt::format("services.{}.", name);
      if (spec.prefix && !spec.prefix->empty()) {
        auto prefix = findings.at("services", name, "prefix");
        findings.add(first_word(prefix), first_word_key(prefix, key + "prefix"), *missing);
      } else {
        findings.add(findings.at("services", name, "binary"), key + "binary", *missing);
      }
    }
    if (spec.config_file) {
      struct stat status {};
      if (::stat(spec.config_file->c_str(), &status) != 0)
        findings.add(findings.at("services", name, "config"),
                     fmt::format("services.{}.config", name),
                     fmt::format("{}: {}", *spec.config_file, std::strerror(errno)));
    }
  }
  if (!global_prefix_users.empty()) {
    auto prefix = findings.at("arm", "", "global_prefix");
    std::string users;
    for (std::size_t i = 0; i < global_prefix_users.size() && i < 5; ++i)
      users += (i == 0 ? "" : ", ") + global_prefix_users[i];
    if (global_prefix_users.size() > 5)
      users += fmt::format(" and {} more", global_prefix_users.size() - 5);
    findings.add(first_word(prefix), first_word_key(prefix, "arm.global_prefix"),
                 fmt::format("{} (it starts {})", global_prefix_missing, users));
  }
  return findings.take();
}

ARM_END_NAMESPACE
