# Student stage 1 of 2: unpack the student's files from the job env
# ($SUBMISSION_TGZ_B64, a base64 tar.gz) and compile them with the
# course's flags.  The program is left in /job/rpn for the test stage
# (the stages of one job share /job).
# shellcheck source=lib.sh
. /grader/grader/lib.sh

SRC=/tmp/src

say "== build: $STUDENT (job $JOB, suite $SUITE) =="
if [ -z "${SUBMISSION_TGZ_B64:-}" ]; then
	say "no submission in the job env (SUBMISSION_TGZ_B64)"
	score_line 0 failed "no submission"
	exit 1
fi
if ! unpack_b64 "$SUBMISSION_TGZ_B64" "$SRC" 2>/tmp/tar.log; then
	head -c 4096 /tmp/tar.log >&2
	say "the submission is not a valid .tar.gz"
	score_line 0 failed "bad submission archive"
	exit 1
fi
say "files: $(cd "$SRC" && find . -type f -printf '%P (%s bytes) ' | head -c 2000)"
say "gcc -std=gnu11 -O2 -Wall -Wextra -o rpn *.c -lm"
if ! compile "$SRC"; then
	# Diagnostics go to stderr, for the student; the verdict to stdout.
	head -c 16384 "$SRC.cc.log" >&2
	say "compile error ($(grep -c ': error:' "$SRC.cc.log") errors; see stderr)"
	score_line 0 failed "compile error"
	exit 1
fi
n=$(grep -c ': warning:' "$SRC.cc.log")
if [ "$n" -gt 0 ]; then
	head -c 8192 "$SRC.cc.log" >&2
fi
if [ ! -f "$SRC/rpn" ] || [ -L "$SRC/rpn" ]; then
	say "gcc left no program"
	score_line 0 failed "compile error"
	exit 1
fi
install -o root -g root -m 0755 "$SRC/rpn" /job/rpn
say "compiled: $(stat -c %s /job/rpn) bytes, $n warning(s)"
