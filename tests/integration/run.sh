#!/usr/bin/env bash
# Integration tests: bring the loopback testbed up once, run every tests/integration/test_*.sh with
# its environment, print "N passed, M failed" (checks) and exit non-zero on any failure.
#
#   tests/integration/run.sh [NAME...]   only the test_NAME.sh scripts given (e.g. doctor)
#
# Skips (printing what and why, exit 0) when not root, when BPF programs cannot be loaded, or when
# the testbed cannot come up -- except under CI=true as root, where the latter two are failures
# (KAPIMON_ALLOW_SKIP=1 permits skipping anyway).
# KAPIMON_KEEP_TESTBED=1 leaves the testbed running afterwards (as does a testbed that was already up
# before: it is used, never torn down); KAPIMON_TEST_TIMEOUT (default 900 s) bounds each test script.
# Host safety: the testbed runs on its own checked ports (scripts/testbed.sh refuses ports in use and
# the control-plane ports); every test attaches kapimon with --pid to the testbed's apiserver (or its own
# esbuild), never to "the" kube-apiserver found by name, and talks only to the testbed's URLs.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
TESTBED=$ROOT/scripts/testbed.sh
KAPIMON=$ROOT/kapimon
export KAPIMON KAPIMON_ROOT=$ROOT
strict=false
if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && [ "${KAPIMON_ALLOW_SKIP:-0}" != 1 ]; then
	strict=true
fi

skip() {
	echo "integration: SKIPPED all integration tests: $*"
	if $strict; then
		echo "integration: CI=true and running as root: refusing to skip (KAPIMON_ALLOW_SKIP=1 to allow)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "0 passed, 0 failed (skipped)"
	exit 0
}

if [ "$(id -u)" != 0 ]; then
	strict=false
	skip "not root (kapimon loads BPF programs; run 'sudo make integration-test')"
fi
[ -x "$KAPIMON" ] || skip "$KAPIMON is not built (run make)"

# Can BPF programs be loaded and attached here? kapimon doctor really loads and attaches minimal
# programs (uprobe, tracepoint, ring buffer); it needs no testbed.
doctor_json=$("$KAPIMON" doctor -j 2>/dev/null)
can_run=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["can_run"])' "$doctor_json" 2>/dev/null)
if [ "$can_run" != True ]; then
	"$KAPIMON" doctor 2>&1 | sed 's/^/  | /'
	skip "kapimon doctor says BPF tracing is not possible here (see above)"
fi

t0=$(date +%s)
# A testbed that was already up (someone's `scripts/testbed.sh up`) is used and left running: the tests
# only tear down what they started.
was_up=false
"$TESTBED" status >/dev/null 2>&1 && was_up=true
if ! "$TESTBED" up; then
	skip "the testbed (scripts/testbed.sh up) could not come up; logs in ${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}"
fi
echo "integration: testbed ready in $(($(date +%s) - t0)) s"

teardown() {
	if $was_up; then
		echo "integration: the testbed was already up before the tests: leaving it running"
	elif [ "${KAPIMON_KEEP_TESTBED:-0}" = 1 ]; then
		echo "integration: KAPIMON_KEEP_TESTBED=1: leaving the testbed running ($TESTBED down to stop it)"
	else
		"$TESTBED" down || echo "integration: warning: testbed teardown failed"
	fi
}
trap teardown EXIT

env_out=$("$TESTBED" env) || {
	echo "integration: scripts/testbed.sh env failed"
	echo "0 passed, 1 failed"
	exit 1
}
eval "$env_out"

scripts=()
if [ $# -gt 0 ]; then
	for n in "$@"; do
		n=${n#test_}
		n=${n%.sh}
		scripts+=("tests/integration/test_$n.sh")
	done
else
	for s in tests/integration/test_*.sh; do [ -e "$s" ] && scripts+=("$s"); done
fi

pass=0 fail=0 failed_scripts=()
for s in "${scripts[@]}"; do
	echo "== $s"
	if [ ! -f "$s" ]; then
		echo "  FAIL  $s does not exist"
		fail=$((fail + 1))
		failed_scripts+=("$s")
		continue
	fi
	out=$(mktemp)
	timeout -k 10 "${KAPIMON_TEST_TIMEOUT:-900}" bash "$s" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	# The script's own "N passed, M failed" line gives its check counts.
	line=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	elif [ "$rc" -eq 0 ]; then
		p=1 f=0 # a script without check counts counts as one check
	else
		p=0 f=0
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# died (or timed out, rc 124) without reporting a failed check: count the script itself
		echo "  FAIL  $s exited with status $rc$([ "$rc" = 124 ] && echo ' (timeout)')"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$f" -eq 0 ] || failed_scripts+=("$s")
done

echo "integration: ${#scripts[@]} test scripts; failed: ${failed_scripts[*]:-none}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
