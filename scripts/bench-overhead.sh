#!/usr/bin/env bash
# Overhead of `kapimon record` on the kube-apiserver: h2load against the testbed apiserver alone ("off")
# vs. with `./kapimon record -o /dev/null` attached ("on"), interleaved off/on for ROUNDS rounds.
# A benchmark, not a test: it asserts nothing about timings (it fails only when a run itself fails).
#
#   eval "$(scripts/testbed.sh env)"; scripts/bench-overhead.sh      (make bench runs it too)
#
# Per run (fixed request counts): h2load -n N -c C -m M GET <namespaced configmap list> (10 configmaps),
# then h2load -n N -c C -m M GET /healthz. Reported per round and mode: req/s of each, apiserver CPU per
# request (utime+stime deltas of /proc/<pid>/stat around the run; uprobe handlers run in the apiserver's
# context, so their cost lands here), and for "on": kapimon's own CPU (its /proc/<pid>/stat delta, from
# 'attached' to the end of the run) per request and uprobe hits/request (kapimon's exit summary).
# Summary: median on/off throughput ratio per endpoint, median CPU figures. Also written as JSON to
# build/bench-overhead.json.
#
# Environment: BENCH_ROUNDS [3], BENCH_N [3000], BENCH_C [4], BENCH_M [10], BENCH_OUT [build/bench-overhead.json]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${BENCH_ROUNDS:-3}
N=${BENCH_N:-3000}
C=${BENCH_C:-4}
M=${BENCH_M:-10}
JSON_OUT=${BENCH_OUT:-$ROOT/build/bench-overhead.json}
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
[ -x ./kapimon ] || { echo "bench-overhead: ./kapimon missing (make)" >&2; exit 1; }
command -v h2load >/dev/null || { echo "bench-overhead: h2load missing (apt-get install nghttp2-client)" >&2; exit 1; }
API=$KAPIMON_APISERVER_PID
TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d /tmp/kapimon-bench.XXXXXX)
KPID=""
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$TMP/hdr"
chmod 600 "$TMP/hdr"

# cpu_ticks PID: utime+stime (clock ticks) of the whole process
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
now_ns() { date +%s%N; }
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

NS=kapimon-bench
api() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$KAPIMON_CA" -H "@$TMP/hdr" -A kapimon-bench-setup/1.0 "$@"; }
code=$(api -X POST -H 'Content-Type: application/json' "$KAPIMON_APISERVER_URL/api/v1/namespaces" \
	-d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}")
case $code in 201 | 409) ;; *) echo "bench-overhead: creating namespace $NS: status $code" >&2; exit 1 ;; esac
for i in $(seq 1 10); do
	code=$(api -X POST -H 'Content-Type: application/json' "$KAPIMON_APISERVER_URL/api/v1/namespaces/$NS/configmaps" \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"bench-$i\"},\"data\":{\"k\":\"$(printf 'v%.0s' $(seq 1 64))\"}}")
	case $code in 201 | 409) ;; *) echo "bench-overhead: creating configmap bench-$i: status $code" >&2; exit 1 ;; esac
done
LIST=$KAPIMON_APISERVER_URL/api/v1/namespaces/$NS/configmaps

# load URL: one h2load run; prints "req/s" (fails when not all responses are 2xx)
load() {
	local out ok rps
	out=$(timeout 300 h2load -n "$N" -c "$C" -m "$M" -H "user-agent: kapimon-bench/1.0" \
		-H "authorization: Bearer $KAPIMON_TOKEN" "$1" 2>&1) || true
	ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out")
	rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
	if [ "$ok" != "$N" ] || [ -z "$rps" ]; then
		echo "bench-overhead: h2load $1: $ok of $N 2xx" >&2
		grep -E '^(finished|requests|status codes)' <<<"$out" >&2 || true
		return 1
	fi
	echo "$rps"
}

start_kapimon() {
	./kapimon record --pid "$API" -o /dev/null --stats-interval 0 2>"$TMP/kapimon.err" &
	KPID=$!
	local t=$(($(now_ns) + 60000000000))
	until grep -q attached "$TMP/kapimon.err"; do
		exited "$KPID" && { cat "$TMP/kapimon.err" >&2; echo "bench-overhead: kapimon exited" >&2; exit 1; }
		(($(now_ns) < t)) || { echo "bench-overhead: kapimon did not attach within 60 s" >&2; exit 1; }
		sleep 0.1
	done
}
stop_kapimon() {
	local t=$(($(now_ns) + 30000000000)) rc=0
	kill -INT "$KPID"
	until exited "$KPID"; do
		(($(now_ns) < t)) || { echo "bench-overhead: kapimon did not exit within 30 s of SIGINT" >&2; exit 1; }
		sleep 0.05
	done
	wait "$KPID" || rc=$?
	KPID=""
	[ "$rc" = 0 ] || { echo "bench-overhead: kapimon exited $rc" >&2; cat "$TMP/kapimon.err" >&2; exit 1; }
}

echo "bench-overhead: apiserver pid $API ($(readlink /proc/$API/exe)), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench-overhead: $ROUNDS rounds x (off, on); each run: h2load -n $N -c $C -m $M GET $NS configmaps list, then /healthz"
load "$LIST" >/dev/null # warm-up
load "$KAPIMON_APISERVER_URL/healthz" >/dev/null

ROWS=()
printf '%-5s %-4s %12s %14s %16s %18s %14s %12s\n' round mode "list req/s" "healthz req/s" "api CPU us/req" "kapimon CPU us/req" "hits/request" "records"
for ((r = 1; r <= ROUNDS; r++)); do
	for mode in off on; do
		kt0=0
		if [ $mode = on ]; then
			start_kapimon
			kt0=$(cpu_ticks "$KPID")
		fi
		a0=$(cpu_ticks "$API")
		rps_list=$(load "$LIST")
		rps_hz=$(load "$KAPIMON_APISERVER_URL/healthz")
		a1=$(cpu_ticks "$API")
		kcpu=null hits=null recs=null
		if [ $mode = on ]; then
			kt1=$(cpu_ticks "$KPID")
			stop_kapimon
			kcpu=$(awk -v d=$((kt1 - kt0)) -v t="$TCK" -v n=$((2 * N)) 'BEGIN{printf "%.2f", d / t * 1e6 / n}')
			hits=$(sed -n 's/.* \([0-9.]*\) uprobe hits\/request.*/\1/p' "$TMP/kapimon.err" | tail -n 1)
			recs=$(sed -n 's/^kapimon: \([0-9]*\) \(request \)\{0,1\}records.*/\1/p' "$TMP/kapimon.err" | tail -n 1)
			[ -n "$hits" ] || hits=null
			[ -n "$recs" ] || recs=null
		fi
		acpu=$(awk -v d=$((a1 - a0)) -v t="$TCK" -v n=$((2 * N)) 'BEGIN{printf "%.2f", d / t * 1e6 / n}')
		printf '%-5s %-4s %12s %14s %16s %18s %14s %12s\n' "$r" "$mode" "$rps_list" "$rps_hz" "$acpu" "$kcpu" "$hits" "$recs"
		ROWS+=("{\"round\":$r,\"mode\":\"$mode\",\"list_rps\":$rps_list,\"healthz_rps\":$rps_hz,\"apiserver_cpu_us_per_req\":$acpu,\"kapimon_cpu_us_per_req\":$kcpu,\"uprobe_hits_per_request\":$hits,\"records\":$recs}")
	done
done

mkdir -p "$(dirname "$JSON_OUT")"
python3 - "$JSON_OUT" "$N" "$C" "$M" "$ROUNDS" "$(cut -d' ' -f1-3 /proc/loadavg)" "${ROWS[@]}" <<'EOF'
import json, statistics, sys
out, n, c, m, rounds, load = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
rows = [json.loads(x) for x in sys.argv[7:]]
def med(mode, k):
    xs = [r[k] for r in rows if r["mode"] == mode and r[k] is not None]
    return statistics.median(xs) if xs else None
ratio = {}
for k in ("list_rps", "healthz_rps"):
    per = []
    for rnd in range(1, rounds + 1):
        off = [r[k] for r in rows if r["round"] == rnd and r["mode"] == "off"][0]
        on = [r[k] for r in rows if r["round"] == rnd and r["mode"] == "on"][0]
        per.append(on / off)
    ratio[k] = {"per_round": [round(x, 4) for x in per], "median": round(statistics.median(per), 4)}
summary = {
    "params": {"h2load_n": n, "c": c, "m": m, "rounds": rounds, "load_average_end": load},
    "runs": rows,
    "throughput_ratio_on_off": ratio,
    "median": {mode: {k: med(mode, k) for k in ("list_rps", "healthz_rps", "apiserver_cpu_us_per_req")} for mode in ("off", "on")},
    "kapimon_cpu_us_per_req_median": med("on", "kapimon_cpu_us_per_req"),
    "uprobe_hits_per_request_median": med("on", "uprobe_hits_per_request"),
}
json.dump(summary, open(out, "w"), indent=1)
print("bench-overhead: throughput on/off (median of %d rounds): list %.3f %s, healthz %.3f %s"
      % (rounds, ratio["list_rps"]["median"], ratio["list_rps"]["per_round"], ratio["healthz_rps"]["median"], ratio["healthz_rps"]["per_round"]))
print("bench-overhead: apiserver CPU per request (median): off %.1f us, on %.1f us; kapimon CPU %.2f us/request; %s uprobe hits/request"
      % (summary["median"]["off"]["apiserver_cpu_us_per_req"], summary["median"]["on"]["apiserver_cpu_us_per_req"],
         summary["kapimon_cpu_us_per_req_median"] or float("nan"), summary["uprobe_hits_per_request_median"]))
print("bench-overhead: JSON in %s" % out)
EOF
