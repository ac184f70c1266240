# Shared by the stage scripts of the demo assignment (pre.sh, build.sh,
# test.sh, post.sh).  Every stage's entrypoint unpacks the assignment
# bundle ($ASSIGNMENT_TGZ_B64, from the config's global env) into
# /grader and runs one of them with bash as PID 1 of the container.
#
# Machine-readable lines go to stdout and start with BROADWAY-; they
# carry the job id so that no other text could pass for them.  A
# student's program never writes to the stage's stdout or stderr: its
# output goes to a capped file, its stderr to /dev/null.

# shellcheck disable=SC2034  # T_* are read by the stage scripts
set -u
export LC_ALL=C

G=/grader
# The tests and their expected outputs are for the grader's eyes: the
# student's code runs as nobody and must not read them.
chmod 0700 "$G"
TESTS=$G/tests
STUDENT_UID=65534		# nobody: the student's code never runs as root
TEST_TIMEOUT=${TEST_TIMEOUT:-2}		# seconds per test
OUTPUT_MAX=${OUTPUT_MAX:-65536}		# bytes of stdout per test
BUILD_TIMEOUT=${BUILD_TIMEOUT:-20}	# seconds for gcc

JOB=${GRADING_JOB_ID:-local}
case $JOB in
'' | *[!A-Za-z0-9_.-]*) JOB=invalid ;;
esac
STUDENT=${STUDENT_ID:-}
case $STUDENT in
*[!A-Za-z0-9_.-]*) STUDENT=invalid ;;
esac

say() {
	printf '%s\n' "$*"
}

warn() {
	printf '%s\n' "$*" >&2
}

# The test suite's identity: the first 12 hex digits of the bundle's
# sha256.  Every job prints it, so a scoreboard can tell if the config
# changed in the middle of a run.
SUITE=$(base64 -d <<<"${ASSIGNMENT_TGZ_B64:-}" | sha256sum)
SUITE=${SUITE:0:12}

# kill -1 below is only safe as PID 1 of a container.
require_pid1() {
	if [ $$ -ne 1 ]; then
		warn "grader: $0 must run as PID 1 of its container"
		exit 2
	fi
}

# A command as the student user: no capabilities, no groups, an empty
# environment (the stage env holds the bundle and other students'
# business is none of theirs).
as_student() {
	setpriv --reuid=$STUDENT_UID --regid=$STUDENT_UID --clear-groups \
	    --inh-caps=-all --bounding-set=-all -- \
	    env -i PATH=/usr/bin:/bin HOME=/tmp LC_ALL=C "$@"
}

# Value of "KEY N" in a cgroup file, 0 if absent (v1 and v2 layouts).
cg_key() {
	local f k v
	for f in "$1" "$2"; do
		[ -r "$f" ] || continue
		while read -r k v; do
			if [ "$k" = "$3" ]; then
				echo "$v"
				return
			fi
		done <"$f"
	done
	echo 0
}

oom_kills() {
	cg_key /sys/fs/cgroup/memory/memory.oom_control \
	    /sys/fs/cgroup/memory.events oom_kill
}

pid_limit_hits() {
	cg_key /sys/fs/cgroup/pids/pids.events /sys/fs/cgroup/pids.events max
}

mem_limit() {
	local b
	b=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes \
	    /sys/fs/cgroup/memory.max 2>/dev/null | head -n 1)
	case $b in
	'' | max | *[!0-9]*) echo "none" ;;
	*) echo "$((b / 1048576)) MiB" ;;
	esac
}

pids_max() {
	cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null |
	    head -n 1
}

# Kill whatever a program left behind (a fork bomb's children, a process
# that daemonised).  kill -1 from PID 1 signals every other process of
# the container; it fails once none is left.  Bash, as PID 1, reaps the
# orphans it inherits.
kill_strays() {
	local i
	for ((i = 0; i < 50; i++)); do
		kill -9 -1 2>/dev/null || return 0
		sleep 0.02
	done
	warn "grader: processes survive kill -9 -1 (pids: $(cat /sys/fs/cgroup/pids/pids.current 2>/dev/null))"
}

# unpack_b64 VALUE DIR: a base64 tar.gz into DIR, as the student user
# (an archive is untrusted input: it must not write outside DIR).
unpack_b64() {
	install -d -o $STUDENT_UID -g $STUDENT_UID -m 0700 "$2"
	base64 -d <<<"$1" | as_student tar -xzf - -C "$2" --no-same-owner \
	    --no-same-permissions --warning=no-timestamp
}

# compile DIR: gcc every *.c of DIR into DIR/rpn as the student user.
# 0 on success; the diagnostics are in DIR.cc.log either way.
compile() {
	local dir=$1 rc
	(
		cd "$dir" || exit 1
		shopt -s nullglob
		set -- ./*.c		# ./: a file named -o... is no option
		if [ $# -eq 0 ]; then
			echo "no .c file in the submission"
			exit 1
		fi
		exec timeout -k 1 "$BUILD_TIMEOUT" setpriv --reuid=$STUDENT_UID \
		    --regid=$STUDENT_UID --clear-groups --inh-caps=-all \
		    --bounding-set=-all -- env -i PATH=/usr/bin:/bin HOME=/tmp \
		    LC_ALL=C gcc -std=gnu11 -O2 -Wall -Wextra -o rpn "$@" -lm
	) >"$dir.cc.log" 2>&1
	rc=$?
	[ $rc -eq 124 ] && echo "gcc ran over ${BUILD_TIMEOUT} s" >>"$dir.cc.log"
	return $rc
}

# run_test NAME BIN OUTDIR: run BIN on tests/NAME.in as the student user
# with the per-test limits.  Sets T_STATUS (ok wrong crash exit timeout
# oom pids output), T_DETAIL and T_MS.  The limits that end the grading
# (timeout oom pids output) are named from the container's cgroup
# counters: the memory and process limits themselves are the stage's,
# enforced by the kernel.  The program writes straight into a file
# capped with RLIMIT_FSIZE (SIGXFSZ past it): a pipe would keep the
# grader waiting for every process that inherited it (a fork bomb's).
# Nothing forks between the run and kill_strays: the process limit may
# still be exhausted then.
run_test() {
	local name=$1 bin=$2 out=$3/$1.out rc size t0 t1 oom0 pids0 sig
	oom0=$(oom_kills)
	pids0=$(pid_limit_hits)
	t0=${EPOCHREALTIME/./}
	# The outer 2>/dev/null silences bash's "Killed" notices.
	{
		(
			ulimit -f $((OUTPUT_MAX / 1024))
			exec timeout -k 1 "$TEST_TIMEOUT" setpriv \
			    --reuid=$STUDENT_UID --regid=$STUDENT_UID \
			    --clear-groups --inh-caps=-all --bounding-set=-all \
			    -- env -i PATH=/usr/bin:/bin HOME=/tmp LC_ALL=C "$bin"
		) <"$TESTS/$name.in" >"$out" 2>/dev/null
	} 2>/dev/null
	rc=$?
	t1=${EPOCHREALTIME/./}
	kill_strays
	T_MS=$(((t1 - t0) / 1000))
	size=$(stat -c %s "$out")
	if [ "$(oom_kills)" -gt "$oom0" ]; then
		T_STATUS=oom
		T_DETAIL="out of memory (limit $(mem_limit))"
	elif [ "$(pid_limit_hits)" -gt "$pids0" ]; then
		T_STATUS=pids
		T_DETAIL="process limit ($(pids_max)) reached: fork bomb"
	elif [ $rc -eq 124 ] || { [ $rc -eq 137 ] &&
	    [ $T_MS -ge $((TEST_TIMEOUT * 1000)) ]; }; then
		T_STATUS=timeout
		T_DETAIL="timeout (${TEST_TIMEOUT} s)"
	elif [ "$size" -ge "$OUTPUT_MAX" ] || [ $rc -eq $((128 + 25)) ]; then
		T_STATUS=output
		T_DETAIL="output limit ($((OUTPUT_MAX / 1024)) KiB) exceeded"
	elif [ $rc -gt 128 ]; then
		sig=$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))
		T_STATUS=crash
		T_DETAIL="crashed (SIG$sig)"
	elif [ $rc -ne 0 ]; then
		T_STATUS="exit"
		T_DETAIL="exit status $rc"
	elif cmp -s "$out" "$TESTS/$name.out"; then
		T_STATUS=ok
		T_DETAIL=ok
	else
		T_STATUS=wrong
		T_DETAIL="wrong answer"
	fi
}

# Tests and points from tests/POINTS, as "name points" lines.
test_list() {
	local name pts rest
	while read -r name pts rest; do
		case $name in
		'' | '#'*) continue ;;
		esac
		echo "$name $pts"
	done <"$TESTS/POINTS"
}

max_points() {
	local name pts sum=0
	while read -r name pts; do
		sum=$((sum + pts))
	done < <(test_list)
	echo $sum
}

score_line() {	# score status reason
	say "BROADWAY-SCORE {\"job\": \"$JOB\", \"student\": \"$STUDENT\"," \
	    "\"score\": $1, \"max\": $(max_points), \"status\": \"$2\"," \
	    "\"reason\": \"$3\", \"suite\": \"$SUITE\"}"
}
