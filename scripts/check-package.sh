#!/bin/bash
# Builds the Debian packages (armd, libarm-dev) from a copy of this tree in a scratch directory
# (dpkg-buildpackage writes beside the source: nothing is left in the checkout), runs lintian on
# them, and with --fresh-root installs them in a fresh `debootstrap --variant=minbase bookworm`
# root, where armd is started with the exact ExecStart line of its installed systemd unit,
# answers `armctl status`, and is stopped. Everything it made is removed at exit, however it
# ends. As root (install-deps, debootstrap, chroot). --keep-debs DIR copies the built packages
# to DIR; --debs DIR takes packages built before from DIR (no build, no lintian). Exit 0 when every check passed; 77 (meson's
# "skipped") when not root.
#
# lintian must report no error and no warning (--pedantic: its informational and pedantic tags
# are shown, and each is explained in docs/install.md, "lintian"). A tag that must stay would be
# listed in explained_tags, suppressed, and explained there too.
set -euo pipefail
cd "$(dirname "$0")/.."

fresh_root=0
keep_debs=""
given_debs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh-root) fresh_root=1 ;;
    --keep-debs) keep_debs=${2:?--keep-debs needs a directory}; shift ;;
    --debs) given_debs=${2:?--debs needs a directory}; shift ;;
    *) echo "usage: $0 [--fresh-root] [--keep-debs DIR] [--debs DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$(id -u)" -ne 0 ]; then
  echo "check-package: needs root (apt-get, debootstrap, chroot); skipped" >&2
  exit 77
fi

explained_tags=""
mirror=${ARM_DEBIAN_MIRROR:-http://deb.debian.org/debian}

tools="debhelper dpkg-dev fakeroot lintian scdoc"
[ $fresh_root = 1 ] && tools="$tools debootstrap"
# shellcheck disable=SC2086 # package names are words
scripts/install-deps.sh $tools

work=$(mktemp -d --suffix=-armd-package)  # /tmp/tmp.RANDOM-armd-package
root=$work/root
armd_pid=""
cleanup() {
  set +e
  if [ -n "$armd_pid" ] && kill -0 "$armd_pid" 2>/dev/null; then
    kill -TERM "$armd_pid"
    for _ in $(seq 100); do kill -0 "$armd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$armd_pid" 2>/dev/null
    wait "$armd_pid" 2>/dev/null
  fi
  for mount in "$root/dev" "$root/proc"; do
    if mountpoint -q "$mount"; then umount "$mount" || umount -l "$mount"; fi
  done
  # Never remove a directory something is still mounted below.
  if grep -q " $work/" /proc/mounts; then
    echo "check-package: $work still has mounts; not removing it" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step() { echo "check-package: $*"; }

if [ -n "$given_debs" ]; then
  # Packages built before (--keep-debs): only the checks of their contents and the fresh root.
  cp "$given_debs"/*.deb "$work/"
else
  step "copying the tree (tracked and new files, no build directories) to $work/src"
  mkdir "$work/src"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
    tar --null -T - -cf - | tar -xf - -C "$work/src"

  step "dpkg-buildpackage -us -uc -b"
  (cd "$work/src" && dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1 || {
    tail -50 "$work/build.log"
    echo "check-package: dpkg-buildpackage failed (last lines above)" >&2
    exit 1
  }
  ls "$work"/*.deb
  if [ -n "$keep_debs" ]; then mkdir -p "$keep_debs" && cp "$work"/*.deb "$keep_debs/"; fi

  step "lintian${explained_tags:+ (suppressed, explained in docs/install.md: $explained_tags)}"
  lintian --info --display-info --pedantic --fail-on error,warning \
    ${explained_tags:+--suppress-tags "$explained_tags"} "$work"/*.changes

fi

step "contents of the armd package"
dpkg-deb --contents "$work"/armd_*.deb | awk '{print $6}' | grep -v '/$'
# What the package must hold; the conffile is the example configuration.
for wanted in ./usr/sbin/armd ./usr/bin/armctl ./lib/systemd/system/armd.service \
    ./etc/armd/armd.toml ./usr/share/man/man8/armd.8.gz ./usr/share/man/man1/armctl.1.gz \
    ./usr/share/man/man5/armd.toml.5.gz ./usr/share/bash-completion/completions/armctl \
    ./usr/share/zsh/vendor-completions/_armctl; do
  dpkg-deb --contents "$work"/armd_*.deb | awk '{print $6}' | grep -qx "$wanted" || {
    echo "check-package: the armd package lacks $wanted" >&2
    exit 1
  }
done
dpkg-deb --ctrl-tarfile "$work"/armd_*.deb | tar -xOf - ./conffiles | grep -qx /etc/armd/armd.toml || {
  echo "check-package: /etc/armd/armd.toml is not a conffile" >&2
  exit 1
}
dpkg-deb --contents "$work"/libarm-dev_*.deb | awk '{print $6}' |
  grep -E 'libarm\.a$|libarm\.pc$|/include/arm/supervisor\.hpp$'

[ $fresh_root = 1 ] || { step "done (without --fresh-root)"; exit 0; }

step "debootstrap --variant=minbase bookworm $root ($mirror)"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 || {
  tail -30 "$work/debootstrap.log"
  echo "check-package: debootstrap failed" >&2
  exit 1
}
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No daemon is started by a package's maintainer scripts inside the root (there is no systemd
# running there anyway): armd is started below, by hand, as its unit says.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mkdir "$root/debs"
cp "$work"/*.deb "$root/debs/"

step "apt-get install ./armd_*.deb ./libarm-dev_*.deb in the fresh root"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
in_root apt-get update -qq
# The packages' names as the root sees them (the glob is expanded here, outside it).
debs=()
for deb in "$root"/debs/armd_*.deb "$root"/debs/libarm-dev_*.deb; do debs+=("/debs/${deb##*/}"); done
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "${debs[@]}"
for installed in /usr/sbin/armd /usr/bin/armctl /lib/systemd/system/armd.service \
    /etc/armd/armd.toml /usr/lib/x86_64-linux-gnu/libarm.a /usr/include/arm/supervisor.hpp; do
  [ -e "$root$installed" ] || { echo "check-package: $installed is not installed" >&2; exit 1; }
done

unit=$root/lib/systemd/system/armd.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$exec_start" ] || { echo "check-package: no ExecStart= in $unit" >&2; exit 1; }
step "the installed example configuration is valid"
in_root /usr/sbin/armd --check-config /etc/armd/armd.toml

# A test service at boot, added to the installed configuration the unit names.
cat >> "$root/etc/armd/armd.toml" <<'TOML'

[services.packaged-probe]
binary = "/bin/sleep"
options = ["infinity"]
start = "boot"
TOML
step "starting armd as the unit does: $exec_start"
# shellcheck disable=SC2086 # the ExecStart line is words, as systemd splits it (no quotes in it)
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin $exec_start > "$work/armd.log" 2>&1 &
armd_pid=$!
answered=0
for _ in $(seq 600); do
  if in_root armctl status packaged-probe 2>/dev/null | grep -q running; then
    answered=1
    break
  fi
  kill -0 "$armd_pid" 2>/dev/null || break
  sleep 0.1
done
cat "$work/armd.log"
if [ $answered = 0 ]; then
  echo "check-package: armctl status never showed packaged-probe running" >&2
  exit 1
fi
in_root armctl status
step "armctl shutdown"
in_root armctl shutdown
wait "$armd_pid" && status=0 || status=$?
armd_pid=""
if [ "$status" -ne 0 ]; then
  echo "check-package: armd exited $status after shutdown" >&2
  exit 1
fi
step "every check passed"
