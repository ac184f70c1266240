#!/bin/bash
# `make fuzz`: each libFuzzer harness for FUZZ_SECONDS from its committed
# corpus (new inputs go to a temp dir, never into the tree), then the
# replay of the bad-input catalogue.  A crash, leak, UB or failed property
# fails that harness; the input is kept in $FUZZ_BUILD/artifacts/.  Ends
# with "N passed, N failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

B=${FUZZ_BUILD:-build-fuzz}
S=${FUZZ_SECONDS:-20}
HARNESSES=(config capture wire)
passed=0
failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$B/artifacts"

# halt_on_error: UBSan's reports must fail the run, not scroll past.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

for h in "${HARNESSES[@]}"; do
	bin=$B/fuzz-$h
	log=$work/$h.log
	mkdir -p "$work/$h"
	dict=()
	[ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
	echo "== fuzz-$h: ${S}s from tests/fuzz/corpus/$h ($(ls tests/fuzz/corpus/$h | wc -l) seeds)"
	"$bin" -max_total_time="$S" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$B/artifacts/$h-" "${dict[@]}" \
	    "$work/$h" "tests/fuzz/corpus/$h" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && grep -q '^#[0-9]*.*DONE' "$log"; then
		echo "ok fuzz-$h: ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}," \
		    "$(ls "$work/$h" | wc -l) new inputs"
		passed=$((passed + 1))
	else
		tail -n 40 "$log"
		echo "FAIL fuzz-$h: exit status $rc; input kept as" \
		    "$(ls -t "$B/artifacts/$h-"* 2>/dev/null | head -n 1)"
		echo "  (replay it: $bin FILE; once fixed, add it to tests/fuzz/corpus/$h/)"
		failed=$((failed + 1))
	fi
done

echo "== fuzz-replay: tests/fuzz/bad-inputs.txt"
"$B/fuzz-replay" tests/fuzz/bad-inputs.txt 2>&1 | grep -v '^open line' | tee "$work/replay.log"
rc=${PIPESTATUS[0]}
last=$(tail -n 1 "$work/replay.log")
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	passed=$((passed + BASH_REMATCH[1]))
	failed=$((failed + BASH_REMATCH[2]))
	[ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && failed=$((failed + 1))
else
	echo "FAIL fuzz-replay: exit status $rc without a summary line"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
