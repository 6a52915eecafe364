#!/usr/bin/env bash
# The cause, live and recorded (issue: anomalies without alert fatigue, causes that hold on real
# traffic). While steady background clients run against the testbed, `kapimon -j top --batch` and
# `kapimon record` watch the apiserver (--pid), then:
#   1. one new agent floods `list configmaps` (h2load): top's JSON snapshots must carry an anomaly
#      cause naming that agent within 5 s of the flood's first request; one alert for the flood;
#   2. a thin flood: 6,000 `get configmaps` requests, each from its own user agent
#      (tests/integration/uaburst): top's cause and `kapimon analyze --step 1` over the recording (and
#      over the audit log of the same window) must name verb=get/resource=configmaps (not an agent);
#   3. a lease storm: 50 "kubelets" each reading its own node lease in a tight loop (5,000 `get
#      leases`, while the background lists leases): top's cause and analyze must name verb=get with
#      resource=leases (group coordination.k8s.io), not one kubelet.
# Needs the testbed env (tests/integration/run.sh), h2load, go. Artefacts: build/test-out/anomaly_cause.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out}/anomaly_cause
rm -rf "$OUT" && mkdir -p "$OUT"
RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
FLOOD_UA=cause-flood-agent-$RUN
THIN_UA=cause-thin-agent-$RUN
THIN_N=${KAPIMON_THIN_N:-6000}
kp= rp= s1= s2=
trap 'kill $kp $rp $s1 $s2 2>/dev/null; rm -f "$OUT/token"' EXIT

check "go build tests/integration/uaburst" env GO111MODULE=off GOFLAGS= go build -o "$OUT/uaburst" ./tests/integration/uaburst
[ -x "$OUT/uaburst" ] || abort
printf '%s' "$KAPIMON_TOKEN" >"$OUT/token"
chmod 600 "$OUT/token"

steady() { # UA PATH SECONDS: a synthetic client, a few requests a second
	local end=$(($(date +%s) + $3))
	while (($(date +%s) < end)); do
		api "$2" -A "$1" -o /dev/null || true
		sleep 0.1 # pacing of a synthetic client, not synchronisation
	done
}

"$KAPIMON" -j top --batch --interval 1 -n 50 --pid "$KAPIMON_APISERVER_PID" >"$OUT/top.jsonl" 2>"$OUT/top.err" &
kp=$!
"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$OUT/rec.jsonl" --stats-interval 0 2>"$OUT/rec.err" &
rp=$!
attached() { grep -q attached "$OUT/top.err" && grep -q attached "$OUT/rec.err"; }
wait_for "top and record attached" 60 attached || abort "attach" "$(cat "$OUT/top.err" "$OUT/rec.err")"
start=$(date +%s)
steady cause-steady-a/1.0 /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases 220 &
s1=$!
steady cause-steady-b/1.0 /api/v1/namespaces 220 &
s2=$!
warm() { # the detector judges: a snapshot whose anomaly state is not "learning"
	tail -n 1 "$OUT/top.jsonl" | python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.stdin.read())["anomaly"]["state"] != "learning" else 1)' 2>/dev/null
}
wait_for "top's detector has a baseline" 120 warm || abort "detector warm-up" "$(tail -n 1 "$OUT/top.jsonl" | head -c 600)"
# a further 10 s of steady traffic, so that the steps before the flood are all steady
steady_for() { [ $(($(date +%s) - start)) -ge "$1" ]; }
wait_for "10 more seconds of steady traffic" 30 steady_for $(($(date +%s) - start + 10))

# 1. one agent floods
flood_t0=$(date +%s.%N)
h2load -n 4000 -c 2 -m 4 -H "user-agent: $FLOOD_UA" -H "authorization: Bearer $KAPIMON_TOKEN" \
	"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" >"$OUT/h2load" 2>&1 &
hp=$!
cause_names() { # WANT_EXPR: a snapshot after the flood's start has a cause satisfying the python expression over `c`
	python3 - "$OUT/top.jsonl" "$flood_t0" "$1" <<'PY'
import json, sys
t0 = float(sys.argv[2])
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    c = d.get("anomaly", {}).get("cause")
    if c and c.get("found") and c["since_ns"] / 1e9 >= t0 - 2 and eval(sys.argv[3]):
        print("snapshot %s: %s" % (d.get("ts"), c["line"]))
        sys.exit(0)
sys.exit(1)
PY
}
wait_for "top names the flood agent as the cause within 5 s of the flood's start" 5 \
	cause_names "c['attrs'].get('user_agent') == '$FLOOD_UA'"
cause_names "c['attrs'].get('user_agent') == '$FLOOD_UA'" | sed 's/^/  /'
wait "$hp"
check "h2load flood ran" grep -q "4000 succeeded" "$OUT/h2load"

# back to steady for a while, then 2. the thin flood
quiet() { tail -n 1 "$OUT/top.jsonl" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); sys.exit(0 if "cause" not in d["anomaly"] else 1)' 2>/dev/null; }
wait_for "the flood's event is over in top" 120 quiet
wait_for "15 more seconds of steady traffic" 40 steady_for $(($(date +%s) - start + 15))
flood_t0=$(date +%s.%N)
"$OUT/uaburst" -url "$KAPIMON_APISERVER_URL" -ca "$KAPIMON_CA" -token-file "$OUT/token" -ua "$THIN_UA" -n "$THIN_N" -c 8 \
	-path /api/v1/namespaces/default/configmaps/kapimon-missing-cm >"$OUT/thin.out" 2>"$OUT/thin.err" &
up=$!
# the cause is what the thin flood's requests share: verb=get and/or resource=configmaps (the background
# clients only list, so both name the same requests and the shorter name wins), never one agent
THIN_CAUSE="c['attrs'] and set(c['attrs'].items()) <= {('verb', 'get'), ('resource', 'configmaps')}"
wait_for "top names verb=get/resource=configmaps (not an agent) for the thin flood within 5 s" 5 \
	cause_names "$THIN_CAUSE"
cause_names "$THIN_CAUSE" | sed 's/^/  /'
wait "$up"
check "the thin flood sent $THIN_N requests with distinct agents" grep -q "sent=$THIN_N " "$OUT/thin.out"

# 3. the lease storm
wait_for "the thin flood's event is over in top" 120 quiet
wait_for "15 more seconds of steady traffic" 40 steady_for $(($(date +%s) - start + 15))
flood_t0=$(date +%s.%N)
"$OUT/uaburst" -url "$KAPIMON_APISERVER_URL" -ca "$KAPIMON_CA" -token-file "$OUT/token" -ua "kubelet/v1.20.2 (linux/amd64) storm-$RUN-node" \
	-agents 50 -n 5000 -c 8 -path "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/storm-node-%d" \
	>"$OUT/storm.out" 2>"$OUT/storm.err" &
up=$!
STORM_CAUSE="c['attrs'].get('verb') == 'get' and c['attrs'].get('resource', '').endswith('leases') and 'user_agent' not in c['attrs']"
wait_for "top names verb=get, resource=leases (not a kubelet) for the lease storm within 5 s" 5 cause_names "$STORM_CAUSE"
cause_names "$STORM_CAUSE" | sed 's/^/  /'
wait "$up"
check "the lease storm sent 5000 requests from 50 agents" grep -q "sent=5000 " "$OUT/storm.out"
wait_for "20 s of steady traffic after the thin flood" 60 steady_for $(($(date +%s) - start + 20))
kill "$s1" "$s2" 2>/dev/null
wait "$s1" "$s2" 2>/dev/null
kill -INT "$rp" "$kp"
wait "$rp"
check_eq "record exits 0" 0 "$?"
wait "$kp"
check_eq "top exits 0" 0 "$?"

# events top drew a cause for (one per anomalous event: the flood and the thin flood; informational,
# the background clients' own rate moves with this shared machine's load)
events=$(python3 -c '
import json, sys
seen = set()
for line in open(sys.argv[1]):
    try:
        c = json.loads(line)["anomaly"].get("cause")
    except (ValueError, KeyError):
        continue
    if c:
        seen.add(c["since_ns"])
print(len(seen))' "$OUT/top.jsonl")
echo "  anomalous events with a cause line in top: $events"

# analyze the recording and the audit log of its window
"$KAPIMON" -j analyze "$OUT/rec.jsonl" --step 1 >"$OUT/analyze.json" 2>"$OUT/analyze.err"
check_eq "analyze exits 0" 0 "$?"
audit_since "$start" >"$OUT/audit.log"
"$KAPIMON" -j analyze "$OUT/audit.log" --input audit --step 1 >"$OUT/analyze-audit.json" 2>"$OUT/analyze-audit.err"
check_eq "analyze --input audit exits 0" 0 "$?"
verdict() { # FILE LABEL
	python3 - "$1" "$2" "$FLOOD_UA" "$THIN_UA" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
label, flood, thin = sys.argv[2], sys.argv[3], sys.argv[4]
first = [a["root_causes"][0]["attrs"] for a in d.get("anomalies", []) if a.get("root_causes") and a["score"] > 0]
ok1 = any(at.get("user_agent") == flood for at in first)
ok2 = any(at and set(at.items()) <= {("verb", "get"), ("resource", "configmaps")} for at in first)
ok3 = any(at.get("verb") == "get" and at.get("resource", "").endswith("leases") and "user_agent" not in at for at in first)
print(("ok" if ok1 else "FAIL") + "\t%s: a rising anomaly's first cause is the flood agent\t%s" % (label, json.dumps(first)[:400]))
print(("ok" if ok2 else "FAIL") + "\t%s: a rising anomaly's first cause is verb=get, resource=configmaps (the thin flood)\t%s" % (label, json.dumps(first)[:400]))
print(("ok" if ok3 else "FAIL") + "\t%s: a rising anomaly's first cause is verb=get, resource=leases (the lease storm)\t%s" % (label, json.dumps(first)[:400]))
PY
}
report < <(verdict "$OUT/analyze.json" "analyze (kapimon's recording)")
report < <(verdict "$OUT/analyze-audit.json" "analyze (audit log)")
finish
