#!/bin/sh
# Build the local test image from busybox-static into a private podman store
# (no registry is reachable).  Usage:
#   tests/images/build-busybox.sh STOREDIR [IMAGE]
# Creates STOREDIR/storage.conf (from worker/storage.conf.in) if missing and
# imports IMAGE (default localhost/bb:1) unless the store has it already
# (scripts/stack-worker.sh builds its worker's image with this too).
# Prints the two env lines to use:
#   CONTAINERS_CONF=...  CONTAINERS_STORAGE_CONF=...
set -eu

[ $# -ge 1 ] || { echo "usage: $0 STOREDIR [IMAGE]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
store=$(cd "$1" && pwd)
image=${2:-localhost/bb:1}
busybox=${BUSYBOX:-/bin/busybox}

conf="$store/storage.conf"
if [ ! -f "$conf" ]; then
	mkdir -p "$store/graph" "$store/run"
	sed -e "s|@GRAPHROOT@|$store/graph|" -e "s|@RUNROOT@|$store/run|" \
	    "$root/worker/storage.conf.in" > "$conf.tmp"
	mv "$conf.tmp" "$conf"
fi
CONTAINERS_CONF="$root/worker/containers.conf"
CONTAINERS_STORAGE_CONF="$conf"
export CONTAINERS_CONF CONTAINERS_STORAGE_CONF

# A stack's worker and the tests may build into one store at once: the
# second waits here and then finds the image.
exec 9>"$store/.busybox-image.lock"
flock 9

if podman image exists "$image"; then
	echo "CONTAINERS_CONF=$CONTAINERS_CONF"
	echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rootfs="$tmp/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/job" \
    "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/root"
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for app in $("$busybox" --list); do
	[ "$app" = busybox ] || ln -s busybox "$rootfs/bin/$app"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
    > "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
tar --numeric-owner -C "$rootfs" -cf "$tmp/bb.tar" .
podman import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' \
    -q "$tmp/bb.tar" "$image" >/dev/null
echo "CONTAINERS_CONF=$CONTAINERS_CONF"
echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
