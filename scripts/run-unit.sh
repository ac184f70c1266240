#!/bin/bash
# Run unit test binaries: print each one's output, then one line
# "N passed, N failed" summed from each binary's last line.  A binary
# that crashes or ends without a summary counts as one failure.
set -uo pipefail

passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for bin in "$@"; do
	echo "== $bin"
	if [ ! -x "$bin" ]; then
		echo "FAIL $bin: not built"
		failed=$((failed + 1))
		continue
	fi
	"$bin" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	last=$(tail -n 1 "$out")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		if [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
			echo "FAIL $bin: exit status $rc with no failed check"
			failed=$((failed + 1))
		fi
	else
		echo "FAIL $bin: exit status $rc without a summary line"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
