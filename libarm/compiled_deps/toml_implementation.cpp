// toml++'s implementation, compiled once, for builds that cannot link Debian's libtomlplusplus
// (clang 16 + libc++: -Dheader_only_deps=true, and scripts/fuzz.sh).
//
// Why not TOML_HEADER_ONLY=1 everywhere: then every file that includes <toml++/toml.h> compiles
// the whole parser again; with clang and the sanitizers a 50-line file took 20 s instead of 3.
// toml++ documents this split: TOML_HEADER_ONLY=0 in every file, and TOML_IMPLEMENTATION in
// exactly one.
#if !defined(TOML_HEADER_ONLY) || TOML_HEADER_ONLY
#error "compile with -DTOML_HEADER_ONLY=0, as every file that includes toml++ must be then"
#endif
// With NDEBUG, as Debian builds libtomlplusplus: toml++ 3.3's parser has debug-only assertions
// that some malformed input trips (docs/reliability.md, "Fuzzing"), where the release build
// reports a parse error. Only this file holds the parser, so only it needs NDEBUG.
#ifndef NDEBUG
#define NDEBUG
#endif
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
