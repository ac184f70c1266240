#!/bin/bash
# Combined-load benchmark (issue 10): simulated workers, job streams,
# status and position polling and a course starting a run every second,
# all at once for LOAD_SECONDS (see load_bench.c), then the database is
# asked whether every job ended exactly once.
#
#   tests/bench/load_bench.sh [STACK_DIR [RESULTS_FILE]]
#
# Without STACK_DIR a fresh stack is started in a temporary directory
# and stopped afterwards.  RESULTS_FILE gets the "load.* value" lines.
# Environment: LOAD_SECONDS [60], LOAD_WORKERS [64], LOAD_JOBS [10000],
# LOAD_STREAMS [2000], LOAD_POLLERS [4], LOAD_POLL_MS [25],
# LOAD_RUN_STUDENTS [20], LOAD_FLOOR_JOBS [3000], LOAD_DRAIN_S [600],
# LOAD_JOB_MS [0], BUILD [build].
# Exit status 1 if anything failed (the counts say what); the figures
# are written either way.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export BUILD=${BUILD:-build}
DIR=${1:-}
RESULTS=${2:-}
OWN=0

cleanup() {
	if [ $OWN -eq 1 ]; then
		"$ROOT/scripts/stack.sh" down "$DIR" >/dev/null 2>&1 || true
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT

if [ -z "$DIR" ]; then
	DIR=$(mktemp -d /tmp/load-bench.XXXXXX)
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

TAG=$(openssl rand -hex 3)
A=load-a-$TAG
B=load-b-$TAG
args=()
for c in "$A" "$B"; do
	"$BROADWAY_ADMIN" course-add "$c" >/dev/null
	args+=("$c" "$("$BROADWAY_ADMIN" token-add admin "$c" | tail -n 1)"
	    "$("$BROADWAY_ADMIN" token-add query "$c" | tail -n 1)")
done

# Where the logs stand now: only what this run adds is counted.
declare -A mark
for f in api sse error; do
	mark[$f]=$(($(wc -l <"$DIR/logs/$f.log" 2>/dev/null || echo 0) + 1))
done

ulimit -n "$(ulimit -Hn)"
OUT=$DIR/load_bench.out
rc=0
"$ROOT/$BUILD/bench-load" "$BROADWAY_URL" "$BROADWAY_CA" \
    "$BROADWAY_CLUSTER_TOKEN" "${args[@]}" >"$OUT" || rc=$?

# The database's word: ended exactly once, each with one end event.
{
	echo "load.db.jobs $(sql "SELECT COUNT(*) FROM grading_job
	    WHERE course_id IN ('$A', '$B')")"
	echo "load.db.not_ended $(sql "SELECT COUNT(*) FROM grading_job
	    WHERE course_id IN ('$A', '$B') AND state NOT IN (2, 3)")"
	echo "load.db.infra_failures $(sql "SELECT COUNT(*) FROM grading_job
	    WHERE course_id IN ('$A', '$B') AND infra_failure <> 0")"
	echo "load.db.ended_twice $(sql "SELECT COUNT(*) FROM (SELECT job_id
	    FROM job_event WHERE course_id IN ('$A', '$B') AND state IN (2, 3)
	    GROUP BY job_id HAVING COUNT(*) > 1) t")"
	echo "load.db.end_event_missing $(sql "SELECT COUNT(*) FROM grading_job j
	    WHERE j.course_id IN ('$A', '$B') AND j.state IN (2, 3) AND NOT EXISTS
	    (SELECT 1 FROM job_event e WHERE e.job_id = j.id AND e.state IN (2, 3))")"
	echo "load.db.attempt_over_1 $(sql "SELECT COUNT(*) FROM grading_job
	    WHERE course_id IN ('$A', '$B') AND attempt > 1")"
} >>"$OUT"
for k in not_ended infra_failures ended_twice end_event_missing; do
	[ "$(awk -v k="load.db.$k" '$1 == k {print $2}' "$OUT")" = 0 ] || rc=1
done
# The server's own complaints while it ran: warnings and errors of the
# FastCGI pool and broadway-sse, nginx's error log, sanitizer reports.
for f in api sse error; do
	n=$(tail -n +"${mark[$f]}" "$DIR/logs/$f.log" 2>/dev/null |
	    grep -c 'level=warn\|level=error\|level=fatal\|Sanitizer\|\[error\]\|\[crit\]\|\[alert\]' || true)
	echo "load.log.$f ${n:-0}" >>"$OUT"
	tail -n +"${mark[$f]}" "$DIR/logs/$f.log" 2>/dev/null |
	    grep 'level=warn\|level=error\|level=fatal\|Sanitizer\|\[error\]\|\[crit\]\|\[alert\]' |
	    head -n 5 | sed "s/^/load: $f.log: /" >&2 || true
done
echo "load.failed $rc" >>"$OUT"
cat "$OUT"
if [ -n "$RESULTS" ]; then
	grep '^load\.' "$OUT" >>"$RESULTS"
fi
exit "$rc"
