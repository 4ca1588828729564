#!/bin/sh
# Installs the Debian 12 packages libarm needs, only if some are missing, so it is a quick no-op
# on a prepared machine. Extra package names may be passed as arguments (scripts/bench.sh adds
# python3-matplotlib). Works as root on a bare `debootstrap --variant=minbase bookworm` system;
# as another user it goes through sudo.
set -eu

packages="build-essential g++ meson ninja-build pkg-config cmake libfmt-dev libtomlplusplus-dev
          doctest-dev nlohmann-json3-dev libcli11-dev libbenchmark-dev libsystemd-dev python3 procps socat
          ca-certificates git python3-prometheus-client scdoc libuv1-dev libasio-dev doxygen $*"

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
  echo "install-deps: missing packages:$missing" >&2
  echo "install-deps: run this as root, or install sudo, or install them yourself" >&2
  exit 1
fi
echo "install-deps: installing$missing"
$as_root apt-get update
# Through `env` because sudo's env_reset would drop a variable set in front of it.
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
