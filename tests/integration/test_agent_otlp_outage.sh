#!/usr/bin/env bash
# The agent's OTLP export when the receiver goes away, comes back, throttles and refuses (issue 12:
# "with the receiver down, capture continues and drops are counted"; OTLP/HTTP retry semantics):
#   otlp_receiver.py --control on a loopback port; kapimon agent --pid --metrics --otlp --otlp-queue 400
#   A. receiver up: 20 lists of one user agent -> their 20 SERVER spans arrive;
#   B. receiver stopped (the port refuses connections); h2load sends 3000 lists (300/s, own user agent):
#      the agent keeps capturing (kapimon_requests_by_client_total = the audit log's 3000), the queue
#      never exceeds its bound (kapimon_otlp_queue_spans <= 400 = capacity, scraped every 0.5 s), drops
#      are counted (kapimon_otlp_spans_total{result="dropped"} > 0) and said on stderr, every span is
#      accounted for (queued + dropped = requests + etcd calls the agent counted), HTTP attempts stay
#      within the backoff schedule (6 attempts per >= 7.75 s), VmRSS stays bounded;
#   C. a new receiver on the same port: the agent says so on stderr, the queued spans of the outage
#      arrive, the queue drains, and the spans of 20 more lists arrive;
#   D. through /control: three 503s without Retry-After (the same batch retried after [0.25, 0.5],
#      [0.5, 1], [1, 2] s: exponential backoff, equal jitter), two 429s with Retry-After: 2 (retried after
#      >= 2 s, not the backoff's 0.25-0.5 s), one 400 (permanent: that batch is never sent again and its
#      spans are counted failed); each time the batch is delivered or failed as the counters say;
#   end: SIGTERM, exit 0; spans the agent counts as sent were all received (sent <= distinct spans
#      received <= sent + failed: a receiver killed between reading a batch and answering).
# Artefacts in $KAPIMON_TEST_OUT/agent-otlp-outage (default build/test-out/agent-otlp-outage).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out}/agent-otlp-outage
rm -rf "$OUT" && mkdir -p "$OUT"
RUN=$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
QUEUE=400
NWARM=9000 # first requests while down: the queue fills, the agent's bounded tables warm up. Rings used
# round-robin have their pages touched only once they went round: the etcd assembler's 8192 recent
# requests (13.5 MB, measured: +1.1 kB of VmRSS per request until then) and the pipeline's 2048 held ones
NDOWN=5000 # then these: every span beyond the queue is dropped; VmRSS must not follow
SLACK=0.6 # seconds a retry may come late on this shared machine (scheduling, connect); never early
kp= rp= sp=
trap 'kill $kp $rp $sp 2>/dev/null' EXIT
RECV=$KAPIMON_ROOT/tests/integration/otlp_receiver.py

start_receiver() { # N PORT: receiver number N (spans in $OUT/spans-N.jsonl)
	rm -f "$OUT/rport"
	python3 "$RECV" --control --port "$2" --port-file "$OUT/rport" --out "$OUT/spans-$1.jsonl" 2>>"$OUT/receiver.err" &
	rp=$!
	wait_for "receiver $1 listening (port $2)" 20 test -s "$OUT/rport" || abort
}
start_receiver 1 0
PORT=$(cat "$OUT/rport")
# --no-anomalies: the VmRSS bound below is the OTLP queue's; the detector's aggregate fills its own
# (bounded, tests/unit/test_aggregate_mem) pages during the first minute and would blur it
"$KAPIMON" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 --otlp "http://127.0.0.1:$PORT" \
	--otlp-queue $QUEUE --no-anomalies 2>"$OUT/agent.err" &
kp=$!
attached() { grep -q attached "$OUT/agent.err" && grep -q 'metrics at' "$OUT/agent.err"; }
wait_for "agent attached and serving metrics" 60 attached || abort "attach" "$(cat "$OUT/agent.err")"
MPORT=$(sed -n 's/.*metrics at .*(port \([0-9]*\)).*/\1/p' "$OUT/agent.err")
scrape() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$1"; }
metric() { # FILE NAME{labels}: the value (0 when absent)
	awk -v n="$2" '$1 == n {v = $2} END {print v == "" ? 0 : v}' "$1"
}
server_spans() { # FILE UA: SERVER spans of that user agent received
	grep -F "\"user_agent.original\": \"$2\"" "$1" 2>/dev/null | grep -c '"kind": 2'
}
lists() { # UA N: N lists of configmaps, sequential
	for _ in $(seq "$2"); do api /api/v1/namespaces/default/configmaps -A "$1" -o /dev/null; done
}

# ---- A: up ---------------------------------------------------------------------------------------------
UA_A=kapimon-outage-a-$RUN
lists "$UA_A" 20
has_spans() { [ "$(server_spans "$1" "$2")" -ge "$3" ]; }
wait_for "A: receiver 1 got the 20 SERVER spans" 20 has_spans "$OUT/spans-1.jsonl" "$UA_A" 20

# ---- B: down -------------------------------------------------------------------------------------------
kill -TERM "$rp"
wait "$rp" 2>/dev/null
rp=
check "B: the receiver's port refuses connections" sh -c "! curl -s --max-time 2 -o /dev/null http://127.0.0.1:$PORT/"
scrape "$OUT/m.b0"
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$kp/status")
# sampler: VmRSS and the queue gauges every 0.5 s while the receiver is down
(
	while :; do
		echo "$(date +%s.%N) $(awk '/VmRSS/ {print $2}' "/proc/$kp/status") $(curl -s --max-time 2 "http://127.0.0.1:$MPORT/metrics" |
			awk '$1 == "kapimon_otlp_queue_spans" || $1 == "kapimon_otlp_queue_capacity_spans" {printf "%s ", $2}')"
		sleep 0.5 # sampling period
	done
) >"$OUT/samples.txt" 2>/dev/null &
sp=$!
UA_B=kapimon-outage-b-$RUN
tb0=$(date +%s.%N)
start_b=$(date +%s)
load() { # N FILE
	h2load -n "$1" -c 1 -m 1 --rps 400 -H "user-agent: $UA_B" -H "authorization: Bearer $KAPIMON_TOKEN" \
		"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" >"$2" 2>&1
	check "B: h2load: $1 requests, all 2xx" grep -q "$1 succeeded, 0 failed" "$2"
	grep -E '^requests:' "$2" | sed 's/^/  /'
}
load $NWARM "$OUT/h2load-warm.txt"
scrape "$OUT/m.b1"
rss1=$(awk '/VmRSS/ {print $2}' "/proc/$kp/status")
load $NDOWN "$OUT/h2load.txt"
NDOWN=$((NWARM + NDOWN))
# ResponseComplete lines only: count those
audit_b_n() { audit_since "$start_b" | grep -F "\"userAgent\":\"$UA_B\"" | grep -c '"stage":"ResponseComplete"'; }
client_b() { # kapimon_requests_by_client_total for UA_B, summed
	scrape "$OUT/m.cb" && awk -v ua="user_agent=\"$UA_B\"" 'index($0, "kapimon_requests_by_client_total{") == 1 && index($0, ua) {s += $NF} END {print s + 0}' "$OUT/m.cb"
}
nb=$(audit_b_n)
check_eq "B: the audit log has the $NDOWN requests" "$NDOWN" "$nb"
captured() { [ "$(client_b)" = "$nb" ]; }
wait_for "B: capture went on: kapimon_requests_by_client_total for that agent = the audit log's $nb" 20 captured
# a quiet moment for the accounting: the agent published twice without new records
quiet() {
	scrape "$OUT/m.q1" && sleep 1.2 && scrape "$OUT/m.q2" && # 1.2 s: longer than the publishing period
		[ "$(metric "$OUT/m.q1" 'kapimon_otlp_spans_total{result="queued"}')" = "$(metric "$OUT/m.q2" 'kapimon_otlp_spans_total{result="queued"}')" ] &&
		[ "$(metric "$OUT/m.q1" 'kapimon_otlp_spans_total{result="dropped"}')" = "$(metric "$OUT/m.q2" 'kapimon_otlp_spans_total{result="dropped"}')" ]
}
wait_for "B: the agent's counters settle" 20 quiet
tb1=$(date +%s.%N)
kill "$sp" 2>/dev/null
wait "$sp" 2>/dev/null
sp=
cp "$OUT/m.q2" "$OUT/m.b2"
python3 - "$OUT/m.b0" "$OUT/m.b2" "$OUT/samples.txt" "$rss0" "$QUEUE" "$tb0" "$tb1" "$OUT/agent.err" "$OUT/m.b1" "$rss1" "$NWARM" <<'PY' | report
import os, re, sys
def load(p):
    d = {}
    for l in open(p):
        if l and l[0] != "#":
            k, v = l.rsplit(" ", 1)
            d[k] = float(v)
    return d
b0, b2 = load(sys.argv[1]), load(sys.argv[2])
rss0, cap, T = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[7]) - float(sys.argv[6])
def fam(d, prefix):
    return sum(v for k, v in d.items() if k.startswith(prefix + "{") or k == prefix)
def delta(name):
    return b2.get(name, 0) - b0.get(name, 0)
dropped = delta('kapimon_otlp_spans_total{result="dropped"}')
queued = delta('kapimon_otlp_spans_total{result="queued"}')
print(("ok" if dropped > 0 else "FAIL") + "\tspans dropped while the receiver was down are counted (%d dropped, %d queued)" % (dropped, queued))
print(("ok" if b2.get("kapimon_otlp_queue_capacity_spans") == cap else "FAIL") +
      "\tkapimon_otlp_queue_capacity_spans = --otlp-queue (%s)" % b2.get("kapimon_otlp_queue_capacity_spans"))
samples = [l.split() for l in open(sys.argv[3]) if len(l.split()) >= 4]
qmax = max(float(s[2]) for s in samples) if samples else -1
print(("ok" if samples and qmax <= cap and all(float(s[3]) == cap for s in samples) else "FAIL") +
      "\tkapimon_otlp_queue_spans <= %d in every scrape while down (%d scrapes, max %d)" % (cap, len(samples), qmax))
# every span offered is queued or dropped: requests + unary etcd calls counted by the Prometheus sink, same render
offered = (fam(b2, "kapimon_requests_total") - fam(b0, "kapimon_requests_total") +
           fam(b2, "kapimon_etcd_requests_total") - fam(b0, "kapimon_etcd_requests_total"))
other = sum(delta('kapimon_otlp_spans_total{result="%s"}' % r) for r in ("sampled_out", "encode_error", "no_exporter"))
print(("ok" if abs(queued + dropped + other - offered) < 1e-6 else "FAIL") +
      "\tevery span accounted for: queued %d + dropped %d = requests + etcd calls counted (%d)" % (queued, dropped, offered))
errs = delta("kapimon_otlp_export_errors_total")
bound = 6 * (T / 7.75 + 1)
print(("ok" if 1 <= errs <= bound else "FAIL") +
      "\tHTTP attempts while down follow the backoff: %d failed attempts in %.1f s (<= %.1f: 6 per >= 7.75 s)" % (errs, T, bound))
rss = [int(s[1]) for s in samples]
b1, rss1 = load(sys.argv[9]), int(sys.argv[10])
late = [int(s[1]) for s in samples if float(s[0]) > float(os.path.getmtime(sys.argv[9]))]
dropped2 = b2.get('kapimon_otlp_spans_total{result="dropped"}', 0) - b1.get('kapimon_otlp_spans_total{result="dropped"}', 0)
growth = max(late) - rss1 if late else 0
# keeping the spans dropped in the second part would take at least their wire size (~430 bytes each)
limit = dropped2 * 0.43 / 4
print(("ok" if late and dropped2 > 2000 and growth <= limit else "FAIL") +
      "\tVmRSS bounded while down: %d kB at the stop, %d kB after the first %s requests, then max %d kB while %d more spans "
      "were dropped (+%d kB; limit %d kB = a quarter of their wire size)" %
      (rss0, rss1, sys.argv[11], max(late) if late else 0, dropped2, growth, limit))
err = open(sys.argv[8]).read()
print(("ok" if "cannot reach http://" in err else "FAIL") + "\tstderr: the agent says it cannot reach the receiver")
m = re.findall(r"otlp: (\d+) spans dropped \(queue full\)", err)
print(("ok" if m and sum(map(int, m)) <= dropped + 1e-6 else "FAIL") +
      "\tstderr: lost spans reported (%s)" % ", ".join(m))
PY
grep -E '^kapimon_otlp' "$OUT/m.b2" | sed 's/^/  /'
exited_not() { ! exited "$kp"; }
check "B: the agent is still running" exited_not

# ---- C: back -------------------------------------------------------------------------------------------
# The queue is full of spans from the outage (new ones are dropped, as an OpenTelemetry SDK's batch
# processor does); the batch in flight waits out its backoff (at most 8 s), then the queue drains.
start_receiver 2 "$PORT"
works_again() { grep -q "otlp: export to http://127.0.0.1:$PORT/v1/traces works again" "$OUT/agent.err"; }
wait_for "C: stderr: export works again" 40 works_again
drained() { scrape "$OUT/m.c" && [ "$(metric "$OUT/m.c" kapimon_otlp_queue_spans)" = 0 ]; }
wait_for "C: the queue drains" 30 drained
check_ge "C: spans queued during the outage reached receiver 2 (SERVER spans of the outage's user agent)" 1 \
	"$(server_spans "$OUT/spans-2.jsonl" "$UA_B")"
UA_C=kapimon-outage-c-$RUN
lists "$UA_C" 20
wait_for "C: receiver 2 got the 20 SERVER spans of requests made after it came back" 30 has_spans "$OUT/spans-2.jsonl" "$UA_C" 20

# ---- D: statuses ---------------------------------------------------------------------------------------
control() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST -d "$1" "http://127.0.0.1:$PORT/control"; }
UA_D=kapimon-outage-d-$RUN
n_req() { grep -c '"type": "request"' "$OUT/spans-2.jsonl"; }
delivered_after() { # N: a 200 after request line N
	tail -n +"$(($1 + 1))" "$OUT/spans-2.jsonl" | grep '"type": "request"' | grep -q '"status": 200'
}
failed_after() { tail -n +"$(($1 + 1))" "$OUT/spans-2.jsonl" | grep '"type": "request"' | grep -q '"status": 400'; }
phase() { # NAME CONTROL-JSON: set the receiver, make spans, await the outcome
	local name=$1 before
	scrape "$OUT/m.$name.0"
	before=$(wc -l <"$OUT/spans-2.jsonl")
	echo "$before" >"$OUT/$name.line"
	check_eq "D: /control $2" 204 "$(control "$2")"
	lists "$UA_D-$name" 5
}
phase 503 '{"fail": 3, "status": 503}'
wait_for "D 503: the batch is delivered after three 503s" 30 delivered_after "$(cat "$OUT/503.line")"
phase 429 '{"fail": 2, "status": 429, "retry_after": 2}'
wait_for "D 429: the batch is delivered after two 429s with Retry-After: 2" 30 delivered_after "$(cat "$OUT/429.line")"
phase 400 '{"fail": 1, "status": 400}'
wait_for "D 400: the receiver answered 400" 30 failed_after "$(cat "$OUT/400.line")"
n400=$(wc -l <"$OUT/spans-2.jsonl")
lists "$UA_D-after400" 3
wait_for "D 400: a later batch is delivered" 30 delivered_after "$n400"
settled() { scrape "$OUT/m.d" && [ "$(metric "$OUT/m.d" kapimon_otlp_queue_spans)" = 0 ]; }
wait_for "D: the queue drains" 30 settled
# the last batch's counters are in the scrape once two scrapes a publishing period apart agree
exported_settle() {
	scrape "$OUT/m.d0" && sleep 1.2 && scrape "$OUT/m.d" && # 1.2 s: longer than the publishing period
		[ "$(grep '^kapimon_otlp_exported_spans_total' "$OUT/m.d0")" = "$(grep '^kapimon_otlp_exported_spans_total' "$OUT/m.d")" ]
}
wait_for "D: the exported counters settle" 20 exported_settle
python3 - "$OUT/spans-2.jsonl" "$OUT/503.line" "$OUT/429.line" "$OUT/400.line" "$OUT/m.503.0" "$OUT/m.d" "$SLACK" "$OUT/agent.err" <<'PY' | report
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
slack = float(sys.argv[7])
def reqs_after(n):
    return [o for o in lines[n:] if o.get("type") == "request" and o.get("path") == "/v1/traces"]
def load(p):
    d = {}
    for l in open(p):
        if l and l[0] != "#":
            k, v = l.rsplit(" ", 1)
            d[k] = float(v)
    return d
def phase(path, status, nfail, windows, what):
    r = reqs_after(int(open(path).read()))
    fails = r[:nfail]
    ok = len(r) > nfail and all(x["status"] == status for x in fails) and r[nfail]["status"] == 200
    same = ok and len({x["body_sha"] for x in r[:nfail + 1]}) == 1
    print(("ok" if ok else "FAIL") + "\t%s: %d x %d, then 200\t%s" % (what, nfail, status, [x["status"] for x in r[:nfail + 1]]))
    print(("ok" if same else "FAIL") + "\t%s: the same batch each time (body digest)" % what)
    if not ok:
        return
    gaps = [r[i + 1]["t"] - r[i]["t"] for i in range(nfail)]
    good = all(lo - 0.01 <= g <= hi + slack for g, (lo, hi) in zip(gaps, windows))
    print(("ok" if good else "FAIL") + "\t%s: retried after %s s, within %s (+%.1f s late allowed)" %
          (what, ", ".join("%.3f" % g for g in gaps), windows, slack))
phase(sys.argv[2], 503, 3, [(0.25, 0.5), (0.5, 1.0), (1.0, 2.0)], "503 without Retry-After (exponential backoff, equal jitter)")
phase(sys.argv[3], 429, 2, [(2.0, 2.0), (2.0, 2.0)], "429 with Retry-After: 2")
r = reqs_after(int(open(sys.argv[4]).read()))
bad = [x for x in r if x["status"] == 400]
if bad:
    b = bad[0]
    again = [x for x in r if x["body_sha"] == b["body_sha"] and x is not b]
    print(("ok" if not again else "FAIL") + "\t400: that batch is never sent again (%d spans in it)" % b["body_spans"])
else:
    print("FAIL\t400: the receiver answered 400")
m0, m1 = load(sys.argv[5]), load(sys.argv[6])
def d(k):
    return m1.get(k, 0) - m0.get(k, 0)
failed = d('kapimon_otlp_exported_spans_total{result="failed"}')
print(("ok" if bad and failed == bad[0]["body_spans"] else "FAIL") +
      "\t400: exactly that batch's spans are counted failed (%d)" % failed)
print(("ok" if d("kapimon_otlp_retries_total") == 5 else "FAIL") +
      "\tkapimon_otlp_retries_total grew by 3 + 2 (%d)" % d("kapimon_otlp_retries_total"))
print(("ok" if d("kapimon_otlp_export_errors_total") == 6 else "FAIL") +
      "\tkapimon_otlp_export_errors_total grew by 3 + 2 + 1 (%d)" % d("kapimon_otlp_export_errors_total"))
err = open(sys.argv[8]).read()
for st in (503, 429, 400):
    print(("ok" if "answered HTTP %d" % st in err else "FAIL") + "\tstderr: answered HTTP %d" % st)
PY

# ---- end -----------------------------------------------------------------------------------------------
kill -TERM "$kp"
wait_for "agent exits after SIGTERM" 30 exited "$kp"
rc=0
wait "$kp" || rc=$?
kp=
check_eq "SIGTERM: agent exits 0" 0 "$rc"
grep 'otlp spans' "$OUT/agent.err" | sed 's/^/  /'
python3 - "$OUT/agent.err" "$KAPIMON_APISERVER_PID" "$OUT"/spans-*.jsonl <<'PY' | report
import json, re, sys
m = re.search(r"otlp spans queued (\d+), sent (\d+), dropped (\d+), failed (\d+), rejected (\d+)", open(sys.argv[1]).read())
ids = set()
for p in sys.argv[3:]:
    for l in open(p):
        o = json.loads(l)
        if o.get("type") == "span" and str(o["resource"].get("process.pid")) == sys.argv[2]:
            ids.add(o["span_id"])
if not m:
    print("FAIL\tthe agent's last line has the OTLP totals")
else:
    q, s, dr, f, rj = map(int, m.groups())
    print(("ok" if q == s + f + rj else "FAIL") + "\tevery queued span ended sent, failed or rejected (%d = %d + %d + %d)" % (q, s, f, rj))
    print(("ok" if s <= len(ids) <= s + f else "FAIL") +
          "\tspans counted sent were received: sent %d <= %d distinct spans received <= sent + failed %d" % (s, len(ids), s + f))
PY
echo "$T_NAME: artefacts in $OUT"
finish
