#!/usr/bin/env bash
# kapimon top under a cardinality burst (issue 10): the heavy-hitter tables stay bounded and a new
# flooder still shows with its real rate.
#
# 1. `kapimon -j top --batch --interval 1 -n 1000 --pid <testbed apiserver> --prometheus-file F` runs
#    while tests/integration/uaburst sends KAPIMON_CARD_N (default 20000) requests, each with its own
#    user agent; then h2load sends a flood at 47 req/s (--rps, one connection) for 12 s with one new
#    user agent. Before that, 6 watches (3 h2, 3 h1 curl) with their own user agent are started and
#    killed (-9): their row shows 6 in flight, then 0 (a dead connection leaves nothing in flight).
# 2. Checks: the burst went through (every request 2xx) and overflowed the key tables (evictions >=
#    N - max_keys in the grouping shown); the flooder's row is in a snapshot taken at most 3.1 s after
#    the flood's start (two refreshes); over the snapshots whose window lies inside the flood, the
#    median of its per-second rate is within 10% of the rate h2load achieved (succeeded / duration), at
#    least 80% of them are, and its p50 latency is known; the sum of its per-snapshot counts equals
#    h2load's succeeded requests (+-1%); the Prometheus file has at most max_keys + 1 user agents and
#    counts the flooder's requests; once the burst's keys are idle, no in-flight request is left on the
#    burst's or the flood's rows nor in "(other)" (in-flight is the assembler's pending table: nothing
#    leaks); top's RSS grew by less than 32 MB from attach to the end (an unbounded table would need
#    ~100 MB for 20000 agents). top's peak and current RSS (VmHWM, VmRSS from /proc/PID/status) are
#    printed.
# Needs root, ./kapimon, go, h2load, python3 and the testbed env. Artefacts in
# $KAPIMON_TEST_OUT/top_cardinality (default build/test-out/top_cardinality).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
. "$ROOT/tests/integration/lib.sh"
OUT=${KAPIMON_TEST_OUT:-$ROOT/build/test-out}/top_cardinality
rm -rf "$OUT" && mkdir -p "$OUT"
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
N=${KAPIMON_CARD_N:-20000}
RPS=47
FLOOD_S=12
BURST_UA=card-burst-$RUN
FLOOD_UA=card-flooder-$RUN
KPID=""
PATH_Q="/api/v1/namespaces/default/configmaps?resourceVersion=0"

WPIDS=()
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ ${#WPIDS[@]} -eq 0 ] || kill -KILL "${WPIDS[@]}" 2>/dev/null || true
	rm -f "$OUT/token"
}
trap cleanup EXIT

for tool in go h2load python3; do
	command -v "$tool" >/dev/null || abort "$tool is installed" "missing: $tool"
done
umask 077
printf '%s' "$KAPIMON_TOKEN" >"$OUT/token"
umask 022
check "go build tests/integration/uaburst" env GO111MODULE=off GOFLAGS= go build -o "$OUT/uaburst" ./tests/integration/uaburst
[ -x "$OUT/uaburst" ] || abort

snapshots() { [ -s "$OUT/top.jsonl" ] && wc -l <"$OUT/top.jsonl" || echo 0; }
has_snapshots() { (($(snapshots) >= $1)); }
attached() { ! exited "$KPID" && grep -q attached "$OUT/top.stderr"; }
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

"$KAPIMON" -j top --batch --interval 1 -n 1000 --pid "$KAPIMON_APISERVER_PID" --prometheus-file "$OUT/metrics.prom" \
	>"$OUT/top.jsonl" 2>"$OUT/top.stderr" &
KPID=$!
wait_for "kapimon top attaches" 60 attached || abort "kapimon top attaches" "$(cat "$OUT/top.stderr")"
wait_for "a first snapshot" 10 has_snapshots 1 || abort
RSS0=$(status_kb "$KPID" VmRSS)

# 0. in-flight of watches whose client dies (kill -9: the connection is reset, no clean end)
WATCH_UA=card-watch-$RUN
row_inflight() { # row_inflight UA WANT: the newest snapshot has WANT in flight on UA's row (0: no row)
	tail -n 1 "$OUT/top.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
n = sum(r["inflight"] for r in d["rows"] if r.get("user_agent") == sys.argv[1])
sys.exit(0 if n == int(sys.argv[2]) else 1)
' "$1" "$2"
}
WPIDS=()
for proto in --http2 --http1.1; do
	for _ in 1 2 3; do
		curl -sS -N "$proto" -A "$WATCH_UA" --cacert "$KAPIMON_CA" -H "Authorization: Bearer $KAPIMON_TOKEN" \
			"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps?watch=1" >/dev/null 2>&1 &
		WPIDS+=($!)
	done
done
wait_for "6 watches (3 h2, 3 h1) in flight on their row" 20 row_inflight "$WATCH_UA" 6
kill -KILL "${WPIDS[@]}" 2>/dev/null
wait "${WPIDS[@]}" 2>/dev/null
wait_for "their in-flight count drops to 0 after their clients were killed" 10 row_inflight "$WATCH_UA" 0

# 1. the burst: N distinct user agents
"$OUT/uaburst" -url "$KAPIMON_APISERVER_URL" -ca "$KAPIMON_CA" -token-file "$OUT/token" -ua "$BURST_UA" -n "$N" -c 8 \
	-path "$PATH_Q" >"$OUT/burst.out" 2>"$OUT/burst.err"
rc=$?
check_eq "uaburst exit status" 0 "$rc"
burst_ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$OUT/burst.out")
check_eq "uaburst: every one of the $N distinct-agent requests succeeded" "$N" "${burst_ok:-0}"
echo "  burst: $(cat "$OUT/burst.out")"

# 2. the flood, at a known rate, with a new user agent
FLOOD_START=$(date +%s.%N)
h2load --rps="$RPS" -c 1 -m 1 -D "$FLOOD_S" -H "user-agent: $FLOOD_UA" -H "authorization: Bearer $KAPIMON_TOKEN" \
	"$KAPIMON_APISERVER_URL$PATH_Q" >"$OUT/h2load.out" 2>&1
FLOOD_END=$(date +%s.%N)
flood_ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$OUT/h2load.out")
flood_s=$(sed -n 's/^finished in \([0-9.]*\)s.*/\1/p' "$OUT/h2load.out")
check_ge "h2load flood requests succeeded" $((RPS * FLOOD_S * 9 / 10)) "${flood_ok:-0}"
echo "  flood: $(grep -E '^finished in' "$OUT/h2load.out")"
n_after=$(($(snapshots) + 2))
wait_for "two snapshots after the flood" 10 has_snapshots "$n_after" || abort

# 3. in-flight once the burst's keys are idle (their rows free for in-flight-only keys): nothing of ours
inflight_clean() {
	tail -n 1 "$OUT/top.jsonl" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
ours = [r for r in d["rows"] if r.get("user_agent", "").startswith(tuple(sys.argv[1:])) and r["inflight"] > 0]
other = [r for r in d["rows"] if r.get("other") and r["inflight"] > 0]
sys.exit(1 if ours or other or sum(r["inflight"] for r in d["rows"]) != d["inflight_total"] else 0)
' "$BURST_UA" "$FLOOD_UA"
}
wait_for "no in-flight request left on the burst's and the flood's rows or in (other)" 45 inflight_clean
HWM=$(status_kb "$KPID" VmHWM)
RSS=$(status_kb "$KPID" VmRSS)
kill -INT "$KPID"
wait_for "kapimon top exits after SIGINT" 15 exited "$KPID"
wait "$KPID"
check_eq "kapimon top exit status" 0 "$?"
KPID=""
echo "  top RSS: VmRSS ${RSS0} kB after attach, ${RSS} kB at the end; peak VmHWM ${HWM} kB"
check "RSS growth from attach to the end < 32 MB (bounded tables)" test $((RSS - RSS0)) -lt $((32 * 1024))

# (process substitution, not a pipe: report's counts must stay in this shell)
report < <(python3 - "$OUT/top.jsonl" "$OUT/metrics.prom" "$FLOOD_UA" "$BURST_UA" "$N" "$FLOOD_START" "$FLOOD_END" \
	"${flood_ok:-0}" "${flood_s:-0}" <<'EOF'

import json, re, statistics, sys
from datetime import datetime, timezone
path, prom, flood_ua, burst_ua, n = sys.argv[1:6]
start, end, flood_ok, flood_s = float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), float(sys.argv[9])
n = int(n)
snaps = [json.loads(l) for l in open(path)]
def ts(d):
    s = d["ts"].rstrip("Z")
    base, frac = (s.split(".") + ["0"])[:2]
    return datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + float("0." + frac)
def row(d, ua):
    for r in d["rows"]:
        if r.get("user_agent") == ua:
            return r
    return None
def ok(cond, desc, detail=""):
    print(("ok\t%s" if cond else "FAIL\t%s\t" + detail.replace("\t", " ").replace("\n", " ")) % desc)
last = snaps[-1]
max_keys = last["aggregate"]["max_keys"]
# the grouping shown (by all: user agent, verb, resource): top counts the groupings it shows
ev = last["aggregate"]["evicted"]["all"]
ok(ev >= n - max_keys, "the burst overflowed the shown table: %d evictions >= %d - %d" % (ev, n, max_keys), str(ev))
first = [d for d in snaps if row(d, flood_ua)]
if not first:
    ok(False, "the flooder's row appears", "never in %d snapshots" % len(snaps))
    sys.exit(0)
delay = ts(first[0]) - start
ok(delay <= 3.1, "the flooder's row appears within two refreshes (%.2f s after its start)" % delay, "%.2f s" % delay)
# windows [ts - 1 s (rounded to the step), ts) inside the flood (one step of margin at both ends)
full, p50 = [], []
for d in snaps:
    t = int(ts(d))  # the window is [t - 1, t)
    if t - 1 >= start + 1 and t <= end - 1:
        r = row(d, flood_ua)
        full.append(r["req_per_s"] if r else 0.0)
        p50.append(r["p50_ms"] if r else None)
want = flood_ok / flood_s if flood_s > 0 else 0
print("flooder per-second rates inside the flood: %s; h2load achieved %.2f/s" % (" ".join("%.0f" % x for x in full), want))
if len(full) < 5:
    ok(False, "at least 5 whole snapshots inside the flood", str(len(full)))
else:
    med = statistics.median(full)
    ok(abs(med - want) <= 0.1 * want, "flooder's rate %.1f/s within 10%% of %.1f/s" % (med, want), "%.2f vs %.2f" % (med, want))
    within = sum(1 for x in full if abs(x - want) <= 0.1 * want)
    ok(within >= 0.8 * len(full), "%d of %d whole snapshots within 10%%" % (within, len(full)), "")
total = sum((row(d, flood_ua) or {}).get("req_per_s", 0) * d["span_s"] for d in snaps)
ok(abs(total - flood_ok) <= 0.01 * flood_ok + 1, "flooder's requests summed over the snapshots %.0f = h2load's %d" % (total, flood_ok),
   "%.1f vs %d" % (total, flood_ok))
# (the latency of the request that took the row counts in "(other)": the first snapshot may have none)
ok(p50 and all(x is not None and x > 0 for x in p50), "the flooder's p50 latency is known in the whole snapshots",
   str(p50[:5]))
text = open(prom).read()
uas = set(re.findall(r'^kapimon_apiserver_requests_total\{user_agent="((?:[^"\\]|\\.)*)"', text, re.M))
ok(len(uas) <= max_keys + 1, "Prometheus file: %d user agents <= max_keys + 1 = %d" % (len(uas), max_keys + 1), str(len(uas)))
m = re.findall(r'^kapimon_apiserver_requests_total\{user_agent="%s",[^}]*code_class="2xx"\} (\S+)' % re.escape(flood_ua), text, re.M)
ok(m and abs(float(m[0]) - flood_ok) <= 0.01 * flood_ok + 1, "Prometheus counts the flooder's requests", str(m))
EOF
)
finish
