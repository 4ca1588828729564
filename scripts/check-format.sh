#!/bin/sh
# Fails when a C++ file in the repository differs from what clang-format (Debian 12's, 14)
# makes of it with the repo's .clang-format. `scripts/check-format.sh --fix` rewrites them.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh clang-format
files=$(git ls-files '*.cpp' '*.hpp' | grep -v '^subprojects/')
if [ "${1:-}" = "--fix" ]; then
  echo "$files" | xargs clang-format -i
else
  echo "$files" | xargs clang-format --dry-run --Werror
fi
