#!/bin/bash
# `make demo`: grade a real C assignment end to end on the local stack.
#
#   1. the stack (var/, as `make up`): started if it is not running;
#   2. the grading image, Debian 12 minbase + gcc + make, built with
#      debootstrap into the stack's worker store (var/podman) the first
#      time, cached after that (demo/image/build.sh);
#   3. a broadway-worker with 2 slots and no network, its work directory
#      and log in var/demo/worker/ (started unless one is already running
#      there, stopped at the end unless DEMO_KEEP_WORKER=1);
#   4. demo/watch.py: uploads the assignment (demo/assignment), starts a
#      run over demo/submissions/ROSTER, follows every job on its SSE
#      stream and prints the scoreboard; logs in var/demo/runs/<run>/.
#
# Environment: BUILD (build dir, default build), DEMO_STACK (stack
# directory, default var), DEMO_KEEP_WORKER=1 (leave the worker running),
# DEMO_MIRROR (Debian mirror for the image).
# Exit status: 0 if the run finished and every outcome is the expected one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=demo.sh
# The tag names the recipe: bump it when demo/image/build.sh changes.
IMAGE=localhost/broadway-demo-gcc:bookworm-1
WORKER_ID=demo-worker
SLOTS=2

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
	echo "not running: scripts/stack.sh up $STACK (make down stops it)"
	BUILD=$BUILD "$ROOT/scripts/stack.sh" up "$STACK" >/dev/null
fi
# shellcheck disable=SC1091
. "$STACK/stack.env"

# ---------------------------------------------------------------- image

step "grading image $IMAGE"
conf=$("$ROOT/demo/image/build.sh" "$STACK/podman" "$IMAGE") ||
    die "the image could not be built"
CONTAINERS_CONF=$(sed -n 's/^CONTAINERS_CONF=//p' <<<"$conf")
CONTAINERS_STORAGE_CONF=$(sed -n 's/^CONTAINERS_STORAGE_CONF=//p' <<<"$conf")

# ---------------------------------------------------------------- worker

WD=$STACK/demo/worker
PIDF=$WD/worker.pid
LOG=$WD/worker.log
started_worker=0

worker_pid() {
	local pid
	[ -s "$PIDF" ] || return 1
	pid=$(head -n 1 "$PIDF" | tr -dc 0-9)
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = broadway-worker ] ||
	    return 1
	echo "$pid"
}

# SIGTERM drains (the worker is idle by now); a second one stops it.
# shellcheck disable=SC2317  # called by the EXIT trap
stop_worker() {
	local pid i
	pid=$(worker_pid) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 600; i++)); do
		[ -d "/proc/$pid" ] || break
		[ "$i" -eq 400 ] && kill -TERM "$pid" 2>/dev/null
		sleep 0.1
	done
	[ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -f "$PIDF"
	echo "stopped the demo worker (pid $pid); its log: $LOG"
}

# shellcheck disable=SC2317  # the EXIT trap
cleanup() {
	if [ "$started_worker" -eq 1 ] && [ "${DEMO_KEEP_WORKER:-0}" != 1 ]; then
		stop_worker
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "worker $WORKER_ID ($SLOTS slots, no network)"
if pid=$(worker_pid); then
	echo "already running (pid $pid, log $LOG): left running"
else
	mkdir -p "$WD"
	(umask 077 && printf '%s\n' "$BROADWAY_CLUSTER_TOKEN" >"$WD/token")
	cat >"$WD/worker.conf" <<-EOF
		# Written by scripts/demo.sh: the demo's broadway-worker.
		api_url = $BROADWAY_URL
		ca_file = $BROADWAY_CA
		token_file = $WD/token
		worker_id = $WORKER_ID
		hostname = $WORKER_ID
		slots = $SLOTS
		containers_conf = $CONTAINERS_CONF
		storage_conf = $CONTAINERS_STORAGE_CONF
		work_dir = $WD
		allow_network = no
		allow_privileged = no
		# A C assignment needs few processes; this is what contains a fork bomb.
		pids_limit = 64
		# The image is local: never pull.
		pull = never
	EOF
	mark=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
		done
		exec setsid "$WORKER" -d -f "$WD/worker.conf" </dev/null >>"$LOG" 2>&1
	) &
	echo $! >"$PIDF"
	started_worker=1
	pid=$!
	for ((i = 0; i < 300; i++)); do
		if tail -c +$((mark + 1)) "$LOG" | grep -q "registered as"; then
			break
		fi
		if ! [ -d "/proc/$pid" ]; then
			tail -n 20 "$LOG" >&2
			die "the worker exited at startup (log: $LOG)"
		fi
		sleep 0.05
	done
	tail -c +$((mark + 1)) "$LOG" | grep -q "registered as" ||
	    die "the worker did not register within 15 s (log: $LOG)"
	echo "started (pid $pid); config $WD/worker.conf, log $LOG"
	if [ "${DEMO_KEEP_WORKER:-0}" = 1 ]; then
		echo "DEMO_KEEP_WORKER=1: it keeps running (stop it with kill $pid)"
	else
		echo "it is stopped when the demo ends (DEMO_KEEP_WORKER=1 keeps it)"
	fi
fi

# ---------------------------------------------------------------- run

step "grading run"
rc=0
/usr/bin/python3 "$ROOT/demo/watch.py" --stack-env "$STACK/stack.env" \
    --image "$IMAGE" --out "$STACK/demo/runs" || rc=$?
echo
echo "make demo: $((SECONDS - t0)) s"
exit $rc
