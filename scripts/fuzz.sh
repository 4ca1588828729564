#!/bin/sh
# Builds the libFuzzer targets with clang-16 and runs each on its corpus for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60; CI uses a short run)
#
# Why clang-16 with libc++: libFuzzer needs clang, clang 16 cannot use libstdc++ 12's
# <expected>, and libc++ 16 has it. fmt, toml++ and nlohmann-json are compiled from their headers
# so nothing built against libstdc++ is linked in: nlohmann-json header-only, fmt's and toml++'s
# implementations once each, from libarm/compiled_deps/ (header-only in every file, they made
# each compile up to ten times slower). A crash leaves its input in build-fuzz/; copy it into
# tests/fuzz/corpus/<target>/ and it becomes a regression test (tests/fuzz/meson.build replays
# the corpora in every `meson test`).
#
# Why a generated ninja file and not one clang call per target: every target shares the core,
# three share the loader, and one call per target compiled those five and three times, on one
# core, for about 40 minutes. Here each source is compiled once per flag set, on every core,
# and ninja's depfiles make a second run rebuild only what changed.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-60}

packages="clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev ninja-build"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

mkdir -p build-fuzz/protocol
# meson writes armd's version header from the project version; do the same here.
version=$(meson introspect --projectinfo meson.build |
          python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
sed "s/@VERSION@/$version/" armd/protocol/version.hpp.in > build-fuzz/protocol/version.new
cmp -s build-fuzz/protocol/version.new build-fuzz/protocol/version.hpp ||
  mv build-fuzz/protocol/version.new build-fuzz/protocol/version.hpp
rm -f build-fuzz/protocol/version.new

# The pure core (without the fakes of testing.cpp); it checks configurations with the loader's
# dependency check, so those files come too, and the names of resource limits it reports; the
# loader's nesting check comes with them (fuzz_config takes it from here).
core_from_config="config_check dependency_check key_suggestion execution_names nesting_limits"
core="$(ls libarm/core/*.cpp | grep -v /testing.cpp) libarm/compiled_deps/fmt_implementation.cpp"
for name in $core_from_config; do core="$core libarm/config/$name.cpp"; done
# The codec's output lines (issue 12) use libarm's pure output pieces.
protocol="armd/protocol/protocol.cpp armd/protocol/fast_request.cpp armd/protocol/json_writer.cpp
          armd/protocol/log_lines.cpp $(ls libarm/output/*.cpp)"
# The rest of the loader, for the configuration, GNUnet and import targets.
loader="$(ls libarm/config/*.cpp | grep -v -e config_check -e dependency_check \
          -e key_suggestion -e execution_names -e nesting_limits) libarm/posix/regular_file.cpp"
# toml++'s parser, compiled alone (rule compile_toml). Two upstream toml++ 3.3 defects the config
# fuzzer found are worked around there so it can look further:
# - in debug mode its parser asserts on a table header whose '[' is followed by a newline:
#   toml_implementation.cpp compiles it with NDEBUG, as Debian ships it (the release build
#   reports "expected bare key starting character" instead);
# - its is_non_ascii_horizontal_whitespace() reaches __builtin_unreachable() for some
#   non-ASCII characters (e.g. U+00E9 where whitespace may appear): UBSan's `unreachable` check
#   is off for that file. Debian's compiled library reports a clean parse error for these inputs
#   (see corpus/config/toml-*, replayed by `meson test`).
# Everything else keeps its assertions and every UBSan check.
toml=libarm/compiled_deps/toml_implementation.cpp
# Line tables are enough for a crash's stack trace and compile a quarter faster than -g.
common="-std=c++2b -stdlib=libc++ -gline-tables-only -O1
        -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
        -DTOML_HEADER_ONLY=0 -I../include -I../armd -I."
# shellcheck disable=SC2086 # one line for ninja
common=$(echo $common)
objects() { # SOURCE... -> their objects' paths inside build-fuzz/
  for source in "$@"; do printf ' obj/%s.o' "$(echo "$source" | tr / _)"; done
}
{
  cat <<NINJA
cxx = clang++-16
common = $common
# libFuzzer's own runtime is built against libstdc++; its symbols (std::__cxx11) do not clash
# with libc++'s (std::__1), so both can be linked.
runtime = /usr/lib/gcc/x86_64-linux-gnu/12/libstdc++.so
rule compile
  command = \$cxx \$common -MD -MF \$out.d -c \$in -o \$out
  depfile = \$out.d
  deps = gcc
  description = compile \$in
rule compile_toml
  command = \$cxx \$common -fno-sanitize=unreachable -MD -MF \$out.d -c \$in -o \$out
  depfile = \$out.d
  deps = gcc
  description = compile \$in
rule link
  command = \$cxx -stdlib=libc++ -fsanitize=fuzzer,address,undefined -o \$out \$in \$runtime
  description = link \$out
NINJA
  # shellcheck disable=SC2086 # the lists are words
  for source in $core $protocol $loader tests/fuzz/fuzz_*.cpp; do
    echo "build$(objects "$source"): compile ../$source"
  done
  echo "build$(objects $toml): compile_toml ../$toml"
  # shellcheck disable=SC2086
  core_objects=$(objects $core)
  # shellcheck disable=SC2086
  echo "build fuzz_protocol: link$(objects tests/fuzz/fuzz_protocol.cpp $protocol)$core_objects"
  # A live re-exec's handover read by resume() (issue 15): the core's own reader of it.
  echo "build fuzz_handover: link$(objects tests/fuzz/fuzz_handover.cpp)$core_objects"
  # The configuration; GNUnet's (issue 17); armctl import's supervisord and systemd files.
  for target in config gnunet import; do
    # shellcheck disable=SC2086
    echo "build fuzz_$target: link$(objects "tests/fuzz/fuzz_$target.cpp" $loader $toml)$core_objects"
  done
} > build-fuzz/build.ninja.new
mv build-fuzz/build.ninja.new build-fuzz/build.ninja
ninja -C build-fuzz

status=0
for target in protocol config gnunet import handover; do
  work="build-fuzz/corpus-$target"
  mkdir -p "$work"
  echo "fuzzing $target for ${seconds}s"
  if ! build-fuzz/fuzz_$target -max_total_time="$seconds" -max_len=70000 -timeout=10 \
      -artifact_prefix="build-fuzz/$target-" -print_final_stats=1 \
      "$work" "tests/fuzz/corpus/$target" 2>&1 | tee "build-fuzz/$target.log" | tail -n 15; then
    status=1
  fi
  grep -q "Done [0-9]* runs" "build-fuzz/$target.log" || status=1
done
exit $status
