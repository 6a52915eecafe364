#!/usr/bin/env bash
# kapimon record against the testbed, compared with the apiserver's audit log (issue 6 acceptance).
#
#   ./kapimon record -o FILE  ->  await "attached"  ->  start marker  ->  a long watch (left open)  ->
#   scripts/workload.sh  ->  end marker, awaited in the audit log (ResponseComplete) and in FILE  ->
#   SIGINT, exit status 0  ->  the long watch is closed and awaited in the audit log  ->
#   tests/integration/compare_audit.py (>= 99% of audit requests matched, < 1% extra records, median
#   latency per (verb, resource) within 30%) + checks on the records themselves.
# Needs root, ./kapimon and the testbed env (tests/integration/run.sh exports it; standalone, it is taken
# from scripts/testbed.sh env). Artefacts (records, kapimon stderr, audit snapshot, report) are kept in
# $KAPIMON_TEST_OUT/record (default build/test-out/record).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$ROOT/build/test-out}/record
rm -rf "$OUT" && mkdir -p "$OUT"
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
START_UA=kapimon-test-start-$RUN
END_UA=kapimon-test-end-$RUN
WATCH_UA=kapimon-test-longwatch-$RUN
KPID="" WPID=""
FAILED=0

log() { echo "test_record: $*"; }
fail() { echo "test_record: FAIL: $*"; FAILED=1; }
die() { echo "test_record: FAIL: $*"; exit 1; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ -z "$WPID" ] || kill "$WPID" 2>/dev/null || true
	rm -f "$OUT/admin.hdr"
}
trap cleanup EXIT

# wait_for DESC SECONDS CMD...: poll CMD every 0.1 s; fails the test after SECONDS.
wait_for() {
	local desc=$1 secs=$2 t
	shift 2
	t=$(($(date +%s%N) + secs * 1000000000))
	until "$@"; do
		(($(date +%s%N) < t)) || die "timed out after ${secs}s waiting for $desc"
		sleep 0.1
	done
}
kapimon_attached() {
	kill -0 "$KPID" 2>/dev/null || { cat "$ERR"; die "kapimon exited before attaching"; }
	grep -q attached "$ERR"
}
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
audit_complete() { grep -F "\"userAgent\":\"$1\"" "$KAPIMON_AUDIT_LOG" 2>/dev/null | grep -q '"stage":"ResponseComplete"'; }
recorded() { grep -qF "\"user_agent\":\"$1\"" "$REC" 2>/dev/null; }
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"
get() { # get UA PATH [curl args]: one admin GET over h2; prints the status
	local ua=$1 path=$2
	shift 2
	curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" \
		-A "$ua" "$@" "$KAPIMON_APISERVER_URL$path"
}

# --- record -------------------------------------------------------------------------------------------------
# --stats-interval 1: stats lines every second, which also flushes FILE (so the end marker can be awaited)
./kapimon record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
wait_for "kapimon's 'attached' line" 60 kapimon_attached
log "$(grep attached "$ERR")"

[ "$(get "$START_UA" /version)" = 200 ] || die "start marker request failed"
wait_for "the start marker in the audit log" 30 audit_complete "$START_UA"

# a watch that is still open when kapimon stops: must be written with "ongoing":true
curl -sS -o /dev/null --max-time 300 --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" -A "$WATCH_UA" \
	"$KAPIMON_APISERVER_URL/api/v1/configmaps?watch=1&timeoutSeconds=290" 2>/dev/null &
WPID=$!

t0=$(date +%s%N)
scripts/workload.sh >"$OUT/workload.out" 2>"$OUT/workload.err" || { cat "$OUT/workload.err"; die "scripts/workload.sh failed"; }
log "$(cat "$OUT/workload.out") in $((($(date +%s%N) - t0) / 1000000)) ms"

[ "$(get "$END_UA" /version)" = 200 ] || die "end marker request failed"
wait_for "the end marker in the audit log" 30 audit_complete "$END_UA"
wait_for "the end marker in kapimon's output" 30 recorded "$END_UA"

kill -INT "$KPID"
wait_for "kapimon to exit after SIGINT" 30 exited "$KPID"
rc=0
wait "$KPID" || rc=$?
KPID=""
[ "$rc" = 0 ] || fail "kapimon record exited $rc after SIGINT (want 0)"
log "kapimon: $(tail -n 1 "$ERR")"

# close the long watch; its ResponseComplete (after kapimon stopped) matches the ongoing record
kill "$WPID" 2>/dev/null || true
wait "$WPID" 2>/dev/null || true
WPID=""
wait_for "the long watch's end in the audit log" 30 audit_complete "$WATCH_UA"
cp "$KAPIMON_AUDIT_LOG" "$OUT/audit.log"

# --- compare with the audit log ---------------------------------------------------------------------------
python3 tests/integration/compare_audit.py --audit "$OUT/audit.log" --records "$REC" \
	--start-ua "$START_UA" --end-ua "$END_UA" --json "$OUT/compare.json" | tee "$OUT/compare.txt" ||
	fail "compare_audit.py: see above"

# --- checks on the records themselves ------------------------------------------------------------------------
# no credential leaves kapimon: neither token, nor the header name or scheme
if grep -qF -f <(printf '%s\n%s\n' "$KAPIMON_TOKEN" "$KAPIMON_USER_TOKEN") "$REC"; then
	fail "a record contains a bearer token"
fi
# "Authorization"/"Bearer" as header name or scheme (case-sensitive: etcd keys legitimately hold
# "rbac.authorization.k8s.io"), and any case of "authorization:" / "bearer " as a header line would have them
if grep -qE 'Authorization|Bearer|[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn]:|[Bb][Ee][Aa][Rr][Ee][Rr] ' "$REC"; then
	fail "a record contains 'Authorization' or 'Bearer': $(grep -E -m1 'Authorization|Bearer|[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn]:|[Bb][Ee][Aa][Rr][Ee][Rr] ' "$REC" | head -c 300)"
fi
python3 - "$REC" "$WATCH_UA" <<'EOF' || FAILED=1
import json, sys
recs, stats, bad = [], [], 0
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        o = json.loads(line)
    except ValueError:
        bad += 1
        continue
    (recs if o.get("kind") == "request" else stats if o.get("kind") == "stats" else []).append(o)
def has(desc, pred, want=1):
    n = sum(1 for r in recs if pred(r))
    print("test_record: %-52s %6d  %s" % (desc, n, "ok" if n >= want else "FAIL (want >= %d)" % want))
    return n >= want
ok = bad == 0
print("test_record: %-52s %6d  %s" % ("record lines that are not JSON", bad, "ok" if bad == 0 else "FAIL"))
ok &= has("h2 request records", lambda r: r.get("proto") == "h2")
ok &= has("h1 request records", lambda r: r.get("proto") == "h1")
ok &= has("status 401 records", lambda r: r.get("status") == 401)
ok &= has("status 403 records", lambda r: r.get("status") == 403)
ok &= has("status 404 records", lambda r: r.get("status") == 404)
ok &= has("status 409 records", lambda r: r.get("status") == 409)
ok &= has("finished watch records (verb watch)", lambda r: r.get("verb") == "watch" and not r.get("ongoing"))
ok &= has("ongoing record of the long watch", lambda r: r.get("user_agent") == sys.argv[2] and r.get("ongoing") and r.get("verb") == "watch")
ok &= has("records with a subresource (scale/status/token)", lambda r: r.get("subresource") in ("scale", "status", "token"), 3)
ok &= has("finished records with latency_ns > 0", lambda r: r.get("ongoing") or r.get("latency_ns", 0) > 0, len(recs))
drops = [s.get("ringbuf_drops") for s in stats]
sok = bool(stats) and all(isinstance(d, int) for d in drops)
print("test_record: %-52s %6d  %s (ringbuf_drops of the last: %s)" % ("stats lines reporting ringbuf_drops", len(stats),
      "ok" if sok else "FAIL", drops[-1] if drops else None))
sys.exit(0 if ok and sok else 1)
EOF

if [ "$FAILED" != 0 ]; then
	log "FAILED (artefacts in $OUT)"
	exit 1
fi
log "PASS"
