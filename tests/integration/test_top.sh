#!/usr/bin/env bash
# kapimon top against the testbed.
#
# 1. batch + JSON: `kapimon -j top --batch --interval 1 --prometheus-file F` while a bounded flood of
#    h2 `list configmaps` requests with a distinctive user agent runs; then SIGINT (exit status 0).
#    Checks: the flood agent is the top row by rate in the busiest snapshot, with plausible numbers
#    (rate, no errors, p50 <= p99, bytes); the per-interval counts add up to the requests the flood
#    completed (each request is counted in exactly one interval); the Prometheus file holds the same
#    count as a counter and parses. etcd: the busiest snapshot shows `range` on `configmaps` at a rate
#    within a factor 1.5 of the flood's request rate, the flood row's etcd_per_s is > 0 and within a
#    factor 1.5 of its request rate, most etcd calls are linked to requests, and the linked calls summed
#    over the snapshots are within a factor 1.5 of the flood's requests; a client connection is active.
# 2. --no-etcd: no etcd part in the JSON, no etcd probes in the description.
# 3. --budget 0.05% --budget-period 2 under a flood: a snapshot reports a budget duty < 1 while the flood
#    is still shown (weighted by the sample factor); exit status 0 after SIGINT.
# 4. interactive: `kapimon top` in a detached tmux pane shows the header, the ETCD/S column, the flood
#    agent and the etcd panel; 'e' hides the panel, 'b' changes the grouping, 'q' quits.
# Needs root, ./kapimon, curl, tmux, python3 and the testbed env (taken from scripts/testbed.sh env when
# not exported). Artefacts in $KAPIMON_TEST_OUT/top (default build/test-out/top).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$ROOT/build/test-out}/top
rm -rf "$OUT" && mkdir -p "$OUT"
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
FLOOD_UA=my-flood-agent-$RUN
NOISE_UA=kapimon-test-noise-$RUN
TMUX_SOCK=kapimon-top-$RUN
FLOOD_N=${KAPIMON_TOP_FLOOD:-3000}
KPID=""
CURLPID=""

log() { echo "test_top: $*"; }
die() { echo "test_top: FAIL: $*"; exit 1; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ -z "$CURLPID" ] || kill -KILL "$CURLPID" 2>/dev/null || true
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true
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
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
attached() {
	kill -0 "$KPID" 2>/dev/null || { cat "$OUT/top.stderr"; die "kapimon exited before attaching"; }
	grep -q attached "$OUT/top.stderr"
}
snapshots() { [ -s "$OUT/top.jsonl" ] && wc -l <"$OUT/top.jsonl" || echo 0; }
has_snapshots() { (($(snapshots) >= $1)); }
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"

# flood UA N PATH: N requests over h2 (multiplexed, 8 in parallel); prints one status code per line
flood() {
	curl -sS --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" -A "$1" --max-time 120 -Z --parallel-max 8 \
		-o /dev/null -w '%{http_code}\n' "$KAPIMON_APISERVER_URL$3?n=[1-$2]" 2>/dev/null || true
}

# --- 1. batch + JSON ------------------------------------------------------------------------------------
./kapimon -j top --pid "$KAPIMON_APISERVER_PID" --batch --interval 1 --iterations 600 \
	--prometheus-file "$OUT/kapimon.prom" >"$OUT/top.jsonl" 2>"$OUT/top.stderr" &
KPID=$!
wait_for "kapimon top's 'attached' line" 60 attached
# the flood starts after the first snapshot, so every flood request ends inside a reported interval
wait_for "the first snapshot" 30 has_snapshots 1
first=$(snapshots)
flood "$NOISE_UA" 20 /api/v1/namespaces >"$OUT/noise.codes"
t0=$(date +%s%N)
flood "$FLOOD_UA" "$FLOOD_N" /api/v1/configmaps >"$OUT/flood.codes"
ms=$((($(date +%s%N) - t0) / 1000000))
ok=$(grep -c '^200$' "$OUT/flood.codes" || true)
log "flood: $ok of $FLOOD_N requests answered 200 in $ms ms ($((ok * 1000 / (ms + 1))) req/s from curl's side)"
((ok >= FLOOD_N * 9 / 10)) || die "the flood itself failed ($ok of $FLOOD_N ok)"
# two more whole intervals after the flood ended, then stop
wait_for "two snapshots after the flood" 30 has_snapshots $(($(snapshots) + 2))
kill -INT "$KPID"
wait_for "kapimon top to exit after SIGINT" 30 exited "$KPID"
set +e
wait "$KPID"
rc=$?
set -e
KPID=""
[ "$rc" = 0 ] || { cat "$OUT/top.stderr"; die "kapimon top exited with $rc after SIGINT"; }
grep -q detached "$OUT/top.stderr" || die "no 'detached' message on stderr"

python3 - "$OUT/top.jsonl" "$FLOOD_UA" "$ok" "$first" "$OUT/kapimon.prom" <<'EOF' || die "snapshot checks failed"
import json, math, re, sys
path, ua, ok, first, prom = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
snaps = [json.loads(l) for l in open(path)]
fails = []
def check(cond, msg):
    if not cond:
        fails.append(msg)
for s in snaps:
    for k in ("ts", "pid", "probes", "total", "capture", "anomaly", "rows", "rows_total", "etcd", "connections",
              "budget"):
        check(k in s, f"snapshot lacks {k}")
    check(s.get("budget", 0) is None, "budget part without --budget")
    check("etcd grpc" in s["probes"], f"etcd probes not attached: {s['probes']}")
    check(s["by"] == "all" and s["sort"] == "rate", "default grouping/sort")
    rates = [r["req_per_s"] for r in s["rows"]]
    check(rates == sorted(rates, reverse=True), f"rows not sorted by rate: {rates}")
counted, linked, busiest = 0.0, 0.0, None
for s in snaps:
    for r in s["rows"]:
        if r.get("user_agent") == ua:
            counted += r["req_per_s"] * s["span_s"]
            linked += r["etcd_per_s"] * s["span_s"]
            if busiest is None or r["req_per_s"] > busiest[1]["req_per_s"]:
                busiest = (s, r)
check(busiest is not None, "flood agent never shown")
if busiest:
    s, r = busiest
    print(f"test_top: busiest interval {s['ts']}: {r['req_per_s']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
          f"p99 {r['p99_ms']:.2f} ms, {r['bytes_per_s']:.0f} B/s, total {s['total']['req_per_s']:.0f} req/s, "
          f"{s['capture']['hits_per_request']:.2f} hits/request, drops {s['capture']['ringbuf_drops']}")
    check(s["rows"][0].get("user_agent") == ua, f"top row is {s['rows'][0]} not the flood agent")
    check(r["verb"] == "list" and r["resource"] == "configmaps", f"flood row key {r}")
    check(r["req_per_s"] >= 20, f"flood rate {r['req_per_s']} implausibly low")
    check(r["req_per_s"] <= s["total"]["req_per_s"] + 1e-9, "row rate above the total")
    check(r["err_pct"] == 0, f"flood errors {r['err_pct']}")
    check(0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] < 10000, f"latencies {r}")
    check(r["bytes_per_s"] > 0, "no bytes")
    check(s["capture"]["hits_per_request"] > 0, "no probe hits")
    # etcd: one `range` on configmaps per `list configmaps`; the flood's requests cause it
    e = s["etcd"]
    rng = [x for x in e["rows"] if x["op"] == "range" and x["resource"] == "configmaps"]
    rq = r["req_per_s"]
    print(f"test_top: etcd in that interval: {e['total']['calls_per_s']:.0f} calls/s, {e['linked_pct']:.1f}% linked, "
          f"range configmaps {rng[0]['calls_per_s'] if rng else 0:.0f}/s (p50 {rng[0]['p50_ms'] if rng else 0:.2f} ms), "
          f"flood row ETCD/S {r['etcd_per_s']:.0f}, {e['hits_per_call']:.2f} hits/call, "
          f"{s['connections']['active']} connections active")
    check(len(rng) == 1, f"no range/configmaps etcd row: {e['rows']}")
    if rng:
        x = rng[0]
        check(rq / 1.5 <= x["calls_per_s"] <= rq * 1.5, f"range configmaps {x['calls_per_s']}/s vs {rq} req/s")
        check(e["rows"][0] is x, f"range configmaps is not the top etcd row: {e['rows'][0]}")
        check(0 < x["p50_ms"] <= x["p99_ms"] < 10000, f"etcd latencies {x}")
        check(x["err_pct"] == 0, f"etcd errors {x}")
        check(x["req_bytes_per_s"] > 0, "no etcd request bytes")
    check(r["etcd_per_s"] > 0, "flood row has no linked etcd calls")
    check(rq / 1.5 <= r["etcd_per_s"] <= rq * 1.5, f"flood ETCD/S {r['etcd_per_s']} vs {rq} req/s")
    check(e["linked_pct"] >= 50, f"only {e['linked_pct']}% of etcd calls linked")
    # every linked call is attributed to exactly one row: the rows add up to the total's
    if s["rows_total"] == len(s["rows"]):
        rows_sum = sum(y["etcd_per_s"] for y in s["rows"])
        check(abs(s["total"]["etcd_per_s"] - rows_sum) <= 1e-6 * (1 + rows_sum),
              f"rows' ETCD/S {rows_sum} vs the total's {s['total']['etcd_per_s']}")
    check(s["connections"]["active"] >= 1, "no active client connection")
    # 2 hits per call, a third for each RangeResponse (the flood's calls are Ranges)
    check(1.5 <= e["hits_per_call"] <= 3.05, f"etcd hits per call {e['hits_per_call']}")
    # what etcd returned for the flood: bytes and key-values per request (the listed configmaps)
    check(r["etcd_bytes_per_s"] > 0 and r["etcd_keys_per_s"] >= 0, f"flood row etcd cost {r}")
    print(f"test_top: flood row ETCDB/S {r['etcd_bytes_per_s']:.0f}, EKEYS/S {r['etcd_keys_per_s']:.1f} "
          f"({r['etcd_keys_per_s'] / rq if rq else 0:.2f} keys per request)")
print(f"test_top: etcd calls linked to the flood over all snapshots: {linked:.0f} for {ok} requests")
check(ok / 1.5 <= linked <= ok * 1.5, f"linked etcd calls {linked} vs {ok} requests")# every request is counted in exactly one interval: the sum matches the flood (all of it ended inside
# reported intervals, unless an event was lost: then a drop is counted)
drops = snaps[-1]["capture"]["ringbuf_drops"]
print(f"test_top: flood requests counted over {len(snaps)} snapshots: {counted:.0f} of {ok} (drops {drops})")
check(abs(counted - ok) <= max(drops, 0) * 2 + ok * 0.01, f"counted {counted} vs sent {ok}")
# prometheus textfile: the cumulative counter for the flood agent
text = open(prom).read()
m = re.search(r'^kapimon_apiserver_requests_total\{user_agent="%s",verb="list",resource="configmaps",'
              r'subresource="",code_class="2xx"\} (\S+)$' % re.escape(ua), text, re.M)
check(m is not None, "prometheus file lacks the flood counter")
if m:
    print(f"test_top: prometheus counter {m.group(1)}")
    check(abs(float(m.group(1)) - ok) <= ok * 0.01 + drops * 2, f"prometheus count {m.group(1)} vs {ok}")
for line in text.splitlines():
    check(line.startswith("#") or re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$', line), f"bad line {line!r}")
check("# TYPE kapimon_apiserver_request_duration_seconds histogram" in text, "no histogram")
if fails:
    print("\n".join("test_top: " + f for f in fails))
    sys.exit(1)
EOF
ls "$OUT" | grep -q '\.tmp\.' && die "temporary prometheus file left behind"
log "batch/JSON: ok"

# stop_top: SIGINT, wait for the exit, status 0
stop_top() {
	kill -INT "$KPID"
	wait_for "kapimon top to exit after SIGINT" 30 exited "$KPID"
	set +e
	wait "$KPID"
	rc=$?
	set -e
	KPID=""
	[ "$rc" = 0 ] || { cat "$OUT/top.stderr"; die "kapimon top exited with $rc after SIGINT"; }
}

# --- 2. --no-etcd -----------------------------------------------------------------------------------------
./kapimon -j top --pid "$KAPIMON_APISERVER_PID" --batch --no-etcd --iterations 2 >"$OUT/top.jsonl" 2>"$OUT/top.stderr" ||
	{ cat "$OUT/top.stderr"; die "kapimon top --no-etcd failed"; }
python3 - "$OUT/top.jsonl" <<'EOF' || die "--no-etcd checks failed"
import json, sys
snaps = [json.loads(l) for l in open(sys.argv[1])]
assert len(snaps) == 2, len(snaps)
for s in snaps:
    assert s["etcd"] is None, s["etcd"]
    assert "etcd grpc" not in s["probes"], s["probes"]
    assert all("etcd_per_s" not in r for r in s["rows"] + [s["total"]])
    assert s["connections"]["active"] >= 1, s["connections"]
EOF
log "--no-etcd: ok"

# --- 3. budget mode ---------------------------------------------------------------------------------------
# a flood that runs until the check passed (then killed); the budget is measured over 2 s cycles
duty_below_one() {
	kill -0 "$KPID" 2>/dev/null || { cat "$OUT/top.stderr"; die "kapimon top --budget exited"; }
	[ -s "$OUT/top.jsonl" ] && python3 - "$OUT/top.jsonl" "$FLOOD_UA" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    try:
        s = json.loads(l)
    except ValueError:
        continue  # a line being written
    b = s["budget"]
    fl = [r for r in s["rows"] if r.get("user_agent") == sys.argv[2]]
    if b and b["duty"] < 1 and b["sample_factor"] > 1 and fl and fl[0]["req_per_s"] > 0:
        print(f"test_top: budget {b['budget_pct']:.0f}%: duty {b['duty']:.3f}, sample factor {b['sample_factor']:.2f}, "
              f"overhead at full capture {b['overhead_full_pct']:.2f}%, expected {b['overhead_expected_pct']:.2f}%, "
              f"flood shown at {fl[0]['req_per_s']:.0f} req/s, ETCD/S {fl[0]['etcd_per_s']:.0f}")
        sys.exit(0)
sys.exit(1)
EOF
}
./kapimon -j top --pid "$KAPIMON_APISERVER_PID" --batch --budget 0.05% --budget-period 2 >"$OUT/top.jsonl" 2>"$OUT/top.stderr" &
KPID=$!
wait_for "kapimon top --budget's 'attached' line" 60 attached
curl -sS --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" -A "$FLOOD_UA" --max-time 120 -Z --parallel-max 8 \
	-o /dev/null "$KAPIMON_APISERVER_URL/api/v1/configmaps?n=[1-1000000]" 2>/dev/null &
CURLPID=$!
wait_for "a budget duty < 1 under the flood" 60 duty_below_one
kill -KILL "$CURLPID" 2>/dev/null || true
wait "$CURLPID" 2>/dev/null || true
CURLPID=""
stop_top
grep -q 'budget mode' "$OUT/top.stderr" || die "no 'budget mode' in the attached line"
log "budget: ok"

# --- 4. interactive under tmux --------------------------------------------------------------------------
pane() { tmux -L "$TMUX_SOCK" capture-pane -p -t top 2>/dev/null; }
pane_shows() { pane >"$OUT/pane.txt" && grep -q '^kapimon top - ' "$OUT/pane.txt" && grep -q "$1" "$OUT/pane.txt"; }
pane_lacks() { pane >"$OUT/pane.txt" && grep -q '^kapimon top - ' "$OUT/pane.txt" && ! grep -q "$1" "$OUT/pane.txt"; }
session_gone() { ! tmux -L "$TMUX_SOCK" has-session -t top 2>/dev/null; }
tmux -L "$TMUX_SOCK" new-session -d -s top -x 160 -y 40 "./kapimon top --pid $KAPIMON_APISERVER_PID 2>$OUT/tmux.stderr"
wait_for "the full-screen header" 60 pane_shows 'ETCD/S'
flood "$FLOOD_UA" 600 /api/v1/configmaps >/dev/null
wait_for "the flood agent on the screen" 30 pane_shows "$FLOOD_UA"
wait_for "the etcd panel" 10 pane_shows '^range  *configmaps'
log "screen:"
grep -v '^ *$' "$OUT/pane.txt" | head -14 | sed 's/^/  | /'
tmux -L "$TMUX_SOCK" send-keys -t top e
wait_for "the etcd panel hidden after key e" 10 pane_lacks 'etcd calls by op and resource'
tmux -L "$TMUX_SOCK" send-keys -t top b
wait_for "grouping 'agent' after key b" 10 pane_shows 'by agent'
tmux -L "$TMUX_SOCK" send-keys -t top q
wait_for "kapimon top to quit on q" 10 session_gone
log "interactive: ok"
log "PASS"
