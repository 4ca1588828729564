// Which directories to watch so that every way a path can come to name other content is seen:
// the path is walked as the kernel walks it, following symbolic links, and each step says what
// could change it. Private to libarm/posix.
//
// For /etc/app/app.conf -> ..data/app.conf, ..data -> ..2026_12_01 (a Kubernetes ConfigMap
// mount), the chain is: /etc, /etc/app (each itself: deleted or moved away), the names app.conf
// and ..data in /etc/app (a symbolic link replaced, as by the atomic rename of a new ..data),
// /etc/app/..2026_12_01 itself, and the content of app.conf in it. A path whose directory does
// not exist (yet) ends the chain at the nearest existing ancestor, watched for the missing name.
#pragma once

#include <string>
#include <vector>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace posix::detail {

struct ChainStep {
  enum class Kind {
    itself,  // `directory` is a directory on the path: watch for it going (deleted, moved)
    entry,   // watch `directory` for `name` appearing, going or being replaced
    content  // as entry, and for the content of `name` changing: the file at the end
  };
  Kind kind = Kind::itself;
  std::string directory;
  std::string name;  // empty for `itself`
  bool operator==(const ChainStep&) const = default;
};

// `absolute_path` must start with '/'. Never fails: what cannot be looked up (missing,
// unreadable, a loop of links) ends the chain with an `entry` or `content` step for it.
std::vector<ChainStep> watch_chain(const std::string& absolute_path);

}  // namespace posix::detail
ARM_END_NAMESPACE
