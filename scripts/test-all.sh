#!/bin/bash
# Unit tests (the binaries given), the integration suite, then the
# README's walkthrough on its own fresh stack, then the deploy test
# (make install, the units, docs/deploy.md: tests/deploy/run.py), then
# exactly one final line "N passed, N failed" summed over all four.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
passed=0
failed=0

# Add the "N passed, N failed" of the last line of $out; a missing
# summary is one failure.
add() {
	local last
	last=$(tail -n 1 "$out")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
	else
		echo "FAIL $1: no summary line"
		failed=$((failed + 1))
	fi
}

echo "==== unit tests"
"$ROOT/scripts/run-unit.sh" "$@" 2>&1 | tee "$out"
add unit
echo "==== integration tests"
"$ROOT/scripts/run-integration.sh" 2>&1 | tee "$out"
add integration
echo "==== README walkthrough"
python3 "$ROOT/tests/readme/walkthrough.py" 2>&1 | tee "$out"
add readme
echo "==== deploy tests (make install, systemd units, docs/deploy.md)"
python3 "$ROOT/tests/deploy/run.py" 2>&1 | tee "$out"
add deploy
echo "==== total"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
