#!/bin/bash
# Build the demo's grading image, Debian 12 minbase with gcc and make,
# into a private podman store (no registry is reachable: the root
# filesystem comes from the Debian mirror through debootstrap and is
# imported with podman).  Cached: nothing is done if the image exists.
#
#   demo/image/build.sh STOREDIR IMAGE
#
# STOREDIR gets storage.conf from worker/storage.conf.in if it has none
# (the layout tests/images/build-busybox.sh uses, so the stack's worker
# store, DIR/podman, is shared).  Prints CONTAINERS_CONF=... and
# CONTAINERS_STORAGE_CONF=... on stdout; progress goes to stderr.
# DEMO_MIRROR overrides the mirror (default: the first URIs line of
# /etc/apt/sources.list.d/debian.sources, else deb.debian.org).
set -euo pipefail

PROG=demo/image/build.sh
# Bump the tag in scripts/demo.sh when this list changes.
PACKAGES=gcc,make,libc6-dev

die() {
	echo "$PROG: $*" >&2
	exit 1
}

note() {
	echo "$PROG: $*" >&2
}

[ $# -eq 2 ] || { echo "usage: $PROG STOREDIR IMAGE" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
store=$(cd "$1" && pwd)
image=$2

conf="$store/storage.conf"
if [ ! -f "$conf" ]; then
	mkdir -p "$store/graph" "$store/run"
	sed -e "s|@GRAPHROOT@|$store/graph|" -e "s|@RUNROOT@|$store/run|" \
	    "$root/worker/storage.conf.in" >"$conf.tmp"
	mv "$conf.tmp" "$conf"
fi
CONTAINERS_CONF="$root/worker/containers.conf"
CONTAINERS_STORAGE_CONF="$conf"
export CONTAINERS_CONF CONTAINERS_STORAGE_CONF

print_env() {
	echo "CONTAINERS_CONF=$CONTAINERS_CONF"
	echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
}

# Two builds at once would both debootstrap; the second waits here and
# then finds the image.
exec 9>"$store/.demo-image.lock"
flock 9

if podman image exists "$image"; then
	note "$image is cached in $store"
	print_env
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (make deps)"
mirror=${DEMO_MIRROR:-}
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
	mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
	    /etc/apt/sources.list.d/debian.sources | head -n 1)
fi
mirror=${mirror:-http://deb.debian.org/debian}

t0=$SECONDS
tmp=$(mktemp -d "$store/image-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rootfs=$tmp/rootfs
log=$store/debootstrap.log
note "building $image: debootstrap --variant=minbase --include=$PACKAGES bookworm from $mirror"
note "(about a minute; the full log is $log)"

# debootstrap prints hundreds of lines: show each phase once, with the
# time, and how many packages it went through.
phase_filter() {
	local line verb phase last='' n=0
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$log"
		case $line in
		"I: "*) ;;
		*) continue ;;
		esac
		verb=${line#I: }
		verb=${verb%% *}
		case $verb in
		Retrieving | Validating) phase="downloading packages" ;;
		Extracting) phase="extracting the base system" ;;
		Installing | Unpacking) phase="unpacking packages" ;;
		Configuring) phase="configuring packages" ;;
		Base) phase="base system installed" ;;
		*) continue ;;
		esac
		if [ "$phase" != "$last" ]; then
			[ -n "$last" ] && [ $n -gt 1 ] &&
			    printf '%s:         (%d steps)\n' "$PROG" "$n" >&2
			printf '%s: [%3ds] %s\n' "$PROG" $((SECONDS - t0)) \
			    "$phase" >&2
			last=$phase
			n=0
		fi
		n=$((n + 1))
	done
}

: >"$log"
if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" \
    "$mirror" 2>&1 | phase_filter; then
	tail -n 20 "$log" >&2
	die "debootstrap failed: the Debian mirror ($mirror) must be reachable; see $log"
fi

# What a grading image does not need: the package caches and lists,
# documentation and translations (about 200 MB of 460).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc "$rootfs"/usr/share/man \
    "$rootfs"/usr/share/info "$rootfs"/usr/share/locale
note "[$(printf '%3d' $((SECONDS - t0)))s] importing $(du -sh "$rootfs" | cut -f1) into $store"
tar --numeric-owner -C "$rootfs" -c . |
    podman import -q --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL org.broadway-c.demo=1' - "$image" >/dev/null ||
    die "podman import failed"

# The image must run with the project's containers.conf, as the worker
# will run it.
smoke=$(cd "$tmp" && podman run --rm --network none "$image" gcc --version |
    head -n 1) || die "$image does not run: podman run ... gcc --version failed"
note "[$(printf '%3d' $((SECONDS - t0)))s] $image ready: $smoke"
print_env
