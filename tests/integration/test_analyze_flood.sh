#!/usr/bin/env bash
# The SRE story end to end: kapimon records the apiserver while steady clients run, one new agent
# floods it for a few seconds, and `kapimon analyze` over the recording must find the flood's
# interval and name its cause: user_agent=<flood agent>, verb=list, resource=configmaps. The audit log
# of the same window must give the same answer (analyze --input audit).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out}/analyze_flood
rm -rf "$OUT" && mkdir -p "$OUT"
FLOOD_UA="kapimon-flood-agent-$$"
trap 'kill "$kp" "$s1" "$s2" 2>/dev/null' EXIT

# steady background: two agents reading leases and namespaces a few times a second
steady() {
	local ua=$1 path=$2 end=$(($(date +%s) + $3))
	while (($(date +%s) < end)); do
		api "$path" -A "$ua" -o /dev/null || true
		sleep 0.1 # pacing of a synthetic client, not synchronisation
	done
}

"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$OUT/rec.jsonl" --stats-interval 0 2>"$OUT/err" &
kp=$!
wait_for "record attached" 30 grep -q attached "$OUT/err"
start=$(date +%s)
steady kapimon-steady-a/1.0 /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases 60 &
s1=$!
steady kapimon-steady-b/1.0 /api/v1/namespaces 60 &
s2=$!
# wait until 40 s of steady traffic were recorded (the stream detector judges from its 30th step on)
steady_for() { [ $(($(date +%s) - start)) -ge "$1" ]; }
wait_for "40 s of steady traffic" 60 steady_for 40
h2load -n 6000 -c 4 -m 4 -H "user-agent: $FLOOD_UA" -H "authorization: Bearer $KAPIMON_TOKEN" \
	"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" >"$OUT/h2load" 2>&1
check "h2load flood ran" grep -q "6000 succeeded" "$OUT/h2load"
wait "$s1" "$s2"
kill -INT "$kp"
wait "$kp"
check_eq "record exits 0" 0 "$?"

"$KAPIMON" -j analyze "$OUT/rec.jsonl" --step 1 >"$OUT/analyze.json" 2>"$OUT/analyze.err"
check_eq "analyze exits 0" 0 "$?"
# the audit log of the recording's window only (the testbed's log holds every earlier test too)
audit_since "$start" >"$OUT/audit.log"
"$KAPIMON" -j analyze "$OUT/audit.log" --input audit --step 1 >"$OUT/analyze-audit.json" 2>"$OUT/analyze-audit.err"
check_eq "analyze --input audit exits 0" 0 "$?"

verdict() {
	python3 - "$1" "$FLOOD_UA" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ua = sys.argv[2]
best = None
# the interval explained by the flood agent as a rise (a later dip may name it too: its traffic stopped)
for a in d.get("anomalies", []):
    for i, rc in enumerate(a.get("root_causes", [])):
        at = rc.get("attrs", {})
        if at.get("user_agent") == ua and rc["statistics"]["real"] > rc["statistics"]["predict"]:
            if not best or a["score"] > best[0]["score"]:
                best = (a, i, rc)
            break
if not best:
    print("FAIL\tno anomaly has the flood agent as a rising root cause\t" + json.dumps(d)[:600]); sys.exit()
a, i, rc = best
at = rc["attrs"]
print("ok\tan anomalous interval names the flood agent (%s..%s, cause #%d)" % (a["start"], a["end"], i + 1))
ok = at.get("verb", "list") == "list" and at.get("resource", "configmaps") == "configmaps"
print(("ok" if ok else "FAIL") + "\tthe cause's verb/resource are list/configmaps where named\t" + json.dumps(at))
print(("ok" if rc["statistics"]["real"] > rc["statistics"]["predict"] else "FAIL") +
      "\tit is a rise (real %.0f > predicted %.0f)" % (rc["statistics"]["real"], rc["statistics"]["predict"]))
print(("ok" if i == 0 else "FAIL") + "\tthe flood agent is the first (most likely) cause")
PY
}
report < <(verdict "$OUT/analyze.json")
report < <(verdict "$OUT/analyze-audit.json" | sed "s/\t/\t(audit log) /")
finish
