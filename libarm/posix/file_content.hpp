// What the InotifyWatcher compares: a 64-bit FNV-1a hash of a file's content, or of one
// `[section]` of it, so that only a real change of the text is reported (not a `touch`, not a
// rewrite with the same bytes). Private to libarm/posix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "../core/fnv1a.hpp"
#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace posix::detail {

// Files are configuration files: at most this much is read. A bigger file is hashed as its
// first read_limit bytes together with its size and modification time (so, for such a file
// only, a `touch` counts as a change).
inline constexpr std::size_t read_limit = 1024 * 1024;

using ::arm::detail::fnv1a;  // libarm/core/fnv1a.hpp

// The text of section `name`: every part from a line `[name]` (leading blanks allowed, and
// anything after the closing bracket) up to the next line whose first non-blank character is
// `[`, all parts in order. Empty when there is no such section.
std::string section_text(std::string_view text, std::string_view name);

// What a file holds now, as far as the watcher cares.
struct Snapshot {
  std::string text;            // at most read_limit bytes
  std::uint64_t too_big_mark;  // 0, or size and mtime mixed, for a file beyond read_limit

  // The hash of the whole text (`section` empty) or of that section.
  std::uint64_t hash(std::string_view section) const;
};

// Reads the file at `path` (symbolic links followed) without blocking. nullopt when there is
// no regular file there to read: missing, a directory, a FIFO, unreadable.
std::optional<Snapshot> read_snapshot(const std::string& path);

}  // namespace posix::detail
ARM_END_NAMESPACE
