#!/usr/bin/env bash
# kapimon top against the testbed.
#
# 1. batch + JSON: `kapimon -j top --batch --interval 1 --prometheus-file F` while a bounded flood of
#    h2 requests with a distinctive user agent runs; then SIGINT (exit status 0). Checks: the flood agent
#    is the top row by rate in the busiest snapshot, with plausible numbers (rate, no errors, p50 <= p99,
#    bytes); the per-interval counts add up to the requests the flood completed (each request is counted
#    in exactly one interval); the Prometheus file holds the same count as a counter and parses.
# 2. interactive: `kapimon top` in a detached tmux pane shows the header and the flood agent; 'q' quits.
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

log() { echo "test_top: $*"; }
die() { echo "test_top: FAIL: $*"; exit 1; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
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
flood "$NOISE_UA" 20 /api/v1/configmaps >"$OUT/noise.codes"
t0=$(date +%s%N)
flood "$FLOOD_UA" "$FLOOD_N" /api/v1/namespaces >"$OUT/flood.codes"
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
    for k in ("ts", "pid", "probes", "total", "capture", "anomaly", "rows", "rows_total"):
        check(k in s, f"snapshot lacks {k}")
    check(s["by"] == "all" and s["sort"] == "rate", "default grouping/sort")
    rates = [r["req_per_s"] for r in s["rows"]]
    check(rates == sorted(rates, reverse=True), f"rows not sorted by rate: {rates}")
counted, busiest = 0.0, None
for s in snaps:
    for r in s["rows"]:
        if r.get("user_agent") == ua:
            counted += r["req_per_s"] * s["span_s"]
            if busiest is None or r["req_per_s"] > busiest[1]["req_per_s"]:
                busiest = (s, r)
check(busiest is not None, "flood agent never shown")
if busiest:
    s, r = busiest
    print(f"test_top: busiest interval {s['ts']}: {r['req_per_s']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
          f"p99 {r['p99_ms']:.2f} ms, {r['bytes_per_s']:.0f} B/s, total {s['total']['req_per_s']:.0f} req/s, "
          f"{s['capture']['hits_per_request']:.2f} hits/request, drops {s['capture']['ringbuf_drops']}")
    check(s["rows"][0].get("user_agent") == ua, f"top row is {s['rows'][0]} not the flood agent")
    check(r["verb"] == "list" and r["resource"] == "namespaces", f"flood row key {r}")
    check(r["req_per_s"] >= 20, f"flood rate {r['req_per_s']} implausibly low")
    check(r["req_per_s"] <= s["total"]["req_per_s"] + 1e-9, "row rate above the total")
    check(r["err_pct"] == 0, f"flood errors {r['err_pct']}")
    check(0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] < 10000, f"latencies {r}")
    check(r["bytes_per_s"] > 0, "no bytes")
    check(s["capture"]["hits_per_request"] > 0, "no probe hits")
# every request is counted in exactly one interval: the sum matches the flood (all of it ended inside
# reported intervals, unless an event was lost: then a drop is counted)
drops = snaps[-1]["capture"]["ringbuf_drops"]
print(f"test_top: flood requests counted over {len(snaps)} snapshots: {counted:.0f} of {ok} (drops {drops})")
check(abs(counted - ok) <= max(drops, 0) * 2 + ok * 0.01, f"counted {counted} vs sent {ok}")
# prometheus textfile: the cumulative counter for the flood agent
text = open(prom).read()
m = re.search(r'^kapimon_apiserver_requests_total\{user_agent="%s",verb="list",resource="namespaces",'
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

# --- 2. interactive under tmux --------------------------------------------------------------------------
pane() { tmux -L "$TMUX_SOCK" capture-pane -p -t top 2>/dev/null; }
pane_shows() { pane >"$OUT/pane.txt" && grep -q '^kapimon top - ' "$OUT/pane.txt" && grep -q "$1" "$OUT/pane.txt"; }
session_gone() { ! tmux -L "$TMUX_SOCK" has-session -t top 2>/dev/null; }
tmux -L "$TMUX_SOCK" new-session -d -s top -x 160 -y 40 "./kapimon top --pid $KAPIMON_APISERVER_PID 2>$OUT/tmux.stderr"
wait_for "the full-screen header" 60 pane_shows 'USER-AGENT'
flood "$FLOOD_UA" 600 /api/v1/namespaces >/dev/null
wait_for "the flood agent on the screen" 30 pane_shows "$FLOOD_UA"
log "screen:"
head -8 "$OUT/pane.txt" | sed 's/^/  | /'
tmux -L "$TMUX_SOCK" send-keys -t top b
wait_for "grouping 'agent' after key b" 10 pane_shows 'by agent'
tmux -L "$TMUX_SOCK" send-keys -t top q
wait_for "kapimon top to quit on q" 10 session_gone
log "interactive: ok"
log "PASS"
