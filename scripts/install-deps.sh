#!/bin/sh
# Installs the Debian 12 packages libarm needs, only if some are missing (so it is a quick
# no-op on a prepared machine). Extra package names can be passed as arguments.
set -eu

packages="build-essential g++ meson ninja-build pkg-config cmake libfmt-dev libtomlplusplus-dev
          doctest-dev nlohmann-json3-dev libcli11-dev python3 procps socat ca-certificates $*"

missing=""
for package in $packages; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $package"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "install-deps: missing packages:$missing; run this as root (or install sudo)" >&2
  exit 1
fi
echo "install-deps: installing$missing"
$as_root apt-get update
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y --no-install-recommends $missing
