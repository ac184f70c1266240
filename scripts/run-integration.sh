#!/bin/bash
# The integration suite against a fresh stack in a temporary directory:
#   BROADWAY_HEARTBEAT=1 scripts/stack.sh up DIR
#   python3 tests/integration/run.py DIR/stack.env [FILTER]
#   scripts/stack.sh down DIR		(always, also on failure or ^C)
# The last line is "N passed, N failed".  Sanitizer reports found in
# the stack's logs count as one more failure.  On failure DIR (logs,
# data) is kept for inspection; BROADWAY_KEEP=1 keeps it always.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNNER=$ROOT/tests/integration/run.py
STACK=$ROOT/scripts/stack.sh
export BUILD=${BUILD:-build}

summary() {
	echo "$1 passed, $2 failed"
}

if [ ! -f "$RUNNER" ]; then
	echo "FAIL integration: $RUNNER does not exist"
	summary 0 1
	exit 1
fi

DIR=$(mktemp -d /tmp/broadway-it.XXXXXX) || exit 1
stopped=0
stop() {
	[ "$stopped" = 1 ] && return 0
	stopped=1
	"$STACK" down "$DIR" >&2 || echo "run-integration: stack.sh down failed" >&2
}
trap 'stop' EXIT
trap 'exit 130' INT TERM

echo "== integration (stack in $DIR, BUILD=$BUILD)"
if ! BROADWAY_HEARTBEAT=1 "$STACK" up "$DIR" >&2; then
	echo "FAIL integration: stack.sh up failed (logs in $DIR/logs)"
	stop
	summary 0 1
	exit 1
fi

out=$DIR/integration.out
python3 "$RUNNER" "$DIR/stack.env" "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
stop

passed=0
failed=0
last=$(tail -n 1 "$out")
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	passed=${BASH_REMATCH[1]}
	failed=${BASH_REMATCH[2]}
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		echo "FAIL integration: run.py exit status $rc with no failed test"
		failed=1
	fi
else
	echo "FAIL integration: run.py exit status $rc without a summary line"
	failed=$((failed + 1))
fi

# With SANITIZE=1 (or TSAN=1) a sanitizer report in a server process or
# a test's broadway-worker may only show in its log: the stack's logs and
# the workers' (DIR/*/worker.log).  Leak reports are shown but not
# counted: processes killed mid-request (kill-api, stop) leak by design.
SAN_RE='ERROR: AddressSanitizer|runtime error:|ThreadSanitizer'
logs=$(ls "$DIR"/logs/*.log "$DIR"/*/worker.log 2>/dev/null)
if [ -n "$logs" ] && grep -l -E "$SAN_RE" $logs >/dev/null 2>&1; then
	echo "FAIL integration: sanitizer errors in the stack's logs:"
	grep -n -A 12 -E "$SAN_RE" $logs | head -n 80
	failed=$((failed + 1))
fi
if [ -n "$logs" ] && grep -l 'ERROR: LeakSanitizer' $logs >/dev/null 2>&1; then
	echo "warning: LeakSanitizer reports in: $(grep -l 'ERROR: LeakSanitizer' $logs | tr '\n' ' ')"
fi

if [ "$failed" -eq 0 ] && [ "${BROADWAY_KEEP:-0}" != 1 ]; then
	rm -rf "$DIR"
else
	echo "stack directory kept: $DIR (logs in $DIR/logs)"
fi
summary "$passed" "$failed"
[ "$failed" -eq 0 ]
