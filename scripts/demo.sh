#!/bin/bash
# `make demo`: grade a real C assignment end to end on the local stack.
#
#   1. the stack (var/, as `make up`): started if it is not running;
#   2. the grading image, Debian 12 minbase + gcc + make, built with
#      debootstrap into the stack's worker store (var/podman) the first
#      time, cached after that (demo/image/build.sh);
#   3. the stack's own broadway-worker (what make up starts; no network,
#      pids_limit 64), started if it is not running;
#   4. demo/watch.py: uploads the assignment (demo/assignment), starts a
#      run over demo/submissions/ROSTER, follows every job on its SSE
#      stream and prints the scoreboard; logs in var/demo/runs/<run>/.
#
# Environment: BUILD (build dir, default build), DEMO_STACK (stack
# directory, default var), DEMO_MIRROR (Debian mirror for the image).
# Exit status: 0 if the run finished and every outcome is the expected one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=demo.sh
# The tag names the recipe: bump it when demo/image/build.sh changes.
IMAGE=localhost/broadway-demo-gcc:bookworm-1

note() {
	echo "$PROG: $*" >&2
}

die() {
	note "$*"
	exit 1
}

BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac
STACK=${DEMO_STACK:-$ROOT/var}
WORKER=$BUILD/broadway-worker
[ -x "$WORKER" ] || die "$WORKER is not built (run make)"

t0=$SECONDS
step() {
	printf '\n== %s  [%ds]\n' "$*" $((SECONDS - t0))
}

# ---------------------------------------------------------------- stack

step "stack ($STACK)"
if [ -f "$STACK/stack.env" ] && "$ROOT/scripts/stack.sh" status "$STACK" >/dev/null 2>&1; then
	echo "running: $(sed -n 's/^BROADWAY_URL=//p' "$STACK/stack.env")"
else
	echo "not running: scripts/stack.sh up $STACK, as make up (make down stops it)"
	BUILD=$BUILD BROADWAY_WORKER=1 "$ROOT/scripts/stack.sh" up "$STACK" >/dev/null
fi
# shellcheck disable=SC1091
. "$STACK/stack.env"

# ---------------------------------------------------------------- image

# Into the stack's worker store, where the stack's worker finds it
# (pull = never: it looks there at every stage).
step "grading image $IMAGE"
"$ROOT/demo/image/build.sh" "$STACK/podman" "$IMAGE" >/dev/null ||
    die "the image could not be built"

# ---------------------------------------------------------------- worker

# The stack's own worker (no network, pids_limit 64, pull = never, see
# scripts/stack-worker.sh) grades the demo; a stack started without one
# gets it now, and it keeps running until make down.
step "worker"
"$ROOT/scripts/stack.sh" start-worker "$STACK" 2>&1 | sed 's/^/  /' ||
    die "the stack's worker could not be started"
echo "log: $STACK/worker/worker.log"

# ---------------------------------------------------------------- run

step "grading run"
rc=0
/usr/bin/python3 "$ROOT/demo/watch.py" --stack-env "$STACK/stack.env" \
    --image "$IMAGE" --out "$STACK/demo/runs" || rc=$?
echo
echo "make demo: $((SECONDS - t0)) s"
exit $rc
