#!/bin/bash
# make bench: every benchmark in one run on one fresh stack, each figure
# printed with its ratio to a floor measured in the same run, and the
# whole set written to BENCHMARKS.md with the machine and the date.
#
# Environment: BUILD [build], BENCH_SECONDS [10] (each wrk run),
# BENCH_ONLY (space-separated subset of: api dispatch sse worker load),
# BENCH_DISPATCH_JOBS [10000], BENCH_KEEP=1 keeps the stack directory,
# LOAD_SECONDS [60] and the other LOAD_* of tests/bench/load_bench.sh,
# BENCH_LOAD_ASAN=1 runs the combined load once more on a second stack
# built with SANITIZE=1 (build-san/, `make BENCH_LOAD_ASAN=1 bench`
# builds it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD=${BUILD:-build}
SECONDS_EACH=${BENCH_SECONDS:-10}
ONLY=${BENCH_ONLY:-api dispatch sse worker load}
JOBS=${BENCH_DISPATCH_JOBS:-10000}
DIR=$(mktemp -d /tmp/broadway-bench.XXXXXX)
RES=$DIR/results.txt
FLOOR_PID=
FAILED=		# benches that failed: the report is written, the exit is 1

note() { printf 'bench: %s\n' "$*" >&2; }
want() { case " $ONLY " in *" $1 "*) return 0;; esac; return 1; }

cleanup() {
	[ -n "$FLOOR_PID" ] && kill "$FLOOR_PID" 2>/dev/null || true
	"$ROOT/scripts/stack.sh" down "$DIR" >/dev/null 2>&1 || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		note "kept $DIR"
	else
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT

for t in wrk; do
	command -v $t >/dev/null || { note "$t missing (scripts/deps.sh installs it)"; exit 1; }
done
: >"$RES"
{
	echo "meta.date $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "meta.cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//; s/ /_/g')"
	echo "meta.cores $(nproc)"
	echo "meta.mem_gib $(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
	echo "meta.kernel $(uname -r)"
	echo "meta.load_before $(cut -d' ' -f1 /proc/loadavg)"
} >>"$RES"

note "starting a fresh stack in $DIR"
BROADWAY_FCGI_CHILDREN=${BROADWAY_FCGI_CHILDREN:-4} "$ROOT/scripts/stack.sh" up "$DIR" >/dev/null
# shellcheck disable=SC1091
. "$DIR/stack.env"
export BROADWAY_DB_SOCKET BROADWAY_DB_USER BROADWAY_DB_PASSWORD BROADWAY_DB_NAME

# The floor: the same nginx, TLS and pool size, one PK SELECT per request.
start_floor() {
	local n=${BROADWAY_FCGI_CHILDREN:-4} i
	setsid spawn-fcgi -n -s "$DIR/run/floor.sock" -M 0666 -- \
	    /usr/bin/multiwatch -f "$n" -- "$ROOT/$BUILD/bench-floor" \
	    2>>"$DIR/logs/floor.log" &
	FLOOR_PID=$!
	cat >"$DIR/nginx/conf/extra/bench-floor.conf" <<CONF
location /bench/floor/ {
	include		/etc/nginx/fastcgi_params;
	fastcgi_pass	unix:$DIR/run/floor.sock;
}
CONF
	kill -HUP "$(cat "$DIR/nginx/nginx.pid")"
	for i in $(seq 100); do
		if curl -sf --cacert "$BROADWAY_CA" \
		    "https://127.0.0.1:$BROADWAY_HTTPS_PORT/bench/floor/demo" \
		    | grep -q '"found":true'; then
			return 0
		fi
		sleep 0.1
	done
	note "the floor endpoint did not come up"; exit 1
}

rss_of() {	# "name pid..." -> rss lines
	local name=$1 p; shift
	for p in "$@"; do
		awk -v n="$name" -v p="$p" '/VmRSS/ {print "mem." n "." p ".rss_kb " $2}
		    /VmHWM/ {print "mem." n "." p ".hwm_kb " $2}' "/proc/$p/status" 2>/dev/null || true
	done
}

if want api; then
	start_floor
	note "API: floor and small reads (wrk, ${SECONDS_EACH}s each)"
	python3 "$ROOT/tests/bench/api_bench.py" "$DIR/stack.env" "$RES" "$SECONDS_EACH"
fi

if want dispatch; then
	note "dispatch: 64 simulated workers, $JOBS no-op jobs"
	"$BROADWAY_ADMIN" course-add dispatch >/dev/null
	tok=$("$BROADWAY_ADMIN" token-add admin dispatch | tail -n 1)
	# The simulated workers hold the nudge stream, as broadway-worker does.
	DISPATCH_NUDGE=1 "$ROOT/$BUILD/bench-dispatch" "$BROADWAY_URL" "$BROADWAY_CA" \
	    "$BROADWAY_CLUSTER_TOKEN" "$tok" dispatch 64 "$JOBS" | tee -a "$RES"
	mp=$(cat "$DIR/run/api.pid")
	# shellcheck disable=SC2046
	rss_of fcgi $(pgrep -P "$mp") >>"$RES"
	rss_of sse "$(cat "$DIR/run/sse.pid")" >>"$RES"
fi

if want sse && [ -x "$ROOT/tests/bench/sse_bench.sh" ]; then
	note "SSE: ${SSE_BENCH_STREAMS:-5000} streams"
	"$ROOT/tests/bench/sse_bench.sh" "$DIR" "$RES" || FAILED="$FAILED sse"
fi

if want worker && [ -x "$ROOT/tests/bench/worker_bench.sh" ]; then
	note "worker: podman overhead and throughput"
	"$ROOT/tests/bench/worker_bench.sh" "$DIR" "$RES" || FAILED="$FAILED worker"
fi

# Last: it leaves thousands of finished jobs behind.  Its failures are
# counted into the report, not a reason to lose the other figures.
if want load; then
	note "combined load: ${LOAD_SECONDS:-60}s of workers, streams, polling and runs"
	"$ROOT/tests/bench/load_bench.sh" "$DIR" "$RES" >&2 ||
	    FAILED="$FAILED load"
	mp=$(cat "$DIR/run/api.pid")
	# shellcheck disable=SC2046
	rss_of load-fcgi $(pgrep -P "$mp") >>"$RES"
	rss_of load-sse "$(cat "$DIR/run/sse.pid")" >>"$RES"
fi

if want load && [ "${BENCH_LOAD_ASAN:-0}" = 1 ]; then
	note "combined load under ASan+UBSan, on a second stack (build-san)"
	"$ROOT/scripts/stack.sh" down "$DIR" >/dev/null 2>&1 || true
	BUILD=build-san BROADWAY_FCGI_CHILDREN=${BROADWAY_FCGI_CHILDREN:-4} \
	    "$ROOT/tests/bench/load_bench.sh" "" "$DIR/asan.txt" >&2 ||
	    FAILED="$FAILED load-asan"
	sed 's/^/asan./' "$DIR/asan.txt" >>"$RES"
fi

echo "meta.load_after $(cut -d' ' -f1 /proc/loadavg)" >>"$RES"
python3 "$ROOT/tests/bench/report.py" "$RES" "$ROOT/BENCHMARKS.md"
note "wrote BENCHMARKS.md"
if [ -n "$FAILED" ]; then
	note "FAILED:$FAILED (see above; their counts are in BENCHMARKS.md)"
	exit 1
fi
