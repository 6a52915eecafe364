#!/usr/bin/env bash
# A real Prometheus server (Debian's package, unpacked by scripts/fetch-prometheus.sh, never installed)
# scrapes `kapimon agent --metrics` every second while a client with its own user agent lists, gets,
# creates and deletes configmaps (and gets 404s):
#   - PromQL `sum by (verb, resource) (kapimon_requests_total)` at the end instant minus the same at the
#     start instant equals the audit log's count of every request that finished between them (the
#     workload and the apiserver's own background requests alike);
#   - `sum by (verb, resource) (kapimon_requests_by_client_total{user_agent=UA})`, the same difference,
#     equals the audit log's counts of that user agent exactly (80 requests);
#   - `promtool check metrics` on the endpoint is clean.
# The instants are scrape timestamps chosen in quiet periods: no request finished in the 2.5 s before
# the scrape (the agent publishes once a second, so a request finishing then may or may not be in the
# scraped value) nor in the 0.5 s after it (clock skew between the audit log and the capture); if the
# audit log shows activity around a scrape, the test takes an earlier (start) or later (end) scrape.
# Without the Prometheus binaries: SKIPPED (reported as such), except under CI=true as root, where it
# fails (KAPIMON_ALLOW_SKIP=1 permits skipping anyway).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out}/agent_prometheus
rm -rf "$OUT" && mkdir -p "$OUT/tsdb"

if ! PROMETHEUS=$("$KAPIMON_ROOT/scripts/fetch-prometheus.sh" 2>"$OUT/fetch.err"); then
	if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && [ "${KAPIMON_ALLOW_SKIP:-0}" != 1 ]; then
		abort "scripts/fetch-prometheus.sh (CI=true: refusing to skip)" "$(cat "$OUT/fetch.err")"
	fi
	echo "$T_NAME: SKIPPED: no Prometheus server (scripts/fetch-prometheus.sh failed: $(tail -1 "$OUT/fetch.err"))"
	echo "$T_NAME: 0 passed, 0 failed (skipped)"
	exit 0
fi
PROMTOOL=$(dirname "$PROMETHEUS")/promtool
echo "  $("$PROMETHEUS" --version 2>&1 | head -1)"

RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
UA=kapimon-prom-test-$RUN
kp= pp=
trap 'kill $kp $pp 2>/dev/null' EXIT

"$KAPIMON" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 2>"$OUT/agent.err" &
kp=$!
attached() { grep -q attached "$OUT/agent.err" && grep -q 'metrics at' "$OUT/agent.err"; }
wait_for "agent attached and serving metrics" 60 attached || abort "attach" "$(cat "$OUT/agent.err")"
MPORT=$(sed -n 's/.*metrics at .*(port \([0-9]*\)).*/\1/p' "$OUT/agent.err")

# Prometheus on a free loopback port, its own config and storage
PPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$OUT/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kapimon
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
YML
"$PROMETHEUS" --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" --web.console.templates="$OUT" --web.console.libraries="$OUT" \
	>"$OUT/prometheus.log" 2>&1 &
pp=$!
PROM=http://127.0.0.1:$PPORT
target_up() {
	curl -sf --max-time 2 "$PROM/api/v1/targets" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if t and all(x["health"] == "up" for x in t) else 1)'
}
wait_for "Prometheus scraped the agent (target health up)" 60 target_up ||
	abort "prometheus" "$(tail -5 "$OUT/prometheus.log")"

# promql QUERY TIME: the instant query's JSON result
promql() { curl -sf --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=$1" --data-urlencode "time=$2"; }
# scrapes FROM TO: the timestamps of the agent's scrapes in [FROM, TO] (one per line, seconds)
scrapes() {
	curl -sf --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=up{job=\"kapimon\"}[$(($(printf '%.0f' "$(echo "$2 - $1" | bc)") + 2))s]" \
		--data-urlencode "time=$2" | python3 -c '
import json, sys
lo = float(sys.argv[1])
for r in json.load(sys.stdin)["data"]["result"]:
    for t, v in r["values"]:
        if v == "1" and t >= lo:
            print(t)' "$1"
}
now() { date +%s.%N; }

# quiet_scrape start|end [W_START W_END]: a scrape timestamp in a quiet period (no request finished
# in [s - 2.5 s, s + 0.5 s] according to the audit log) -- start: the latest one (before the workload,
# with 0.5 s to spare, when given); end: the first one 1.5 s or more after the workload. The audit log
# is written synchronously (--audit-log-mode=blocking), so it covers s + 0.5 once now > s + 1.5.
quiet_scrape() {
	audit_since "${t_pre%.*}" >"$OUT/audit.jsonl"
	scrapes "$t_pre" "$(now)" >"$OUT/scrapes.txt"
	python3 - "$OUT/audit.jsonl" "$OUT/scrapes.txt" "$(now)" "$@" <<'PY'
import datetime, json, sys
def ts(s):
    return datetime.datetime.fromisoformat(s.rstrip("Z")[:26]).replace(tzinfo=datetime.timezone.utc).timestamp()
done = [ts(e["stageTimestamp"]) for l in open(sys.argv[1]) for e in [json.loads(l)] if e.get("stage") == "ResponseComplete"]
now, mode = float(sys.argv[3]), sys.argv[4]
w = [float(x) for x in sys.argv[5:]]
ok = [s for s in map(float, open(sys.argv[2]).read().split())
      if s + 1.5 < now and not any(s - 2.5 <= d <= s + 0.5 for d in done)]
if mode == "start":
    ok = [s for s in ok if not w or s <= w[0] - 0.5]
    sys.exit(1) if not ok else print("%.3f" % max(ok))
else:
    ok = [s for s in ok if s >= w[1] + 1.5]
    sys.exit(1) if not ok else print("%.3f" % min(ok))
PY
}
t_pre=$(now)
wait_for "a quiet scrape before the workload" 60 quiet_scrape start ||
	abort "no quiet start instant" "scrapes: $(tr '\n' ' ' <"$OUT/scrapes.txt")"

# the workload: one user agent, a known mix (80 requests)
w_start=$(now)
for i in $(seq 1 20); do
	api /api/v1/namespaces/default/configmaps -A "$UA" -o /dev/null
	api "/api/v1/namespaces/default/configmaps/kapimon-prom-missing-$i" -A "$UA" -o /dev/null
	api /api/v1/namespaces/default/configmaps -A "$UA" -o /dev/null -X POST -H 'Content-Type: application/json' \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kapimon-prom-$RUN-$i\"},\"data\":{\"k\":\"v\"}}"
	api "/api/v1/namespaces/default/configmaps/kapimon-prom-$RUN-$i" -A "$UA" -o /dev/null -X DELETE
done
w_end=$(now)
echo "  workload: 80 requests from $w_start to $w_end"

S0=$(quiet_scrape start "$w_start" "$w_end")
wait_for "a quiet scrape after the workload and the agent's publish interval" 60 quiet_scrape end "$w_start" "$w_end" ||
	abort "no quiet end instant" "scrapes: $(tr '\n' ' ' <"$OUT/scrapes.txt")"
S1=$(quiet_scrape end "$w_start" "$w_end")
echo "  instants (scrape timestamps): start $S0, end $S1 ($(echo "$S1 - $S0" | bc) s)"

# audit log: every request that finished in (S0, S1], and the workload's
python3 - "$OUT/audit.jsonl" "$S0" "$S1" "$UA" >"$OUT/audit.json" <<'PY'
import collections, datetime, json, sys
def ts(s):
    return datetime.datetime.fromisoformat(s.rstrip("Z")[:26]).replace(tzinfo=datetime.timezone.utc).timestamp()
s0, s1, ua = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
allc, uac = collections.Counter(), collections.Counter()
spanning = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("stage") != "ResponseComplete" or not s0 < ts(e["stageTimestamp"]) <= s1:
        continue
    spanning += ts(e["requestReceivedTimestamp"]) <= s0
    k = "%s %s" % (e["verb"], e.get("objectRef", {}).get("resource", ""))
    allc[k] += 1
    if e.get("userAgent") == ua:
        uac[k] += 1
json.dump({"all": allc, "ua": uac, "received_before_start": spanning}, sys.stdout, sort_keys=True)
PY
echo "  audit log, all requests finished in the window: $(json_get "$(cat "$OUT/audit.json")" 'd["all"]')"
echo "  (of which received before the start instant: $(json_get "$(cat "$OUT/audit.json")" 'd["received_before_start"]'))"

# PromQL: the counters' growth between the two instants
delta() { # QUERY -> {"verb resource": increase}
	python3 - "$(promql "$1" "$S0")" "$(promql "$1" "$S1")" <<'PY'
import json, sys
def vec(j):
    return {"%s %s" % (r["metric"].get("verb", ""), r["metric"].get("resource", "")): float(r["value"][1])
            for r in json.loads(j)["data"]["result"]}
a, b = vec(sys.argv[1]), vec(sys.argv[2])
json.dump({k: int(v - a.get(k, 0)) for k, v in b.items() if v - a.get(k, 0)}, sys.stdout, sort_keys=True)
PY
}
P_ALL=$(delta 'sum by (verb, resource) (kapimon_requests_total)')
P_UA=$(delta "sum by (verb, resource) (kapimon_requests_by_client_total{user_agent=\"$UA\"})")
echo "  PromQL sum by (verb, resource) (kapimon_requests_total), end - start: $P_ALL"
check_eq "PromQL: kapimon_requests_total by (verb, resource) grew exactly by the audit log's counts" \
	"$(json_get "$(cat "$OUT/audit.json")" 'd["all"]')" "$(json_get "$P_ALL" d)"
check_eq "PromQL: kapimon_requests_by_client_total{user_agent=UA} equals the audit log's counts of UA" \
	"$(json_get "$(cat "$OUT/audit.json")" 'd["ua"]')" "$(json_get "$P_UA" d)"
check_eq "the workload's 80 requests are in the window" 80 "$(json_get "$P_UA" 'sum(d.values())')"

curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$OUT/metrics.txt"
check "promtool check metrics on the endpoint is clean" sh -c "'$PROMTOOL' check metrics <'$OUT/metrics.txt'"

kill -TERM "$pp" && wait "$pp"
check_eq "Prometheus stopped cleanly" 0 "$?"
pp=
kill -TERM "$kp" && wait "$kp"
check_eq "SIGTERM: agent exits 0" 0 "$?"
kp=
finish
