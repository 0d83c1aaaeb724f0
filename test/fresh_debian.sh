#!/usr/bin/env bash
# Checks the README's claim that both commands work on a fresh Debian
# machine: debootstraps a minimal bookworm into a temporary folder, clones
# this repository into it, and runs the test command (and with --demo, the
# demo) there as root, with nothing preinstalled.  Needs root, debootstrap
# and a reachable Debian mirror; takes a few minutes.  Not part of the test
# command.
#   sudo bash test/fresh_debian.sh [--demo] [mirror]
set -euo pipefail
demo=0
if [ "${1:-}" = --demo ]; then demo=1; shift; fi
mirror=${1:-http://deb.debian.org/debian}
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
root=$(mktemp -d /tmp/rerank-fresh.XXXXXX)
# the chroot's / must be traversable: the cluster runs as an unprivileged user
chmod 755 "$root"
cleanup() {
	for m in dev/shm dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
	# never into the host's /dev, /proc or /sys should an unmount have failed
	rm -rf --one-file-system "$root" "$root.log"
}
trap cleanup EXIT
echo "==> debootstrap minbase bookworm into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
	{ tail "$root.log"; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs tmpfs "$root/dev/shm"
mount --bind /sys "$root/sys"
# a chroot shares the host's init: no service may start from a postinst
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
git clone -q "$top" "$root/root/rerank"
run() {
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		bash -c "cd /root/rerank && $1"
}
echo "==> the test command in the fresh system"
run "bash test/run_tests.sh"
if [ "$demo" = 1 ]; then
	echo "==> the demo in the fresh system"
	run "bash test/demo.sh"
fi
echo "==> fresh Debian: passed"
