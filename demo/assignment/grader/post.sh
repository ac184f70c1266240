# Post-processing: the run's gradebook frame.  This job runs without a
# network and sees no other job's files, so it cannot read the student
# jobs' scores: it publishes the roster of record (from its env, given
# when the run was started) with the suite and the maximum, and the
# course's client (demo/watch.py) fills the scores in from the student
# jobs' logs (GET /api/v1/grading_job_log), checking that every student
# on this roster has exactly one score.
# shellcheck source=lib.sh
. /grader/grader/lib.sh

roster=()
for s in ${ROSTER:-}; do
	case $s in
	*[!A-Za-z0-9_.-]*) say "bad student id on the roster: $s"; exit 1 ;;
	esac
	roster+=("$s")
done
if [ ${#roster[@]} -eq 0 ]; then
	say "empty roster (ROSTER)"
	exit 1
fi
say "== post-processing: run ${GRADING_RUN_ID:-?}, ${#roster[@]} students, suite $SUITE =="
list=
for s in "${roster[@]}"; do
	list="${list:+$list, }\"$s\""
done
say "BROADWAY-ROSTER {\"job\": \"$JOB\", \"run\": \"${GRADING_RUN_ID:-}\"," \
    "\"suite\": \"$SUITE\", \"max\": $(max_points), \"students\": [$list]}"
