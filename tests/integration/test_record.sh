#!/usr/bin/env bash
# kapimon record against the testbed, compared with the apiserver's audit log (issue 6 acceptance).
#
#   kapimon record -o FILE  ->  await "attached"  ->  start marker  ->  a long watch (left open)  ->
#   scripts/workload.sh  ->  end marker, awaited in the audit log (ResponseComplete) and in FILE  ->
#   SIGINT, exit status 0  ->  the long watch is closed and awaited in the audit log  ->
#   tests/integration/compare_audit.py (>= 99% of audit requests matched, < 1% extra records, median
#   latency per (verb, resource) within 30%) + checks on the records themselves (valid JSON, no
#   credentials, h1 and h2, 401/403/404/409, watches finished and ongoing, subresources, redaction of a
#   query-string token, stats lines with ringbuf_drops).
# Needs root, kapimon and the testbed env (tests/integration/run.sh exports it; standalone, it is taken
# from scripts/testbed.sh env). Artefacts (records, kapimon stderr, audit snapshot, report) are kept in
# $KAPIMON_TEST_OUT/record (default build/test-out/<testbed dir name>/record, so runs on
# different testbeds in one tree do not clobber each other).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAPIMON_ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/record
rm -rf "$OUT" && mkdir -p "$OUT"
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
START_UA=kapimon-test-start-$RUN
END_UA=kapimon-test-end-$RUN
WATCH_UA=kapimon-test-longwatch-$RUN
KPID="" WPID=""

log() { echo "test_record: $*"; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ -z "$WPID" ] || kill "$WPID" 2>/dev/null || true
	rm -f "$OUT/admin.hdr"
}
trap cleanup EXIT
attached_or_exited() { grep -q attached "$ERR" || exited "$KPID"; }
audit_complete() { grep -F "\"userAgent\":\"$1\"" "$KAPIMON_AUDIT_LOG" 2>/dev/null | grep -q '"stage":"ResponseComplete"'; }
recorded() { grep -qF "\"user_agent\":\"$1\"" "$REC" 2>/dev/null; }
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"
get() { # get UA PATH: one admin GET over h2; prints the status
	curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" \
		-A "$1" "$KAPIMON_APISERVER_URL$2"
}

# --- record -------------------------------------------------------------------------------------------------
# --stats-interval 1: a stats line every second, which also flushes FILE (so the end marker can be awaited)
"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
wait_for "kapimon record prints 'attached' (or exits)" 60 attached_or_exited || abort
grep -q attached "$ERR" || abort "kapimon record attaches" "$(cat "$ERR")"
log "$(grep attached "$ERR")"

check_eq "start marker request" 200 "$(get "$START_UA" /version)"
wait_for "start marker in the audit log (ResponseComplete)" 30 audit_complete "$START_UA" || abort

# a watch that is still open when kapimon stops: must be written with "ongoing":true
curl -sS -o /dev/null --max-time 300 --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" -A "$WATCH_UA" \
	"$KAPIMON_APISERVER_URL/api/v1/configmaps?watch=1&timeoutSeconds=290" 2>/dev/null &
WPID=$!

t0=$(date +%s%N)
scripts/workload.sh >"$OUT/workload.out" 2>"$OUT/workload.err"
rc=$?
check_eq "scripts/workload.sh exits 0 (every request got its expected status)" 0 "$rc"
[ "$rc" = 0 ] || cat "$OUT/workload.err"
log "$(cat "$OUT/workload.out") in $((($(date +%s%N) - t0) / 1000000)) ms"

check_eq "end marker request" 200 "$(get "$END_UA" /version)"
wait_for "end marker in the audit log (ResponseComplete)" 30 audit_complete "$END_UA" || abort
wait_for "end marker in kapimon's output" 30 recorded "$END_UA" || abort

kill -INT "$KPID"
wait_for "kapimon exits after SIGINT" 30 exited "$KPID" || abort
rc=0
wait "$KPID" || rc=$?
KPID=""
check_eq "kapimon record exit status after SIGINT" 0 "$rc"
log "$(tail -n 1 "$ERR")"

# close the long watch; its ResponseComplete (after kapimon stopped) matches the ongoing record
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null
WPID=""
wait_for "long watch's end in the audit log" 30 audit_complete "$WATCH_UA"
cp "$KAPIMON_AUDIT_LOG" "$OUT/audit.log"

# --- compare with the audit log ---------------------------------------------------------------------------
python3 tests/integration/compare_audit.py --audit "$OUT/audit.log" --records "$REC" \
	--start-ua "$START_UA" --end-ua "$END_UA" --json "$OUT/compare.json" >"$OUT/compare.txt" 2>&1
rc=$?
cat "$OUT/compare.txt"
check_eq "compare_audit.py: >= 99% of audit requests matched, < 1% extra, latency medians within 30% (or 0.5 ms)" 0 "$rc"
# control: the comparison must notice 2% of the records missing, and 2% with a wrong status
awk '/"kind":"request"/ && !/kapimon-test-/ && ++n % 50 == 0 {next} {print}' "$REC" >"$OUT/control-missing.jsonl"
awk '/"kind":"request"/ && !/kapimon-test-/ && ++n % 50 == 0 {sub(/"status":[0-9]+/, "\"status\":599")} {print}' "$REC" >"$OUT/control-status.jsonl"
for c in missing status; do
	python3 tests/integration/compare_audit.py --audit "$OUT/audit.log" --records "$OUT/control-$c.jsonl" \
		--start-ua "$START_UA" --end-ua "$END_UA" >"$OUT/control-$c.txt" 2>&1
	rc=$?
	check_eq "control: compare_audit.py fails with every 50th record $([ $c = missing ] && echo dropped || echo given status 599)" 1 "$rc"
done

# --- checks on the records themselves ------------------------------------------------------------------------
# no credential leaves kapimon: neither token (the user token was also sent in a query string)
tokens() { printf '%s\n%s\n' "$KAPIMON_TOKEN" "$KAPIMON_USER_TOKEN"; }
if grep -qF -f <(tokens) "$REC"; then
	_fail "no record contains the admin or the user token" "$(grep -c -F -f <(tokens) "$REC") lines do"
else
	_ok "no record contains the admin or the user token"
fi
# "Authorization"/"Bearer" as header name or scheme (case-sensitive: etcd records legitimately hold
# "rbac.authorization.k8s.io"), and "authorization:" / "bearer " in any case
re='Authorization|Bearer|[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn]:|[Bb][Ee][Aa][Rr][Ee][Rr] '
if grep -qE "$re" "$REC"; then
	_fail "no record contains 'Authorization' or 'Bearer'" "$(grep -E -m1 "$re" "$REC" | head -c 300)"
else
	_ok "no record contains 'Authorization' or 'Bearer'"
fi
report < <(python3 - "$REC" "$WATCH_UA" <<'PY'
import json, sys
recs, stats, bad = [], [], []
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        o = json.loads(line)
    except ValueError:
        bad.append(n)
        continue
    (recs if o.get("kind") == "request" else stats if o.get("kind") == "stats" else []).append(o)
def out(ok, desc, detail=""):
    print("%s\t%s\t%s" % ("ok" if ok else "FAIL", desc, detail))
def has(desc, pred, want=1):
    n = sum(1 for r in recs if pred(r))
    out(n >= want, "%s: %d (>= %d)" % (desc, n, want))
out(not bad, "every record line is valid JSON (%d lines)" % n, "bad lines: %s" % bad[:10])
has("h2 request records", lambda r: r.get("proto") == "h2")
has("h1 request records", lambda r: r.get("proto") == "h1")
has("status 401 records", lambda r: r.get("status") == 401)
has("status 403 records", lambda r: r.get("status") == 403)
has("status 404 records", lambda r: r.get("status") == 404)
has("status 409 records", lambda r: r.get("status") == 409)
has("finished watch records (verb watch)", lambda r: r.get("verb") == "watch" and not r.get("ongoing"), 3)
has("ongoing watch record of the long watch", lambda r: r.get("user_agent") == sys.argv[2] and r.get("ongoing") and r.get("verb") == "watch")
has("records with a subresource (scale/status/token)", lambda r: r.get("subresource") in ("scale", "status", "token"), 3)
fin = [r for r in recs if not r.get("ongoing")]
has("finished records with latency_ns > 0 (all %d)" % len(fin), lambda r: not r.get("ongoing") and r.get("latency_ns", 0) > 0, len(fin))
q = [r for r in recs if r.get("user_agent") == "kapimon-wl-query-token/1.0"]
out(len(q) == 1 and "access_token=REDACTED" in q[0].get("path", ""), "query-string credential redacted in the path",
    "records: %s" % [r.get("path", "")[:60] for r in q])
drops = [s.get("ringbuf_drops") for s in stats]
out(bool(stats) and all(isinstance(d, int) for d in drops),
    "stats lines report ringbuf_drops (%d lines, last: %s)" % (len(stats), drops[-1] if drops else None))
PY
)
finish
