#!/bin/bash
# make lint: cppcheck, then clang-tidy with the committed .clang-tidy, over
# the C files given.  Each file also sees its own folder's headers (the
# programs' private api.h, sse.h, admin.h).  Prints one line per finding
# and "lint: N findings"; exits 1 on any.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pkgs=$(pkg-config --cflags fcgi jansson libmariadb libcurl libcrypto)
incs=(-Icommon -Ifcgi -Iworker -Itests/unit)
findings=0

if ! cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
    --inline-suppr "${incs[@]}" -Ifcgi/api -Ifcgi/sse -Ifcgi/admin \
    common fcgi worker; then
	findings=$((findings + 1))
fi

for f in "$@"; do
	# shellcheck disable=SC2086  # pkg-config's flags are words
	out=$(clang-tidy --quiet "$f" -- -std=gnu11 -pthread "${incs[@]}" \
	    -I"$(dirname "$f")" -Ifcgi/sse $pkgs 2>&1)
	n=$(grep -c ': error: \|: warning: ' <<<"$out")
	if [ "$n" -gt 0 ]; then
		grep ': error: \|: warning: ' <<<"$out"
		findings=$((findings + n))
	fi
done
echo "lint: $findings findings"
[ "$findings" -eq 0 ]
