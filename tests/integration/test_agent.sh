#!/usr/bin/env bash
# kapimon agent against the testbed: `agent --pid --metrics --otlp --flows` while a client with its own
# user agent lists, gets, creates and deletes configmaps (and gets a 404):
#   - /metrics: kapimon_requests_by_client_total for that agent equals the audit log's count of its
#     requests per (verb, resource); kapimon_requests_total grew at least as much per (verb, resource);
#     etcd request counts exist; the exposition passes tests/cli/prom_check.py (promtool's rules);
#   - OTLP: tests/integration/otlp_receiver.py (an independent wire-format decoder) got one SERVER span
#     per audited request of that agent, and every etcd CLIENT span of those requests is a child of its
#     request's span, in its trace, inside it in time;
#   - flows: DIR/flows.jsonl holds one request record per audited request of that agent, mode 0600;
#     SIGHUP reopens it after an external rename;
#   - SIGTERM: exit 0, no span dropped.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out}/agent
rm -rf "$OUT" && mkdir -p "$OUT/flows"
RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
UA=kapimon-agent-test-$RUN
kp= rp=
trap 'kill $kp $rp 2>/dev/null' EXIT

python3 "$KAPIMON_ROOT/tests/integration/otlp_receiver.py" --port 0 --port-file "$OUT/rport" --out "$OUT/spans.jsonl" \
	2>"$OUT/receiver.err" &
rp=$!
wait_for "OTLP receiver listening" 20 test -s "$OUT/rport" || abort
RPORT=$(cat "$OUT/rport")
"$KAPIMON" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 --otlp "http://127.0.0.1:$RPORT" \
	--flows "$OUT/flows" 2>"$OUT/agent.err" &
kp=$!
attached() { grep -q attached "$OUT/agent.err" && grep -q 'metrics at' "$OUT/agent.err"; }
wait_for "agent attached and serving metrics" 60 attached || abort "attach" "$(cat "$OUT/agent.err")"
MPORT=$(sed -n 's/.*metrics at .*(port \([0-9]*\)).*/\1/p' "$OUT/agent.err")
scrape() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics"; }
check "GET /metrics answers" scrape -o /dev/null
scrape >"$OUT/metrics.before"

# the workload: one user agent, a known mix
start=$(date +%s)
for i in $(seq 1 20); do
	api /api/v1/namespaces/default/configmaps -A "$UA" -o /dev/null
	api "/api/v1/namespaces/default/configmaps/kapimon-agent-missing-$i" -A "$UA" -o /dev/null
	api /api/v1/namespaces/default/configmaps -A "$UA" -o /dev/null -X POST -H 'Content-Type: application/json' \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kapimon-agent-$RUN-$i\"},\"data\":{\"k\":\"v\"}}"
	api "/api/v1/namespaces/default/configmaps/kapimon-agent-$RUN-$i" -A "$UA" -o /dev/null -X DELETE
done
audit_since "$start" | python3 -c '
import collections, json, sys
ua = sys.argv[1]
c = collections.Counter()
for line in sys.stdin:
    e = json.loads(line)
    if e.get("userAgent") == ua and e.get("stage") == "ResponseComplete":
        c[e["verb"], e.get("objectRef", {}).get("resource", "")] += 1
json.dump({"%s %s" % k: v for k, v in c.items()}, sys.stdout)' "$UA" >"$OUT/audit.json"
echo "  audit log, by verb and resource: $(cat "$OUT/audit.json")"
check "the audit log has the workload's 80 requests" python3 -c 'import json,sys; sys.exit(0 if sum(json.load(open(sys.argv[1])).values()) == 80 else 1)' "$OUT/audit.json"

# metrics: the per-client counter reaches the audit counts (the agent publishes once a second)
client_counts() { # VERB RESOURCE -> kapimon_requests_by_client_total for $UA
	python3 - "$1" "$UA" <<'PY'
import collections, json, re, sys
text, ua = open(sys.argv[1]).read(), sys.argv[2]
c = collections.Counter()
for m in re.finditer(r'^kapimon_requests_by_client_total\{([^}]*)\} (\S+)$', text, re.M):
    lab = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
    if lab.get("user_agent") == ua:
        c["%s %s" % (lab.get("verb"), lab.get("resource"))] += float(m.group(2))
json.dump(c, sys.stdout, sort_keys=True)
PY
}
metrics_match() {
	scrape >"$OUT/metrics.after" || return 1
	[ "$(client_counts "$OUT/metrics.after")" = "$(python3 -c 'import json,sys; json.dump({k: float(v) for k, v in json.load(open(sys.argv[1])).items()}, sys.stdout, sort_keys=True)' "$OUT/audit.json")" ]
}
wait_for "kapimon_requests_by_client_total for the agent equals the audit log per (verb, resource)" 20 metrics_match
echo "  /metrics, that agent: $(client_counts "$OUT/metrics.after")"
check "/metrics passes the exposition-format checker (promtool's rules)" python3 "$KAPIMON_ROOT/tests/cli/prom_check.py" "$OUT/metrics.after"
# promtool: installed, or Debian's unpacked by scripts/fetch-prometheus.sh (make test fetches it)
PROMTOOL=$(command -v promtool || echo "${KAPIMON_CACHE:-/var/cache/kapimon}/prometheus/usr/bin/promtool")
if [ -x "$PROMTOOL" ]; then
	check "promtool check metrics" sh -c "'$PROMTOOL' check metrics <'$OUT/metrics.after'"
else
	echo "  SKIP  promtool check metrics (no promtool: scripts/fetch-prometheus.sh)"
fi
report < <(python3 - "$OUT/metrics.before" "$OUT/metrics.after" "$OUT/audit.json" <<'PY'
import collections, json, re, sys
def totals(path):
    c = collections.Counter()
    for m in re.finditer(r'^kapimon_requests_total\{([^}]*)\} (\S+)$', open(path).read(), re.M):
        lab = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        c["%s %s" % (lab.get("verb"), lab.get("resource"))] += float(m.group(2))
    return c
b, a, audit = totals(sys.argv[1]), totals(sys.argv[2]), json.load(open(sys.argv[3]))
ok = all(a[k] - b[k] >= v for k, v in audit.items())
print(("ok" if ok else "FAIL") + "\tkapimon_requests_total grew at least by the workload per (verb, resource)\t" +
      json.dumps({k: a[k] - b[k] for k in audit}))
text = open(sys.argv[2]).read()
txn = sum(float(m.group(1)) for m in re.finditer(r'^kapimon_etcd_requests_total\{[^}]*op="txn"[^}]*\} (\S+)$', text, re.M))
print(("ok" if txn >= 40 else "FAIL") + "\tkapimon_etcd_requests_total counts the creates' and deletes' txns (%d)" % txn)
PY
)

# OTLP: spans of that agent's requests, and their etcd children
spans_complete() {
	python3 - "$OUT/spans.jsonl" "$UA" <<'PY'
import json, sys
n = sum(1 for l in open(sys.argv[1]) if '"type": "span"' in l or '"type":"span"' in l
        for s in [json.loads(l)] if s.get("attributes", {}).get("user_agent.original") == sys.argv[2])
sys.exit(0 if n >= 80 else 1)
PY
}
wait_for "the receiver got the workload's SERVER spans" 30 spans_complete
report < <(python3 - "$OUT/spans.jsonl" "$UA" "$OUT/audit.json" "$KAPIMON_APISERVER_PID" <<'PY'
import collections, json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
spans = [s for s in spans if s.get("type") == "span"]
ua, audit = sys.argv[2], json.load(open(sys.argv[3]))
server = [s for s in spans if s["attributes"].get("user_agent.original") == ua]
kinds = collections.Counter(s["kind"] for s in server)
print(("ok" if len(server) == sum(audit.values()) else "FAIL") +
      "\tone SERVER span per audited request of the agent (%d spans, %d audited)" % (len(server), sum(audit.values())))
print(("ok" if set(kinds) == {2} else "FAIL") + "\tthey are of kind SERVER (2)\t%s" % dict(kinds))
byid = {s["span_id"]: s for s in server}
children = [s for s in spans if s.get("parent_span_id") in byid]
bad = [c for c in children if c["trace_id"] != byid[c["parent_span_id"]]["trace_id"] or c["kind"] != 3
       or c["attributes"].get("db.system.name") != "etcd"
       or not (byid[c["parent_span_id"]]["start"] <= c["start"] and c["end"] <= byid[c["parent_span_id"]]["end"])]
print(("ok" if len(children) >= 40 else "FAIL") + "\tetcd CLIENT spans are children of the agent's request spans (%d)" % len(children))
print(("ok" if not bad else "FAIL") + "\teach shares its parent's trace, is a CLIENT span of db.system.name=etcd, and lies inside its parent\t%s" % json.dumps(bad[:1])[:300])
res = server[0]["resource"] if server else {}
print(("ok" if str(res.get("process.pid")) == sys.argv[4] and res.get("service.name") == "kube-apiserver" else "FAIL") +
      "\tthe resource names the apiserver (service.name, process.pid)\t%s" % json.dumps(res)[:200])
PY
)

# flows
check_eq "flows.jsonl is mode 0600" 600 "$(stat -c %a "$OUT/flows/flows.jsonl")"
flows_count() { grep -c "\"user_agent\":\"$UA\"" "$OUT/flows/flows.jsonl" 2>/dev/null || echo 0; }
flows_done() { [ "$(flows_count)" -ge 80 ]; }
wait_for "flows.jsonl has the workload's request records" 20 flows_done
check_eq "one request record per audited request of the agent" 80 "$(flows_count)"
mv "$OUT/flows/flows.jsonl" "$OUT/flows/moved.jsonl"
kill -HUP "$kp"
wait_for "SIGHUP: the agent reopens flows.jsonl" 10 test -e "$OUT/flows/flows.jsonl"

kill -TERM "$kp"
wait "$kp"
check_eq "SIGTERM: agent exits 0" 0 "$?"
kp=
check "no span dropped or failed" grep -q 'dropped 0, failed 0' "$OUT/agent.err"
grep 'otlp spans' "$OUT/agent.err" | sed 's/^/  /'
finish
