#!/bin/bash
# SSE benchmark (issue 3): N concurrent streams through nginx into one
# broadway-sse; commit-to-receipt latency, RSS, CPU when idle.
#
#   tests/bench/sse_bench.sh [STACK_DIR [RESULTS_FILE]]
#
# Without STACK_DIR a fresh stack is started in a temporary directory
# and stopped afterwards.  RESULTS_FILE gets the "sse_* value" lines.
# Environment: SSE_BENCH_STREAMS [5000], SSE_BENCH_CLAIMS [20],
# SSE_BENCH_COURSES [1], SSE_BENCH_IDLE_S [10], SSE_BENCH_GAP_MS [200],
# BUILD [build].  With one course every claim moves every other stream's
# position (the worst case, what the original did on every pull); with
# K courses a claim moves about N/K of them.
#
# The jobs are written straight into the database (one course, all
# QUEUED) and the state changes are committed by the client itself, the
# way the API writes them (UPDATE grading_job + INSERT job_event in one
# transaction), so the numbers are the SSE path alone: MariaDB ->
# broadway-sse -> nginx (TLS) -> client.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${SSE_BENCH_STREAMS:-5000}
CLAIMS=${SSE_BENCH_CLAIMS:-20}
K=${SSE_BENCH_COURSES:-1}
export BUILD=${BUILD:-build}
DIR=${1:-}
RESULTS=${2:-}
OWN=0

cleanup() {
	if [ -n "${COURSE:-}" ] && [ $OWN -eq 0 ]; then
		sql "DELETE FROM job_event WHERE course_id LIKE '$COURSE-%';
		    DELETE FROM grading_job WHERE course_id LIKE '$COURSE-%';
		    DELETE FROM course WHERE id LIKE '$COURSE-%';" || true
	fi
	if [ $OWN -eq 1 ]; then
		"$ROOT/scripts/stack.sh" down "$DIR" >/dev/null 2>&1 || true
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT

if [ -z "$DIR" ]; then
	DIR=$(mktemp -d /tmp/sse-bench.XXXXXX)
	OWN=1
	"$ROOT/scripts/stack.sh" up "$DIR" >/dev/null
fi
set -a
# shellcheck disable=SC1091
. "$DIR/stack.env"
set +a

sql() {
	MYSQL_PWD=$BROADWAY_DB_PASSWORD mariadb --no-defaults -N -B \
	    --socket="$BROADWAY_DB_SOCKET" -u "$BROADWAY_DB_USER" \
	    "$BROADWAY_DB_NAME" -e "$1"
}

BIN=$DIR/sse_bench
cc -O2 -Wall -o "$BIN" "$ROOT/tests/bench/sse_bench.c" \
    "$ROOT/tests/bench/sse_streams.c" \
    $(pkg-config --cflags --libs libcurl libmariadb)

COURSE=ssebench-$(openssl rand -hex 4)
TOKEN=$(openssl rand -hex 16)
for ((k = 0; k < K; k++)); do
	"$BROADWAY_ADMIN" course-add "$COURSE-$k" >/dev/null
	"$BROADWAY_ADMIN" token-add query "$COURSE-$k" --token "$TOKEN" >/dev/null
done
# N queued jobs, job s in course (s-1) % K; public ids: 12 hex of the
# run's hash + 12 of the counter.
sql "INSERT INTO grading_job (public_id, run_id, course_id, kind, state, run_env)
    SELECT CONCAT(LEFT(MD5('$COURSE'), 12), LPAD(HEX(seq), 12, '0')), 0,
    CONCAT('$COURSE-', (seq - 1) % $K), 1, 0, '{}' FROM seq_1_to_$N
    ORDER BY seq;"
sql "SELECT id, public_id, course_id FROM grading_job
    WHERE course_id LIKE '$COURSE-%' AND state = 0 ORDER BY id" \
    >"$DIR/sse_bench.jobs"

pids="sse:$(cat "$DIR/run/sse.pid") mysqld:$(cat "$DIR/run/mysqld.pid")"
for p in $(pgrep -P "$(cat "$DIR/nginx/nginx.pid")"); do
	pids="$pids nginx:$p"
done

ulimit -n "$(ulimit -Hn)"
out=$(SSE_BENCH_COURSES=$K SSE_BENCH_TOKEN=$TOKEN SSE_BENCH_PIDS=$pids \
    "$BIN" "$DIR/sse_bench.jobs" "$N" "$CLAIMS") || rc=$?
grep -v '^sse_' <<<"$out"
if [ -n "$RESULTS" ]; then
	grep '^sse_' <<<"$out" >>"$RESULTS"
fi
exit "${rc:-0}"
