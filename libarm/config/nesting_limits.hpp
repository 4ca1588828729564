// Limits on how deep a configuration may nest, checked on the text before toml++ sees it.
//
// toml++ builds and destroys nested tables and arrays recursively: a dotted key or a table
// header of tens of thousands of parts (`a.a.a....a = 1`, a few hundred KiB) overflows the stack
// and kills the process — armd and, through PR_SET_PDEATHSIG, every service — on a reload. A
// supervisor's configuration never needs more than a few levels, so the limits are generous.
#pragma once

#include <optional>
#include <string_view>

#include "arm/error.hpp"

ARM_BEGIN_NAMESPACE
namespace config_reading {

// Parts of one key: `a.b.c = 1` has 3, so does `[a.b.c]` and `[[a.b.c]]`.
constexpr int max_key_parts = 64;
// Levels of arrays and inline tables within one value: `x = [[1]]` nests 2 deep. Inside an
// inline table each part of a dotted key is a table of its own, so `{a.b = [1]}` nests 3 deep.
constexpr int max_nesting_depth = 64;

// The first place where `text` breaks a limit, as an error at its line and column; nullopt when
// it keeps them. The scan knows TOML's strings (basic, literal, multi-line) and comments, so a
// '[' or '.' inside them never counts. It checks only what it needs to: for text that is not
// valid TOML it stays quiet wherever it cannot tell, and the parser reports the syntax error.
std::optional<Error> find_excessive_nesting(std::string_view text, std::string_view source);

}  // namespace config_reading
ARM_END_NAMESPACE
