# Pre-processing: check the test suite before any student is graded.
# The reference solution ($REFERENCE_TGZ_B64, only in this job's env) is
# compiled and run on every test with the same limits as the students;
# if it fails one, this job fails and so does the run: no student job
# is ever created.  Nothing passes from this job to the others (each job
# has its own /job): the suite travels to every job in the config's env,
# and its digest, printed here, is printed by every student job too.
# shellcheck source=lib.sh
. /grader/grader/lib.sh
require_pid1

ntests=0
problems=()	# what is wrong with the suite

suite_line() {
	local p list=
	for p in "${problems[@]}"; do
		list="${list:+$list, }\"$p\""
	done
	say "BROADWAY-SUITE {\"job\": \"$JOB\", \"suite\": \"$SUITE\"," \
	    "\"tests\": $ntests, \"max\": $(max_points), \"problems\": [$list]}"
}

say "== pre-processing: checking suite $SUITE against the reference solution =="
for f in "$TESTS"/*.in; do
	n=${f##*/}
	n=${n%.in}
	[ -f "$TESTS/$n.out" ] || problems+=("no $n.out")
	grep -q "^${n}[[:space:]]" "$TESTS/POINTS" || problems+=("$n not in POINTS")
done
if ! unpack_b64 "${REFERENCE_TGZ_B64:-}" /tmp/ref 2>/tmp/tar.log ||
    ! compile /tmp/ref; then
	cat /tmp/tar.log /tmp/ref.cc.log >&2 2>/dev/null
	problems+=("the reference solution does not build")
	suite_line
	exit 1
fi
install -d -m 0700 /tmp/out
# Read up front: kill_strays kills every other process, a reader too.
mapfile -t entries < <(test_list)
for entry in "${entries[@]}"; do
	read -r name pts <<<"$entry"
	run_test "$name" /tmp/ref/rpn /tmp/out
	printf '%-16s %3d pts  %-24s %5d ms  %s\n' "$name" "$pts" "$T_DETAIL" \
	    "$T_MS" "$(wc -l <"$TESTS/$name.in") lines"
	[ "$T_STATUS" = ok ] || problems+=("the reference fails $name: $T_DETAIL")
	ntests=$((ntests + 1))
done
suite_line
if [ ${#problems[@]} -gt 0 ]; then
	say "the suite is broken: not grading anyone"
	exit 1
fi
say "suite $SUITE ready: $ntests tests, $(max_points) points"
