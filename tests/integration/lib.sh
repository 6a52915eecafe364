# shellcheck shell=bash
# Helpers for tests/integration/test_*.sh (sourced). Each test script runs with the testbed's
# environment (scripts/testbed.sh env) exported by tests/integration/run.sh, so it can also be run
# by hand:  eval "$(scripts/testbed.sh env)"; bash tests/integration/test_doctor.sh
#
#   check DESC CMD...          run CMD; count and print "ok"/"FAIL" (never exits)
#   check_eq DESC WANT GOT     string equality
#   check_ge DESC MIN GOT      integer GOT >= MIN
#   check_contains DESC NEEDLE HAYSTACK
#   wait_for DESC SECONDS CMD...  poll CMD (every 0.1 s) until it succeeds or SECONDS pass; counts as a check
#   json_get JSON EXPR         python3 expression over `d` (the parsed JSON), printed (bools as true/false)
#   kctl ARGS...               kubectl with the testbed kubeconfig (admin); kctl_user: as the unprivileged user
#   api PATH [CURL ARGS...]    curl the apiserver with the admin token and CA (prints the body)
#   api_user PATH ...          same with the unprivileged user's token
#   report / exited PID / abort [DESC DETAIL]   shared by the capture tests (see below)
#   audit_since EPOCH_SECONDS  the audit log's lines from that second on
#   finish                     print "N passed, M failed" and exit 1 when anything failed

KAPIMON_ROOT=${KAPIMON_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KAPIMON=${KAPIMON:-$KAPIMON_ROOT/kapimon}
T_PASS=0
T_FAIL=0
# `... | report` must count in this shell, not in a pipeline subshell (scripts run without job
# control, so lastpipe applies)
shopt -s lastpipe
T_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

_ok() {
	T_PASS=$((T_PASS + 1))
	echo "  ok    $T_NAME: $1"
}

_fail() {
	T_FAIL=$((T_FAIL + 1))
	echo "  FAIL  $T_NAME: $1"
	[ -z "${2:-}" ] || echo "$2" | sed 's/^/        | /' | head -n 20
}

check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then _ok "$desc"; else _fail "$desc" "$out"; fi
}

check_eq() {
	if [ "$3" = "$2" ]; then _ok "$1"; else _fail "$1" "want '$2', got '$3'"; fi
}

check_ge() {
	if [[ $3 =~ ^-?[0-9]+$ ]] && (($3 >= $2)); then _ok "$1 ($3 >= $2)"; else _fail "$1" "want >= $2, got '$3'"; fi
}

check_contains() {
	if [[ $3 == *"$2"* ]]; then _ok "$1"; else _fail "$1" "'$2' not found in: ${3:0:400}"; fi
}

# Bounded polling for a condition (never a bare sleep as synchronisation).
wait_for() {
	local desc=$1 secs=$2 deadline
	shift 2
	deadline=$(($(date +%s%N) / 1000000 + secs * 1000))
	while :; do
		if "$@" >/dev/null 2>&1; then
			_ok "$desc"
			return 0
		fi
		if (($(date +%s%N) / 1000000 >= deadline)); then
			_fail "$desc" "condition still false after ${secs}s: $*"
			return 1
		fi
		sleep 0.1
	done
}

json_get() {
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2], {"d": d, "any": any, "all": all, "len": len})
print(json.dumps(v) if isinstance(v, (bool, type(None), dict, list)) else v)
' "$1" "$2"
}

kctl() { kubectl --kubeconfig "$KAPIMON_KUBECONFIG" --context kapimon-testbed "$@"; }
kctl_user() { kubectl --kubeconfig "$KAPIMON_KUBECONFIG" --context kapimon-testbed-alice "$@"; }

api() {
	local path=$1
	shift
	# a non-curl user agent by default: the apiserver pretty-prints JSON for curl (see build-apiserver.sh)
	curl -sS -A kapimon-test --cacert "$KAPIMON_CA" -H "Authorization: Bearer $KAPIMON_TOKEN" "$@" "$KAPIMON_APISERVER_URL$path"
}

api_user() {
	local path=$1
	shift
	curl -sS -A kapimon-test --cacert "$KAPIMON_CA" -H "Authorization: Bearer $KAPIMON_USER_TOKEN" "$@" "$KAPIMON_APISERVER_URL$path"
}

# report: turn "ok<TAB>desc" / "FAIL<TAB>desc<TAB>detail" lines (from a python checker) into checks;
# other lines are printed
report() {
	local st desc detail
	while IFS=$'\t' read -r st desc detail; do
		case $st in
		ok) _ok "$desc" ;;
		FAIL) _fail "$desc" "$detail" ;;
		*) echo "$st${desc:+ $desc}${detail:+ $detail}" ;;
		esac
	done
}

# audit_since EPOCH_SECONDS: the testbed's audit log lines received at or after that second (the log
# holds every earlier test too), on stdout
audit_since() {
	python3 - "$KAPIMON_AUDIT_LOG" "$1" <<'PY'
import datetime, json, sys
t0 = datetime.datetime.fromtimestamp(int(sys.argv[2]), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
for line in open(sys.argv[1]):
    try:
        if json.loads(line).get("requestReceivedTimestamp", "") >= t0:
            sys.stdout.write(line)
    except ValueError:
        pass
PY
}

# exited PID: the process is gone (or a zombie)
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# abort [DESC DETAIL]: a step the rest depends on failed: count it, print the totals and stop
abort() {
	[ -z "${1:-}" ] || _fail "$1" "${2:-}"
	echo "$T_NAME: aborted${OUT:+ (artefacts in $OUT)}"
	finish
	exit 1
}

finish() {
	echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}
