# Student stage 2 of 2: run every test of tests/POINTS against /job/rpn
# (built by build.sh) and score it.  A test that hits a limit (time,
# memory, processes, output) ends the grading: the later tests would only
# burn the slot the same way, and they score 0.
# shellcheck source=lib.sh
. /grader/grader/lib.sh
require_pid1

RUN=/tmp/run
OUT=/tmp/out

say "== tests: $STUDENT (job $JOB, suite $SUITE) =="
if [ ! -x /job/rpn ]; then
	say "no program in /job (did the build stage run?)"
	score_line 0 failed "no program"
	exit 1
fi
install -d -o $STUDENT_UID -g $STUDENT_UID -m 0700 "$RUN"
install -d -m 0700 "$OUT"
install -m 0755 /job/rpn "$RUN/rpn"
say "limits: ${TEST_TIMEOUT} s and $((OUTPUT_MAX / 1024)) KiB of output per test;" \
    "memory $(mem_limit) and $(pids_max) processes for the stage"

score=0
stop=
declare -A failed=()	# what went wrong -> the tests it went wrong in
kinds=()		# in the order first seen
# Read up front: kill_strays kills every other process, a reader too.
mapfile -t entries < <(test_list)
for entry in "${entries[@]}"; do
	read -r name pts <<<"$entry"
	if [ -n "$stop" ]; then
		printf '%-16s %3d/%-3d %s\n' "$name" 0 "$pts" "not run"
		say "BROADWAY-RESULT {\"job\": \"$JOB\", \"test\": \"$name\"," \
		    "\"status\": \"skipped\", \"points\": 0, \"max\": $pts}"
		continue
	fi
	run_test "$name" "$RUN/rpn" "$OUT"
	got=0
	[ "$T_STATUS" = ok ] && got=$pts
	score=$((score + got))
	printf '%-16s %3d/%-3d %-40s %5d ms\n' "$name" "$got" "$pts" \
	    "$T_DETAIL" "$T_MS"
	say "BROADWAY-RESULT {\"job\": \"$JOB\", \"test\": \"$name\"," \
	    "\"status\": \"$T_STATUS\", \"points\": $got, \"max\": $pts," \
	    "\"ms\": $T_MS}"
	case $T_STATUS in
	ok)
		continue ;;
	wrong)
		# Feedback: the first lines that differ (indented, so no
		# line of the program's output can start a log line).
		diff --label expected --label got -u "$TESTS/$name.out" \
		    "$OUT/$name.out" | sed -n '3,14s/^/      /p' | cut -c 1-120 ;;
	timeout | oom | pids | output)
		stop=1 ;;
	esac
	if [ -z "${failed[$T_DETAIL]+set}" ]; then
		kinds+=("$T_DETAIL")
		failed[$T_DETAIL]=$name
	else
		failed[$T_DETAIL]+=", $name"
	fi
done

max=$(max_points)
if [ $score -eq "$max" ]; then
	say "all tests passed: $score/$max"
	score_line "$score" passed "all tests passed"
	exit 0
fi
failures=
for k in "${kinds[@]}"; do
	failures="${failures:+$failures; }$k in ${failed[$k]}"
done
say "score $score/$max: $failures"
score_line "$score" failed "$failures"
exit 1
