#!/usr/bin/env bash
# Run every tests/cli/*.sh (CLI tests on recorded/synthetic data: no root, no testbed). Each prints
# its own checks and a final "N passed, M failed" line and exits non-zero on failure. Prints the
# total "N passed, M failed" and exits non-zero when any script failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
export KAPIMON=${KAPIMON:-$ROOT/kapimon} KAPIMON_ROOT=$ROOT

pass=0 fail=0 n=0 failed=()
for s in tests/cli/*.sh; do
	[ -f "$s" ] || continue
	n=$((n + 1))
	echo "== $s"
	out=$(mktemp)
	timeout -k 10 "${KAPIMON_TEST_TIMEOUT:-900}" bash "$s" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	p=0 f=0
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	elif [ "$rc" -eq 0 ]; then
		p=1 # a script without check counts counts as one check
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "  FAIL  $s exited with status $rc$([ "$rc" = 124 ] && echo ' (timeout)') without a failed check"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f))
	[ "$f" -eq 0 ] || failed+=("$s")
done
[ "$n" -gt 0 ] || echo "cli: no tests/cli/*.sh scripts"
echo "cli: $n test scripts; failed: ${failed[*]:-none}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
