#!/usr/bin/env bash
# The agent's etcd CLIENT spans against etcd's own count (issue 12, OTLP acceptance):
#   otlp_receiver.py (an independent decoder of the OTLP wire format) on loopback  ->
#   kapimon agent --pid --otlp <receiver> --metrics 127.0.0.1:0  ->  "attached"  ->
#   6 scrapes of etcd's grpc_server_handled_total{grpc_type="unary"} (candidates for the window's start)  ->
#   compare_etcd.py workload (namespaces, configmaps, secrets, leases, deployments, events; 404s, 409s;
#   its own user agent and namespace)  ->  await a span of the apiserver's own background work (the
#   bootstrap controller's service check) after the workload started  ->  6 more scrapes  ->  SIGTERM
#   (exit 0, nothing dropped or failed)  ->  compare_otlp_etcd.py compare:
#     - the window: the earliest "before" and the latest "after" scrape that no CLIENT span overlaps;
#       the CLIENT spans inside it equal etcd's increase per (gRPC method, code), exactly — the
#       workload's calls and the apiserver's own (bootstrap controller, object-count poll, lease grants);
#     - every linked CLIENT span: its SERVER parent arrived, same trace id and kapimon.request.id,
#       inside it in time; unlinked ones have traces of their own; every call on a key of the workload's
#       namespace is linked to a request of its user agent; one SERVER span per audited request.
#   The agent's kapimon_otlp_* metrics account for every span (queued = sent, dropped 0).
# Artefacts in $KAPIMON_TEST_OUT/agent-otlp-etcd (default build/test-out/agent-otlp-etcd).
# KAPIMON_AGENT_OTLP_SCALE (default 1) sizes the workload (about 230 requests, 330 etcd calls per unit).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
CMP=$KAPIMON_ROOT/tests/integration/compare_otlp_etcd.py
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out}/agent-otlp-etcd
rm -rf "$OUT" && mkdir -p "$OUT"
RUN=$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
NS=kapimon-otlp-$RUN
UA=kapimon-otlp-wl-$RUN
SCALE=${KAPIMON_AGENT_OTLP_SCALE:-1}
BG_KEY=/registry/services/specs/default/
kp= rp=
trap 'kill $kp $rp 2>/dev/null' EXIT

python3 "$KAPIMON_ROOT/tests/integration/otlp_receiver.py" --port 0 --port-file "$OUT/rport" --out "$OUT/spans.jsonl" \
	2>"$OUT/receiver.err" &
rp=$!
wait_for "OTLP receiver listening" 20 test -s "$OUT/rport" || abort
"$KAPIMON" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 --otlp "http://127.0.0.1:$(cat "$OUT/rport")" \
	2>"$OUT/agent.err" &
kp=$!
attached() { grep -q attached "$OUT/agent.err" && grep -q 'metrics at' "$OUT/agent.err"; }
wait_for "agent attached and serving metrics" 60 attached || abort "attach" "$(cat "$OUT/agent.err")"
MPORT=$(sed -n 's/.*metrics at .*(port \([0-9]*\)).*/\1/p' "$OUT/agent.err")

# scrapes NAME: 6 snapshots of etcd's counters, 0.3 s apart (the window's possible ends)
scrapes() {
	local i list=
	for i in 1 2 3 4 5 6; do
		python3 "$CMP" scrape "$OUT/$1-$i.json" 2>>"$OUT/scrape.err" || return 1
		list=$list${list:+,}$OUT/$1-$i.json
		[ $i = 6 ] || sleep 0.3 # spacing of the candidates, not synchronisation
	done
	echo "$list"
}
BEFORE=$(scrapes before) || abort "scrape etcd's metrics" "$(cat "$OUT/scrape.err")"
t_start=$(date +%s%N)
start_s=$(date +%s)
t0=$(date +%s%N)
if python3 "$KAPIMON_ROOT/tests/integration/compare_etcd.py" workload --ns "$NS" --ua "$UA" --scale "$SCALE" \
	--json "$OUT/workload.json" >"$OUT/workload.out" 2>&1; then
	_ok "workload: every request got its expected status ($(($(date +%s%N) / 1000000 - t0 / 1000000)) ms)"
else
	_fail "workload: unexpected statuses or errors" "$(cat "$OUT/workload.out")"
fi
echo "  $(head -n 1 "$OUT/workload.out")"
# the apiserver's own etcd traffic in the window: the bootstrap controller reads the default/kubernetes
# service every 10 s; await its span (it reaches the receiver within the agent's 1 s batch delay)
bg_seen() {
	python3 - "$OUT/spans.jsonl" "$BG_KEY" "$t_start" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    s = json.loads(l)
    if s.get("type") == "span" and s["attributes"].get("etcd.key_prefix") == sys.argv[2] and s["start"] > int(sys.argv[3]):
        sys.exit(0)
sys.exit(1)
PY
}
wait_for "a background etcd span (bootstrap controller, $BG_KEY) after the workload started" 30 bg_seen
AFTER=$(scrapes after) || abort "scrape etcd's metrics" "$(cat "$OUT/scrape.err")"

audit_since "$start_s" | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin for e in [json.loads(l)] if e.get("userAgent") == sys.argv[1] and e.get("stage") == "ResponseComplete"))' "$UA" >"$OUT/audit.count"
echo "  audit log: $(cat "$OUT/audit.count") requests of the workload"

# metrics before the stop: every span accounted for (published once a second)
otlp_metric() { # FILE RESULT: kapimon_otlp_*spans_total{result=RESULT}
	sed -n "s/^kapimon_otlp_[a-z_]*spans_total{result=\"$2\"} //p" "$1"
}
settled() {
	curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$OUT/metrics.txt" || return 1
	[ "$(otlp_metric "$OUT/metrics.txt" queued)" = "$(otlp_metric "$OUT/metrics.txt" sent)" ] &&
		grep -q '^kapimon_otlp_queue_spans 0$' "$OUT/metrics.txt"
}
wait_for "kapimon_otlp_*: every queued span sent, the queue empty" 20 settled
check_eq "kapimon_otlp_spans_total{result=\"dropped\"}" 0 "$(otlp_metric "$OUT/metrics.txt" dropped)"
check_eq "kapimon_otlp_exported_spans_total{result=\"failed\"}" 0 "$(otlp_metric "$OUT/metrics.txt" failed)"
check "the exposition with the kapimon_otlp_* families passes tests/cli/prom_check.py" \
	python3 "$KAPIMON_ROOT/tests/cli/prom_check.py" "$OUT/metrics.txt"
grep '^kapimon_otlp' "$OUT/metrics.txt" | sed 's/^/  /'

kill -TERM "$kp"
wait_for "agent exits after SIGTERM" 30 exited "$kp"
rc=0
wait "$kp" || rc=$?
kp=
check_eq "SIGTERM: agent exits 0" 0 "$rc"
check "no span dropped or failed (agent's last line)" grep -q 'dropped 0, failed 0' "$OUT/agent.err"
grep 'otlp spans' "$OUT/agent.err" | sed 's/^/  /'
kill "$rp" 2>/dev/null
wait "$rp" 2>/dev/null
rp=

python3 "$CMP" compare --spans "$OUT/spans.jsonl" --before "$BEFORE" --after "$AFTER" --pid "$KAPIMON_APISERVER_PID" \
	--ua "$UA" --ns "$NS" --audit-count "$(cat "$OUT/audit.count")" --json "$OUT/compare.json" >"$OUT/compare.txt" 2>&1
report <"$OUT/compare.txt"

# control: one Txn span in the window removed, one linked span moved past its parent's end: both checks fail
python3 - "$OUT/spans.jsonl" "$OUT/control.jsonl" "$BEFORE" <<'PY'
import json, sys
t0 = json.load(open(sys.argv[3].split(",")[-1]))["t"][1]
lines = [json.loads(l) for l in open(sys.argv[1])]
end = {s["span_id"]: s["end"] for s in lines if s.get("type") == "span" and s["kind"] == 2}
removed = moved = False
with open(sys.argv[2], "w") as out:
    for s in lines:
        if s.get("type") == "span" and s["kind"] == 3 and s["start"] > t0:
            if not removed and s["attributes"].get("rpc.method") == "Txn":
                removed = True
                continue
            if not moved and s["parent_span_id"] in end and s["attributes"].get("rpc.method") == "Range":
                s["end"] = end[s["parent_span_id"]] + 1000  # 1 us past the parent's end
                moved = True
        out.write(json.dumps(s) + "\n")
PY
python3 "$CMP" compare --spans "$OUT/control.jsonl" --before "$BEFORE" --after "$AFTER" --pid "$KAPIMON_APISERVER_PID" \
	--ua "$UA" --ns "$NS" >"$OUT/control.txt" 2>&1
check_eq "control (a Txn span removed, a Range span past its parent): compare exits 1" 1 "$?"
check "control: the per-method count fails" grep -q "^FAIL	CLIENT spans per (gRPC method, code)" "$OUT/control.txt"
check "control: the nesting check fails" grep -q "^FAIL	each of the .* linked CLIENT spans" "$OUT/control.txt"
check_eq "control: nothing else fails" 2 "$(grep -c '^FAIL' "$OUT/control.txt")"
echo "$T_NAME: artefacts in $OUT"
finish
