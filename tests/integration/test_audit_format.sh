#!/usr/bin/env bash
# kapimon record --format audit against the testbed (issue 12, "Audit-log compatible output"):
#   kapimon record --pid $KAPIMON_APISERVER_PID --format audit -o F  ->  await "attached"  ->
#   a mixed workload under its own user agent (lists, gets, 404s, creates, deletes, non-resource GETs,
#   a watch that ends)  ->  an end marker  ->  SIGINT  ->
#   `kapimon analyze --input audit --step 1` on F and on the real audit log of the same window, and
#   tests/integration/compare_audit_events.py: per (verb, resource) counts equal, fields equal request by
#   request for >= 99%; every field of the matched pairs compared, and every difference is one that
#   docs/records.md documents (objectRef.name missing on creates only, no user, no annotations, ...);
#   a control (a code changed in 1 of 20 lines) must make the comparison fail.
#   Then `kapimon agent --flows DIR --flows-format audit` for a few requests: DIR/audit.log compared the same way.
# Artefacts in $KAPIMON_TEST_OUT/audit-format (default build/test-out/<testbed dir name>/audit-format).
set -u
. "$(dirname "$0")/lib.sh"

OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/audit-format
rm -rf "$OUT" && mkdir -p "$OUT"
F=$OUT/kapimon-audit.log
ERR=$OUT/kapimon.stderr
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
UA=kapimon-test-auditfmt-$RUN
END_UA=kapimon-test-auditfmt-end-$RUN
NS=default
KPID=""

log() { echo "test_audit_format: $*"; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	rm -f "$OUT/admin.hdr"
}
trap cleanup EXIT
attached_or_exited() { grep -q attached "$ERR" || exited "$KPID"; }
audit_complete() { grep -F "\"userAgent\":\"$1\"" "$KAPIMON_AUDIT_LOG" 2>/dev/null | grep -q '"stage":"ResponseComplete"'; }
in_output() { grep -qF "\"userAgent\":\"$1\"" "$F" 2>/dev/null; }
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"
# req UA METHOD PATH [curl args]: one admin request over h2; prints the status
req() {
	local ua=$1 m=$2 p=$3
	shift 3
	curl -sS -o /dev/null -w '%{http_code}\n' --max-time 20 --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" \
		-A "$ua" -X "$m" "$@" "$KAPIMON_APISERVER_URL$p"
}

T0=$(date +%s)
"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" --format audit -o "$F" 2>"$ERR" &
KPID=$!
wait_for "kapimon record --format audit prints 'attached' (or exits)" 60 attached_or_exited || abort
grep -q attached "$ERR" || abort "kapimon record attaches" "$(cat "$ERR")"

# --- workload (its own user agent) ----------------------------------------------------------------------------
{
	for i in $(seq 1 15); do
		cm=kapimon-auditfmt-$RUN-$i
		req "$UA" POST "/api/v1/namespaces/$NS/configmaps" -H 'Content-Type: application/json' \
			-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$cm\"},\"data\":{\"k\":\"v$i\"}}"
		req "$UA" GET "/api/v1/namespaces/$NS/configmaps/$cm"
		req "$UA" GET "/api/v1/namespaces/$NS/configmaps?limit=5"
		req "$UA" GET "/api/v1/namespaces/$NS/configmaps/missing-$RUN-$i"
		req "$UA" GET "/apis/apps/v1/namespaces/$NS/deployments"
		req "$UA" GET "/api/v1/namespaces"
		req "$UA" GET "/version"
		req "$UA" GET "/healthz"
		req "$UA" DELETE "/api/v1/namespaces/$NS/configmaps/$cm"
		req "$UA" DELETE "/api/v1/namespaces/$NS/configmaps/missing-$RUN-$i"
	done
	# watches that end (the server closes them after timeoutSeconds)
	for i in 1 2; do
		req "$UA" GET "/api/v1/namespaces/$NS/configmaps?watch=1&timeoutSeconds=1"
	done
} >"$OUT/statuses.txt" 2>"$OUT/workload.err"
log "workload statuses: $(sort "$OUT/statuses.txt" | uniq -c | tr -s ' \n' ' ')"
check_eq "workload: 15 creates 201" 15 "$(grep -c '^201$' "$OUT/statuses.txt")"
check_eq "workload: 30 404s (gets, deletes of missing objects)" 30 "$(grep -c '^404$' "$OUT/statuses.txt")"

check_eq "end marker request" 200 "$(req "$END_UA" GET /version)"
wait_for "end marker in the audit log (ResponseComplete)" 30 audit_complete "$END_UA" || abort
wait_for "end marker in kapimon's output" 30 in_output "$END_UA" || abort
kill -INT "$KPID"
wait_for "kapimon exits after SIGINT" 30 exited "$KPID" || abort
rc=0
wait "$KPID" || rc=$?
KPID=""
check_eq "kapimon record exit status after SIGINT" 0 "$rc"
log "$(tail -n 1 "$ERR")"

# the real audit log of the same window: from kapimon's start second to the end marker (inclusive)
audit_since "$T0" | awk -v m="\"userAgent\":\"$END_UA\"" '{print} index($0, m) && /ResponseComplete/ {exit}' >"$OUT/real-audit.log"

# --- analyze reads both ----------------------------------------------------------------------------------------
check "kapimon analyze (kapimon's audit output) --input audit --step 1" "$KAPIMON" analyze "$F" --input audit --step 1
check "kapimon analyze (real audit log, same window) --input audit --step 1" \
	"$KAPIMON" analyze "$OUT/real-audit.log" --input audit --step 1
j=$("$KAPIMON" analyze "$F" --input audit --step 1 --dims user_agent -j 2>/dev/null)
check "kapimon analyze -j on kapimon's audit output is JSON" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$j"

# --- compare with the real audit log ---------------------------------------------------------------------------
# --fields: every field of every matched pair; the differences must be the documented ones (docs/records.md)
python3 "$KAPIMON_ROOT/tests/integration/compare_audit_events.py" --audit "$OUT/real-audit.log" --kapimon "$F" \
	--ua "$UA" --fields --fields-json "$OUT/fields.json" >"$OUT/compare.txt" 2>&1
rc=$?
report <"$OUT/compare.txt"
check_eq "compare_audit_events.py exit status" 0 "$rc"

# control: the comparison notices a wrong status code in 1 of 20 of kapimon's lines
python3 - "$F" "$OUT/control.log" "$UA" <<'PY'
import json, sys
n = 0
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        e = json.loads(line)
        if e.get("userAgent") == sys.argv[3]:
            n += 1
            if n % 20 == 0:
                e["responseStatus"]["code"] = 599
        out.write(json.dumps(e) + "\n")
PY
python3 "$KAPIMON_ROOT/tests/integration/compare_audit_events.py" --audit "$OUT/real-audit.log" --kapimon "$OUT/control.log" \
	--ua "$UA" >"$OUT/control.txt" 2>&1
check_eq "control: the comparison fails with every 20th code changed" 1 "$?"

# --- agent --flows-format audit: the same sink behind the agent's rotated file -------------------------------------
AD=$OUT/agent
AUA=kapimon-test-auditfmt-agent-$RUN
mkdir -p "$AD"
"$KAPIMON" agent --pid "$KAPIMON_APISERVER_PID" --flows "$AD" --flows-format audit 2>"$AD/stderr" &
KPID=$!
ERR=$AD/stderr
F=$AD/audit.log
wait_for "kapimon agent --flows-format audit prints 'attached' (or exits)" 60 attached_or_exited || abort
grep -q attached "$ERR" || abort "kapimon agent attaches" "$(cat "$ERR")"
for i in 1 2 3; do req "$AUA" GET "/api/v1/namespaces/$NS/pods"; done >"$AD/statuses.txt"
req "$AUA" GET "/api/v1/namespaces/$NS/pods/missing-$RUN" >>"$AD/statuses.txt"
wait_for "agent: the 404 in the audit log" 30 audit_complete "$AUA"
kill -TERM "$KPID"
wait_for "kapimon agent exits after SIGTERM" 30 exited "$KPID" || abort
rc=0
wait "$KPID" || rc=$?
KPID=""
check_eq "kapimon agent exit status after SIGTERM" 0 "$rc"
check_eq "agent: DIR/audit.log is mode 600" 600 "$(stat -c %a "$F" 2>/dev/null)"
python3 "$KAPIMON_ROOT/tests/integration/compare_audit_events.py" --audit "$KAPIMON_AUDIT_LOG" --kapimon "$F" \
	--ua "$AUA" >"$AD/compare.txt" 2>&1
rc=$?
report <"$AD/compare.txt"
check_eq "agent: compare_audit_events.py exit status" 0 "$rc"
F=$OUT/kapimon-audit.log

# no token in the output
if grep -qF -e "$KAPIMON_TOKEN" -e "$KAPIMON_USER_TOKEN" "$F" "$AD/audit.log"; then
	_fail "no token in kapimon's audit output"
else
	_ok "no token in kapimon's audit output"
fi
finish
