#!/bin/sh
# Builds the API reference from the public headers with doxygen: `api-reference.sh DOXYFILE
# OUTPUT_DIR`. Any warning (an undocumented public name, a broken doc command) fails it: the
# Doxyfile has WARN_AS_ERROR = FAIL_ON_WARNINGS. With --test (the `docs` meson test) a machine
# without doxygen skips (exit 77) instead of failing.
set -eu

skip_without_doxygen=false
if [ "${1:-}" = "--test" ]; then
  skip_without_doxygen=true
  shift
fi
doxyfile=$1
output=$2

if ! command -v doxygen >/dev/null 2>&1; then
  echo "api-reference: doxygen is not installed (scripts/install-deps.sh installs it)" >&2
  if $skip_without_doxygen; then exit 77; fi
  exit 1
fi
mkdir -p "$output"
# The output directory given last overrides the Doxyfile's, so the test and `ninja docs` can
# write to different places.
{ cat "$doxyfile"; echo "OUTPUT_DIRECTORY = $output"; } | doxygen -
echo "api-reference: $output/html/index.html"
