#!/usr/bin/env bash
# kapimon agent's anomaly detector (top's detector and live cause, aggregate/live_anomaly.h) on the
# testbed: `agent --pid --metrics --flows` while two steady clients run; once the detector has a baseline
# (kapimon_anomaly_detector_ready 1) and 10 s more of steady traffic, one new user agent floods
# `list configmaps` for 20 s (h2load, 200 req/s), then stops:
#   - during the flood: a stderr line in top's words ("anomaly since HH:MM:SS: requests +N/s (A vs B
#     expected) -- cause: user_agent=<flooder>..."), a {"kind":"anomaly"} line in DIR/flows.jsonl whose
#     cause names the flooder, /metrics with kapimon_anomaly_active{metric="requests"} 1 and
#     kapimon_anomaly_cause_info{user_agent="<flooder>"} 1 (exposition checked by prom_check.py and
#     promtool when present);
#   - after it: the event ends (stderr "anomaly since ... until ...", a "phase":"end" line, active 0,
#     no cause series); the flood was one event (one start naming the flooder);
#   - SIGTERM: exit 0.
# Needs the testbed env (tests/integration/run.sh) and h2load. Artefacts: build/test-out/agent_anomaly.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out}/agent_anomaly
rm -rf "$OUT" && mkdir -p "$OUT/flows"
RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
FLOOD_UA=agent-flood-$RUN
kp= s1= s2= hp=
trap 'kill $kp $s1 $s2 $hp 2>/dev/null' EXIT

command -v h2load >/dev/null || { echo "  SKIP  $T_NAME: no h2load"; finish; exit 0; }

steady() { # UA PATH SECONDS: a synthetic client, a few requests a second
	local end=$(($(date +%s) + $3))
	while (($(date +%s) < end)); do
		api "$2" -A "$1" -o /dev/null || true
		sleep 0.1 # pacing of a synthetic client, not synchronisation
	done
}

"$KAPIMON" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 --flows "$OUT/flows" 2>"$OUT/agent.err" &
kp=$!
attached() { grep -q attached "$OUT/agent.err" && grep -q 'metrics at' "$OUT/agent.err"; }
wait_for "agent attached and serving metrics" 60 attached || abort "attach" "$(cat "$OUT/agent.err")"
MPORT=$(sed -n 's/.*metrics at .*(port \([0-9]*\)).*/\1/p' "$OUT/agent.err")
scrape() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics"; }
start=$(date +%s)
steady agent-steady-a/1.0 /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases 400 &
s1=$!
steady agent-steady-b/1.0 /api/v1/namespaces 400 &
s2=$!
# metric NAME [LABELS-REGEX]: the value of the first sample of NAME in a fresh scrape
metric() { scrape | sed -n "s/^$1{metric=\"requests\"${2:-}[^}]*} \(.*\)$/\1/p" | head -n 1; }
ready() { [ "$(metric kapimon_anomaly_detector_ready)" = 1 ]; }
wait_for "the agent's detector has a baseline (kapimon_anomaly_detector_ready 1)" 120 ready || abort
steady_for() { [ $(($(date +%s) - start)) -ge "$1" ]; }
wait_for "10 more seconds of steady traffic" 30 steady_for $(($(date +%s) - start + 10))
check_eq "no event on the steady baseline (kapimon_anomaly_active 0)" 0 "$(metric kapimon_anomaly_active)"

# the flood: one new agent, 200 list requests a second for 20 s
flood_t0=$(date +%s.%N)
h2load -D 20 -c 2 -m 1 --rps 100 -H "user-agent: $FLOOD_UA" -H "authorization: Bearer $KAPIMON_TOKEN" \
	"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" >"$OUT/h2load" 2>&1 &
hp=$!
stderr_cause() { grep -E "^kapimon: agent: anomaly since [0-9:]{8}: requests \+[0-9]+/s \([0-9]+ vs [0-9]+ expected\) -- cause: user_agent=$FLOOD_UA[,( ]" "$OUT/agent.err"; }
wait_for "stderr: top's cause line naming the flooder, within 10 s of the flood's start" 10 stderr_cause
stderr_cause | sed 's/^/  /'
# the flows' anomaly lines, as "phase seq user_agent" (the cause's agent, "-" when none)
anomaly_lines() {
	python3 - "$OUT/flows/flows.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if '"kind":"anomaly"' not in line:
        continue
    d = json.loads(line)
    ua = d["cause"].get("attrs", {}).get("user_agent", "-") if d["cause"]["found"] else "-"
    print(d["phase"], d["seq"], ua, d["metric"], d["direction"], d["start"], d.get("end", "-"))
PY
}
flows_cause() { anomaly_lines | grep -E "^(start|cause) [0-9]+ $FLOOD_UA requests high "; }
wait_for "flows: a {\"kind\":\"anomaly\"} line whose cause is the flooder" 10 flows_cause
active_cause() {
	scrape >"$OUT/metrics.event" || return 1
	grep -q '^kapimon_anomaly_active{metric="requests"} 1$' "$OUT/metrics.event" &&
		grep -qE "^kapimon_anomaly_cause_info\{metric=\"requests\",direction=\"high\",user_agent=\"$FLOOD_UA\",[^}]*\} 1$" "$OUT/metrics.event"
}
wait_for "/metrics: kapimon_anomaly_active 1 with the flooder as kapimon_anomaly_cause_info" 10 active_cause
grep -E '^kapimon_anomal' "$OUT/metrics.event" | sed 's/^/  /'
check "/metrics during the event passes the exposition-format checker" python3 "$KAPIMON_ROOT/tests/cli/prom_check.py" "$OUT/metrics.event"
PROMTOOL=$(command -v promtool || echo "${KAPIMON_CACHE:-/var/cache/kapimon}/prometheus/usr/bin/promtool")
if [ -x "$PROMTOOL" ]; then
	check "promtool check metrics (during the event)" sh -c "'$PROMTOOL' check metrics <'$OUT/metrics.event'"
else
	echo "  SKIP  $T_NAME: promtool check metrics (no promtool: scripts/fetch-prometheus.sh)"
fi
wait "$hp"
hp=
flood_t1=$(date +%s)
check "h2load flood ran without failures" grep -qE "succeeded, 0 failed" "$OUT/h2load"
grep -E "^requests:" "$OUT/h2load" | sed 's/^/  h2load /'

# the end
SEQ=$(flows_cause | head -n 1 | cut -d' ' -f2)
stderr_end() { grep -E "^kapimon: agent: anomaly since [0-9:]{8} until [0-9:]{8} \([0-9]+ s\): .* -- cause: user_agent=$FLOOD_UA[,( ]" "$OUT/agent.err"; }
wait_for "stderr: the event ended after the flood stopped" 60 stderr_end
stderr_end | sed 's/^/  /'
flows_end() { anomaly_lines | grep -E "^end $SEQ $FLOOD_UA requests high "; }
wait_for "flows: the event's \"phase\":\"end\" line" 10 flows_end
inactive() {
	scrape >"$OUT/metrics.after" || return 1
	grep -q '^kapimon_anomaly_active{metric="requests"} 0$' "$OUT/metrics.after" &&
		! grep -q '^kapimon_anomaly_cause_info{' "$OUT/metrics.after"
}
wait_for "/metrics: kapimon_anomaly_active 0 and no cause series after the event" 10 inactive
report < <(python3 - "$OUT/flows/flows.jsonl" "$FLOOD_UA" "$SEQ" "$flood_t1" <<'PY'
import datetime, json, sys
path, ua, seq, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
recs = [json.loads(l) for l in open(path) if '"kind":"anomaly"' in l]
named = {r["seq"] for r in recs if r["cause"]["found"] and r["cause"]["attrs"].get("user_agent") == ua}
starts = [r for r in recs if r["phase"] == "start" and r["seq"] in named]
print(("ok" if len(starts) == 1 else "FAIL") + "\tthe flood was one event (starts naming the flooder: %d)" % len(starts))
end = [r for r in recs if r["phase"] == "end" and r["seq"] == seq]
def t(s):
    return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
ok = len(end) == 1 and t(end[0]["end"]) >= t1 - 3 and end[0]["duration_s"] >= 15
print(("ok" if ok else "FAIL") + "\tthe event ends after the flood stopped (h2load ended %d; end %s, %s s)\t%s" %
      (t1, end[0]["end"] if end else "-", end[0]["duration_s"] if end else "-", json.dumps(end)[:400]))
s = starts[0] if starts else {}
ok = s.get("observed_per_s", 0) > 100 and s.get("expected_per_s", 1e9) < s.get("observed_per_s", 0) / 3 and s.get("score", 0) > 4
print(("ok" if ok else "FAIL") + "\tthe start line: observed %s/s vs %s/s expected, score %s" %
      (s.get("observed_per_s"), s.get("expected_per_s"), s.get("score")))
PY
)
anomaly_lines | sed 's/^/  flows: /'
kill "$s1" "$s2" 2>/dev/null
wait "$s1" "$s2" 2>/dev/null
kill -TERM "$kp"
wait "$kp"
check_eq "agent exits 0 on SIGTERM" 0 "$?"
kp=
finish
