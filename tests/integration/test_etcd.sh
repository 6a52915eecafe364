#!/usr/bin/env bash
# kapimon's etcd capture against etcd's and the apiserver's own metrics (issue 4 acceptance).
#
#   ./kapimon record -o FILE  ->  await "attached"  ->  scrape etcd + apiserver metrics  ->  marker configmap
#   create (curl, own user agent)  ->  compare_etcd.py workload (configmaps, secrets, namespaces, leases,
#   deployments, events; 404s and 409s)  ->  await one etcd call of the apiserver's bootstrap controller
#   (background traffic in the window)  ->  delete the marker  ->  scrape again  ->  SIGINT (exit 0)  ->  compare_etcd.py compare:
#     1. per unary gRPC method, kapimon's non-stream etcd records vs etcd's grpc_server_handled_total
#        {grpc_type="unary"} delta: 0.98..1.02 for every method with >= 20 calls;
#     2. per resource (and per call class), kapimon vs the apiserver's etcd_request_duration_seconds_count
#        delta: within 5% or +-3;
#     3. per resource, mean latency vs the apiserver's _sum/_count: within a factor 2;
#     4. the marker create's request record (create configmaps 201) is the request_id of a txn record on
#        /registry/configmaps/default/<name>;
#     5. link rate (reported; >= 95% for calls on the workload namespace's keys), hits per call <= 2.05 plus
#        the etcd_range_resp hits per call, which lie between the successful Ranges and Ranges + Txns.
#   Then a short `record --no-etcd` run under etcd traffic: no etcd records, grpc probe hits 0.
# See docs/etcd-capture-testing.md. Needs root, ./kapimon and the testbed env (tests/integration/run.sh
# exports it; standalone it is taken from scripts/testbed.sh env, honouring KAPIMON_TESTBED_DIR and the port
# variables). Artefacts in $KAPIMON_TEST_OUT/etcd (default build/test-out/etcd).
# KAPIMON_ETCD_TEST_SCALE (default 3) sizes the workload (about 300 etcd calls per unit).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)" || exit 1
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
T_NAME=test_etcd
CMP=$ROOT/tests/integration/compare_etcd.py
OUT=${KAPIMON_TEST_OUT:-$ROOT/build/test-out}/etcd
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
RUN=$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
NS=kapimon-etcd-$RUN
UA=kapimon-etcd-wl-$RUN
MARKER_UA=kapimon-etcd-marker-$RUN
MARKER=kapimon-etcd-marker-$RUN
SCALE=${KAPIMON_ETCD_TEST_SCALE:-3}
BG_KEY=/registry/services/specs/default/kubernetes
KPID=""

log() { echo "$T_NAME: $*"; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	rm -f "$OUT/admin.hdr"
}
trap cleanup EXIT
bail() { # a step the rest depends on failed: count it, report, stop
	_fail "$1" "${2:-}"
	log "artefacts in $OUT"
	finish
	exit 1
}

printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"
# curl_api UA METHOD PATH [curl args]: prints the HTTP status only (bodies go to /dev/null)
curl_api() {
	local ua=$1 method=$2 path=$3
	shift 3
	curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" \
		-A "$ua" -X "$method" "$@" "$KAPIMON_APISERVER_URL$path"
}
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
exited() { ! alive "$1"; }
attached() { # FILE: kapimon's "attached" line (fails fast when kapimon died)
	alive "$KPID" || return 2
	# not there yet (status 1), also while FILE does not exist: on a loaded machine the background shell
	# may not have opened its redirection yet (grep's status 2 was taken for "kapimon died")
	grep -q attached "$1" 2>/dev/null || return 1
}
# await_attached ERRFILE: bounded wait for the "attached" line
await_attached() {
	local deadline=$(($(date +%s) + 60)) rc
	while :; do
		attached "$1"
		rc=$?
		[ $rc = 0 ] && { _ok "kapimon attached: $(grep -m1 attached "$1" | cut -c1-160)"; return 0; }
		[ $rc = 2 ] && bail "kapimon exited before attaching" "$(tail -n 20 "$1")"
		(($(date +%s) < deadline)) || bail "kapimon did not print 'attached' within 60 s" "$(tail -n 20 "$1")"
		sleep 0.1
	done
}
# stop_kapimon: SIGINT, bounded wait, exit status must be 0
stop_kapimon() {
	local rc=0
	kill -INT "$KPID"
	wait_for "kapimon exits after SIGINT" 30 exited "$KPID" || kill -KILL "$KPID" 2>/dev/null
	wait "$KPID" || rc=$?
	KPID=""
	check_eq "kapimon record exit status after SIGINT" 0 "$rc"
}
recorded_ua() { grep -qF "\"user_agent\":\"$2\"" "$1" 2>/dev/null; }

# ==== the compared run ====================================================================================
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
# --stats-interval 1 also flushes FILE every second, so records can be awaited in it
./kapimon record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
await_attached "$ERR"

python3 "$CMP" scrape "$OUT/before.json" 2>"$OUT/scrape.err" ||
	bail "scrape etcd and apiserver metrics after 'attached'" "$(cat "$OUT/scrape.err")"
t_start=$(date +%s%N)

st=$(curl_api "$MARKER_UA" POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' \
	-d "{\"metadata\":{\"name\":\"$MARKER\"},\"data\":{\"k\":\"v\"}}")
check_eq "marker configmap create (curl, UA $MARKER_UA)" 201 "$st"

t0=$(date +%s%N)
if python3 "$CMP" workload --ns "$NS" --ua "$UA" --scale "$SCALE" --json "$OUT/workload.json" >"$OUT/workload.out" 2>&1; then
	_ok "workload: every request got its expected status ($(($(date +%s%N) / 1000000 - t0 / 1000000)) ms)"
else
	_fail "workload: unexpected statuses or errors" "$(cat "$OUT/workload.out")"
fi
log "$(head -n 1 "$OUT/workload.out")"

# The apiserver's bootstrap controller checks the default/kubernetes service every 10 s (the testbed runs
# --endpoint-reconciler-type=none, so there are no master leases): await one of its etcd calls after the
# start, so the apiserver's own background traffic is part of the compared window (an event, bounded).
wait_for "a background etcd call (bootstrap controller: $BG_KEY) recorded in the window" 30 \
	python3 "$CMP" seen --records "$REC" --key "$BG_KEY" --since "$t_start"

st=$(curl_api "$MARKER_UA-delete" DELETE "/api/v1/namespaces/default/configmaps/$MARKER")
check_eq "marker configmap delete" 200 "$st"

python3 "$CMP" scrape "$OUT/after.json" 2>"$OUT/scrape.err" ||
	bail "scrape etcd and apiserver metrics before SIGINT" "$(cat "$OUT/scrape.err")"
stop_kapimon
log "kapimon: $(tail -n 1 "$ERR")"

python3 "$CMP" compare --records "$REC" --before "$OUT/before.json" --after "$OUT/after.json" \
	--ns "$NS" --ua "$UA" --marker-ua "$MARKER_UA" --marker-key "/registry/configmaps/default/$MARKER" \
	--json "$OUT/compare.json" >"$OUT/compare.txt" 2>&1
cmp_rc=$?
sed "s/^  \(ok  \|FAIL\)  compare_etcd: /  \1  $T_NAME: /" "$OUT/compare.txt" | grep -v '^compare_etcd: [0-9]* passed'
line=$(grep -E '^compare_etcd: [0-9]+ passed, [0-9]+ failed' "$OUT/compare.txt" | tail -n 1)
if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
	T_PASS=$((T_PASS + BASH_REMATCH[1]))
	T_FAIL=$((T_FAIL + BASH_REMATCH[2]))
	[ "$cmp_rc" = 0 ] || [ "${BASH_REMATCH[2]}" != 0 ] || _fail "compare_etcd.py exited $cmp_rc"
else
	_fail "compare_etcd.py compare produced no result (exit $cmp_rc)" "$(tail -n 20 "$OUT/compare.txt")"
fi

# no secret value leaves kapimon: etcd records carry keys and sizes, never values
if grep -q '"kind":"etcd".*"value"' "$REC"; then
	_fail "etcd records carry no values" "$(grep -m1 '"kind":"etcd".*"value"' "$REC" | cut -c1-200)"
else
	_ok "etcd records carry no values"
fi

# ==== --no-etcd ==============================================================================================
REC2=$OUT/records-no-etcd.jsonl
ERR2=$OUT/kapimon-no-etcd.stderr
NOETCD_UA=kapimon-etcd-noetcd-$RUN
./kapimon record --pid "$KAPIMON_APISERVER_PID" -o "$REC2" --stats-interval 1 --no-etcd 2>"$ERR2" &
KPID=$!
await_attached "$ERR2"
python3 "$CMP" scrape "$OUT/no-etcd-before.json" 2>"$OUT/scrape.err" || bail "scrape (--no-etcd run)" "$(cat "$OUT/scrape.err")"
for i in 1 2 3 4 5; do
	curl_api "$NOETCD_UA" POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' \
		-d "{\"metadata\":{\"name\":\"$MARKER-n$i\"}}" >/dev/null
	curl_api "$NOETCD_UA" GET "/api/v1/namespaces/default/configmaps/$MARKER-n$i" >/dev/null
	curl_api "$NOETCD_UA" DELETE "/api/v1/namespaces/default/configmaps/$MARKER-n$i" >/dev/null
done
wait_for "--no-etcd: the workload's requests are recorded" 30 recorded_ua "$REC2" "$NOETCD_UA"
python3 "$CMP" scrape "$OUT/no-etcd-after.json" 2>"$OUT/scrape.err" || bail "scrape (--no-etcd run)" "$(cat "$OUT/scrape.err")"
stop_kapimon
res=$(python3 - "$REC2" "$OUT/no-etcd-before.json" "$OUT/no-etcd-after.json" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
b, a = (json.load(open(p)) for p in sys.argv[2:4])
etcd_calls = int(sum(v - b["etcd"].get(k, 0) for k, v in a["etcd"].items()))
st = [r for r in recs if r.get("kind") == "stats"]
hits = st[-1].get("probe_hits", {}) if st else {}
grpc = {k: v for k, v in hits.items() if k.startswith("grpc") or k == "etcd_range_resp"}
print(json.dumps({"etcd_records": sum(1 for r in recs if r.get("kind") == "etcd"), "etcd_calls": etcd_calls,
                  "stats": len(st), "grpc_hits": grpc, "grpc_hits_sum": sum(grpc.values()),
                  "requests": sum(1 for r in recs if r.get("kind") == "request")}))
EOF
)
log "--no-etcd run: $res"
check_ge "--no-etcd: etcd served unary calls during the run (etcd's count)" 15 "$(json_get "$res" 'd["etcd_calls"]')"
check_eq "--no-etcd: no etcd records" 0 "$(json_get "$res" 'd["etcd_records"]')"
check_ge "--no-etcd: grpc and etcd_range_resp probes are listed in probe_hits" 3 "$(json_get "$res" 'len(d["grpc_hits"])')"
check_eq "--no-etcd: grpc and etcd_range_resp probe hits are 0" 0 "$(json_get "$res" 'd["grpc_hits_sum"]')"
check_ge "--no-etcd: request records are still written" 15 "$(json_get "$res" 'd["requests"]')"

log "artefacts in $OUT"
finish
