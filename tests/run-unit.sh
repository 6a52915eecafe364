#!/usr/bin/env bash
# Run every cmocka unit test binary given on the command line. Prints each program's output, then the
# totals: programs passed/failed, and test cases passed/failed/skipped (a skipped case is never counted
# as passed: the skipped cases are listed with the reason their program printed, e.g. a real Go binary
# that is absent, see tests/unit/realbin.h). Exits non-zero when any program failed (a failed case, a
# crash, or a timeout: KAPIMON_TEST_TIMEOUT seconds per program, default 900).
set -u
pass=0 fail=0 failed=() c_ok=0 c_fail=0 c_skip=0 skipped=() reasons=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
buf=()
command -v stdbuf >/dev/null && buf=(stdbuf -oL -eL) # keep stdout and stderr in order in the log
for t in "$@"; do
	name=$(basename "$t")
	timeout -k 10 "${KAPIMON_TEST_TIMEOUT:-900}" "${buf[@]}" "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	# each "[ RUN      ] NAME" is followed by its result line: OK, FAILED, SKIPPED or ERROR
	while IFS=$'\t' read -r st tc; do
		case $st in
		OK) c_ok=$((c_ok + 1)) ;;
		SKIPPED) c_skip=$((c_skip + 1)) skipped+=("$name:$tc") ;;
		*) c_fail=$((c_fail + 1)) ;;
		esac
	done < <(awk '/^\[ RUN      \] /{ cur = substr($0, 14); next }
		cur != "" && /^\[ *(OK|FAILED|SKIPPED|ERROR) *\] / {
			st = $0; sub(/^\[ */, "", st); sub(/ *\].*/, "", st); print st "\t" cur; cur = "" }' "$log")
	while IFS= read -r r; do reasons+=("$name: $r"); done < <(grep -E '^realbin: SKIP ' "$log")
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed+=("$name$([ "$rc" = 124 ] && echo ' (timeout)')")
	fi
done
echo "unit test programs: $pass passed, $fail failed"
echo "unit test cases: $c_ok passed, $c_fail failed, $c_skip skipped"
if [ "$c_skip" -gt 0 ]; then
	echo "skipped (not run, not counted as passed): ${skipped[*]}"
	for r in "${reasons[@]}"; do echo "  $r"; done
fi
[ "$fail" -eq 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }
