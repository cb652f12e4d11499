#!/usr/bin/env bash
# fresh-machine.sh runs the project's quick start on a fresh Debian 12 userland, to catch an
# install step that only works because this machine already has the package:
#   testhosts/fresh-machine.sh                 # bash .ci/run (make test), CI=true
#   testhosts/fresh-machine.sh make demo       # or any command, from the clone's root
# It debootstraps Debian 12 (minbase) once into ROOT (default /var/tmp/deck-fresh-root),
# copies it, and runs in the copy as the root of a new mount namespace (pivot_root, not
# chroot: runc's exec needs a real root mount). What a machine of this kind has before the
# project runs is added: Go (bind-mounted from /usr/local/go), make, git, gcc and the CA
# bundle. Then a clean clone of HEAD runs the command. Needs root; leaves nothing mounted.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "fresh-machine.sh: run as root" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${ROOT:-/var/tmp/deck-fresh-root}
mirror=${MIRROR:-http://deb.debian.org/debian}
cmd=${*:-bash .ci/run}

if [ ! -x "$base/bin/bash" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  debootstrap --variant=minbase bookworm "$base" "$mirror" >/dev/null
fi
root=$(mktemp -d /var/tmp/deck-fresh.XXXXXX)
trap 'rm -rf "$root"' EXIT
cp -a "$base/." "$root/"
mkdir -p "$root/oldroot" "$root/usr/local/go"
cp /etc/resolv.conf "$root/etc/"
cp /etc/ssl/certs/ca-certificates.crt "$root/host-ca.crt"
git clone -q --bare "$repo" "$root/repo.git"

unshare --mount --fork bash -euo pipefail -c '
root=$1 cmd=$2
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount --bind /usr/local/go "$root/usr/local/go"
cd "$root"
pivot_root . oldroot
cd /
umount -l /oldroot
export PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq make git gcc ca-certificates >/dev/null
cat /host-ca.crt >/etc/ssl/certs/ca-certificates.crt
git clone -q /repo.git /root/deck
cd /root/deck
exec env -i PATH="$PATH" HOME=/root CI=true bash -c "$cmd"
' fresh "$root" "$cmd"
