#!/bin/bash
# The install proven on a machine that has never seen the project: a
# pristine Debian 12 minbase root, a clean copy of the tree (tracked files
# only, no build/ or var/), and inside it what a newcomer runs
# (tests/fresh/steps.sh): scripts/deps.sh, make all, make unit, make up,
# make down, one podman container, the README walkthrough (a run graded
# by a worker).  Nothing is preinstalled beyond
# minbase, so a package deps.sh forgets fails the build here.
#
# Caches, both under $BROADWAY_FRESH_CACHE [/var/cache/broadway-c]:
#   minbase-*.tar  the debootstrap output, written once right after
#                  debootstrap and never touched again: every run unpacks
#                  a fresh copy, so no run sees another run's packages.
#                  Keyed by debootstrap version and month, so a new
#                  point release is picked up within a month.
#   debs/          the .deb files the last run downloaded, hardlinked
#                  into the new root's apt archive: apt still installs
#                  every package, it only skips the download.
#                  BROADWAY_FRESH_DEBS=0 downloads everything again.
#
# All mounts are made in a private mount namespace with its own pid
# namespace (unshare), so they vanish with the test even on SIGKILL, and
# no daemon started in the root outlives it.  The last line is
# "N passed, N failed".  BROADWAY_KEEP=1 keeps the root for inspection.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_TREE=$(cd "$HERE/../.." && pwd)
CACHE=${BROADWAY_FRESH_CACHE:-/var/cache/broadway-c}
MIRROR=${BROADWAY_FRESH_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
WAIT_BOOTSTRAP=900	# seconds for a cold debootstrap

passed=0
failed=0
times=()
WORK=
NS_PID=

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
now() { echo "${EPOCHREALTIME/,/.}"; }
# Elapsed seconds since $1, one decimal.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timing() { times+=("$1 $2s"); echo "TIME $1 $2s"; }

summary() {
	echo "== figures"
	local t
	for t in "${times[@]}"; do echo "  $t"; done
	echo "$passed passed, $failed failed"
}

# Mounts the host can see under the work dir; there should never be any
# (they live in the namespace), but a copy must not be deleted under one.
host_mounts_under() {
	awk -v d="$1/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo
}

# The one child of unshare --fork: pid 1 of the namespace.
ns_init() {
	local c=
	{ read -r c _ <"/proc/$NS_PID/task/$NS_PID/children"; } 2>/dev/null
	echo "$c"
}

# Stop the namespace (its pid 1 takes every process in it along), then
# remove the work dir unless a mount is somehow still there.
cleanup() {
	local child
	if [ -n "$NS_PID" ] && kill -0 "$NS_PID" 2>/dev/null; then
		# unshare ignores TERM while it waits, so signal its child, the
		# namespace's pid 1, which unmounts and exits on TERM.
		child=$(ns_init)
		[ -n "$child" ] && kill -TERM "$child" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$NS_PID" 2>/dev/null || break
			sleep 0.1
		done
		child=$(ns_init)
		[ -n "$child" ] && kill -KILL "$child" 2>/dev/null
		wait "$NS_PID" 2>/dev/null
	fi
	NS_PID=
	[ -n "$WORK" ] && [ -d "$WORK" ] || return 0
	if [ -n "$(host_mounts_under "$WORK")" ]; then
		echo "run.sh: mounts left under $WORK, not removing it:" >&2
		host_mounts_under "$WORK" >&2
		return 1
	fi
	if [ "${BROADWAY_KEEP:-0}" = 1 ]; then
		echo "run.sh: kept $WORK" >&2
	else
		rm -rf --one-file-system "$WORK"
	fi
	WORK=
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM HUP

if [ "$(id -u)" -ne 0 ]; then
	fail "fresh root: must run as root (debootstrap, chroot, mounts)"
	summary
	exit 1
fi
for tool in debootstrap unshare chroot flock git; do
	if ! command -v "$tool" >/dev/null; then
		fail "fresh root: $tool is not installed (scripts/deps.sh installs it)"
		summary
		exit 1
	fi
done

# ------------------------------------------------------------ the minbase

arch=$(dpkg --print-architecture)
dbs_ver=$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null) || dbs_ver=unknown
key="minbase-$SUITE-$arch-debootstrap${dbs_ver//[^A-Za-z0-9.+-]/_}-$(date +%Y%m)"
TARBALL=$CACHE/$key.tar
mkdir -p "$CACHE"

# One debootstrap at a time on the machine: a second run waits for the
# first one's tarball instead of downloading the same root again.
build_cache() {
	local tmp t0 rc
	exec 9>"$CACHE/minbase.lock"
	flock 9
	if [ -s "$TARBALL" ]; then
		exec 9>&-
		return 0
	fi
	tmp=$(mktemp -d "$CACHE/bootstrap.XXXXXX") || return 1
	echo "== debootstrap --variant=minbase $SUITE (no cache for $key)"
	t0=$(now)
	timeout "$WAIT_BOOTSTRAP" debootstrap --variant=minbase "$SUITE" \
	    "$tmp/root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 20 "$tmp/debootstrap.log"
		echo "debootstrap exit status $rc"
		rm -rf --one-file-system "$tmp"
		exec 9>&-
		return 1
	fi
	timing "debootstrap(cold)" "$(since "$t0")"
	# Straight from debootstrap to the tarball: nothing ran in this root.
	tar --numeric-owner -C "$tmp/root" -cf "$tmp/root.tar" . &&
		mv "$tmp/root.tar" "$TARBALL"
	rc=$?
	rm -rf --one-file-system "$tmp"
	# Older keys are never used again.
	[ $rc -eq 0 ] && find "$CACHE" -maxdepth 1 -name 'minbase-*.tar' \
	    ! -name "$key.tar" -delete
	exec 9>&-
	return $rc
}

if [ -s "$TARBALL" ]; then
	pass "minbase root cached ($TARBALL)"
elif build_cache; then
	pass "minbase root by debootstrap ($TARBALL)"
else
	fail "debootstrap --variant=minbase $SUITE $MIRROR"
	summary
	exit 1
fi

# A run killed with SIGKILL leaves its copy behind (its mounts went with
# its namespace): remove copies whose run is gone and that hold no mount.
for d in /var/tmp/broadway-fresh.*; do
	[ -f "$d/owner" ] || continue
	owner=$(cat "$d/owner")
	[ "$(cat "/proc/$owner/comm" 2>/dev/null)" = run.sh ] && continue
	[ -z "$(host_mounts_under "$d")" ] && rm -rf --one-file-system "$d"
done

WORK=$(mktemp -d /var/tmp/broadway-fresh.XXXXXX) || exit 1
echo $$ >"$WORK/owner"
ROOTFS=$WORK/root
mkdir "$ROOTFS"
t0=$(now)
if ! tar --numeric-owner -C "$ROOTFS" -xpf "$TARBALL"; then
	fail "unpack $TARBALL"
	summary
	exit 1
fi
timing "unpack-minbase" "$(since "$t0")"

# What a Debian 12 installer writes: updates and security next to main.
cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
cp -L /etc/hosts "$ROOTFS/etc/hosts"

# ------------------------------------------------------------ the tree

# Tracked files as they are in the worktree (uncommitted edits included,
# untracked files and build output left out): `git stash create` makes a
# commit of the worktree without touching it, or prints nothing when
# the worktree is clean.
SRC=$ROOTFS/root/broadway-c
mkdir -p "$SRC"
rev=$(git -C "$ROOT_TREE" stash create 2>/dev/null) || rev=
[ -n "$rev" ] || rev=HEAD
if git -C "$ROOT_TREE" archive "$rev" | tar -C "$SRC" -xf -; then
	pass "clean copy of the tree ($(git -C "$ROOT_TREE" rev-parse --short HEAD)$([ "$rev" = HEAD ] || echo ' + worktree edits'))"
else
	fail "git archive of the tree"
	summary
	exit 1
fi

# ------------------------------------------------------------ .deb cache

DEBS=$CACHE/debs
ARCHIVES=$ROOTFS/var/cache/apt/archives
mkdir -p "$DEBS" "$ARCHIVES/partial"
if [ "${BROADWAY_FRESH_DEBS:-1}" = 1 ]; then
	# debootstrap leaves its own .debs in the root: keep those.
	n=0
	for f in "$DEBS"/*.deb; do
		[ -e "$f" ] || continue
		[ -e "$ARCHIVES/${f##*/}" ] && continue
		ln "$f" "$ARCHIVES/" 2>/dev/null || cp "$f" "$ARCHIVES/" || continue
		n=$((n + 1))
	done
	echo "== $n cached .deb files offered to apt"
fi

# ------------------------------------------------------------ inside

out=$WORK/steps.out
: >"$out"	# before tail opens it: tail -f gives up on a missing file
unshare --mount --pid --fork --propagation private -- \
    "$HERE/steps.sh" "$ROOTFS" >"$out" 2>&1 &
NS_PID=$!
tail -n +1 -f --pid="$NS_PID" "$out" 2>/dev/null &
tail_pid=$!
wait "$NS_PID"
rc=$?
NS_PID=
wait "$tail_pid" 2>/dev/null

while IFS= read -r line; do
	case $line in
	PASS\ *) passed=$((passed + 1)) ;;
	FAIL\ *) failed=$((failed + 1)) ;;
	TIME\ *) line=${line#TIME }; times+=("$line") ;;
	esac
done <"$out"
if ! grep -q '^STEPS DONE$' "$out"; then
	fail "steps.sh ended early (exit status $rc)"
fi

# Keep the downloads for the next run: exactly this run's set, so the
# cache never grows past one install.
if [ "${BROADWAY_FRESH_DEBS:-1}" = 1 ]; then
	for f in "$ARCHIVES"/*.deb; do
		[ -e "$f" ] || continue
		[ -e "$DEBS/${f##*/}" ] && continue
		ln "$f" "$DEBS/" 2>/dev/null || cp "$f" "$DEBS/"
	done
	for f in "$DEBS"/*.deb; do
		[ -e "$f" ] || continue
		[ -e "$ARCHIVES/${f##*/}" ] || rm -f "$f"
	done
fi

if [ -z "$(host_mounts_under "$WORK")" ]; then
	pass "no mount of the root is left on the host"
else
	fail "mounts left on the host: $(host_mounts_under "$WORK" | tr '\n' ' ')"
fi
cleanup
summary
[ "$failed" -eq 0 ]
