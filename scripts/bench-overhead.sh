#!/usr/bin/env bash
# What kapimon costs the kube-apiserver host, in the figures that are stable on a noisy machine
# (one saturated h2load run differs from the next by +-30% here; CPU time per request at a fixed
# offered rate does not). A benchmark, not a test: it asserts nothing about timings (it fails only
# when a run itself fails).
#
#   eval "$(scripts/testbed.sh env)"; scripts/bench-overhead.sh      (make bench runs it too)
#
# Load: h2load at a fixed offered rate (BENCH_RATE req/s over BENCH_C connections, --rps), GET of a
# namespaced list of 10 configmaps: one apiserver request and one etcd Range per request.
#
# Headline figures:
#   1. uprobe hits per request and per etcd call (kapimon record's exit summary), and the cost of one
#      hit on an emulated probe site (scripts/bench-probe-site.sh: JBE minus no probe; BENCH_PROBE_SITE=0
#      skips it): hits x cost is the CPU the probes add to the apiserver per request.
#   2. kapimon's own CPU per request at the fixed rate, for record and top, with and without etcd:
#      CPU time of kapimon's threads (/proc/PID/task/*/schedstat: ns; /proc/PID/stat utime+stime is in
#      10 ms ticks, a few ticks per run, too coarse) over BENCH_N requests, after BENCH_WARM requests
#      of warm-up (tables and rings touched once). Median and range of BENCH_ROUNDS runs.
#   3. the apiserver's CPU per request at the fixed rate, without and with `kapimon record` attached
#      (/proc/PID/stat utime+stime: all its threads, also exited ones), BENCH_API_ROUNDS interleaved
#      rounds (order alternates), the on/off ratio per round, its mean and 95% confidence interval.
# Secondary: saturated throughput (h2load -n BENCH_SAT_N -c 4 -m 10, no rate limit) off and on,
# median ratio and its range: this one is noise-dominated, kept for reference.
#
# The machine may be shared (other processes, other testbeds): CPU time per request still measures
# what kapimon costs, but cache and scheduler contention inflate every figure somewhat; the load
# average is printed with the results.
#
# Environment: BENCH_RATE [400], BENCH_C [4], BENCH_N [6000], BENCH_WARM [2000], BENCH_ROUNDS [3],
# BENCH_API_ROUNDS [8], BENCH_SAT_N [3000], BENCH_SAT_ROUNDS [3], BENCH_MODES ["record,record --no-etcd,
# top,top --no-etcd"], BENCH_PROBE_SITE [1], BENCH_OUT [build/bench-overhead.json], BENCH_KAPIMON [./kapimon]
# (another build to compare, e.g. alternating rounds of two binaries)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RATE=${BENCH_RATE:-400}
C=${BENCH_C:-4}
N=${BENCH_N:-6000}
WARM=${BENCH_WARM:-2000}
ROUNDS=${BENCH_ROUNDS:-3}
API_ROUNDS=${BENCH_API_ROUNDS:-8}
SAT_N=${BENCH_SAT_N:-3000}
SAT_ROUNDS=${BENCH_SAT_ROUNDS:-3}
MODES=${BENCH_MODES:-record,record --no-etcd,top,top --no-etcd}
PROBE_SITE=${BENCH_PROBE_SITE:-1}
JSON_OUT=${BENCH_OUT:-$ROOT/build/bench-overhead.json}
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
KAPIMON=${BENCH_KAPIMON:-./kapimon}
[ -x "$KAPIMON" ] || { echo "bench-overhead: $KAPIMON missing (make)" >&2; exit 1; }
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

# stat_ticks PID: utime+stime (clock ticks) of the whole process, exited threads included
stat_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# sched_ns PID: CPU time (ns) of the process's live threads
sched_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'; }
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

# h2run N [h2load options...]: one h2load run of N list requests; prints "req/s" (fails unless all 2xx)
h2run() {
	local n=$1 out ok rps
	shift
	out=$(timeout 600 h2load -n "$n" "$@" -H "user-agent: kapimon-bench/1.0" \
		-H "authorization: Bearer $KAPIMON_TOKEN" "$LIST" 2>&1) || true
	ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out")
	rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
	if [ "$ok" != "$n" ] || [ -z "$rps" ]; then
		echo "bench-overhead: h2load: $ok of $n 2xx" >&2
		grep -E '^(finished|requests|status codes)' <<<"$out" >&2 || true
		return 1
	fi
	echo "$rps"
}
# fixed offered rate: RATE req/s over C connections
fixed() { h2run "$1" -c "$C" --rps "$(awk -v r="$RATE" -v c="$C" 'BEGIN{printf "%g", r / c}')"; }

# start_kapimon MODE [ARGS...]: record to /dev/null, or top --batch (snapshots to /dev/null)
start_kapimon() {
	local mode=$1 t
	shift
	if [ "$mode" = record ]; then
		"$KAPIMON" record --pid "$API" -o /dev/null --stats-interval 0 "$@" 2>"$TMP/kapimon.err" &
	else
		"$KAPIMON" top --batch --pid "$API" "$@" >/dev/null 2>"$TMP/kapimon.err" &
	fi
	KPID=$!
	t=$(($(now_ns) + 60000000000))
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

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-overhead: apiserver pid $API ($(readlink /proc/$API/exe)), $(nproc) CPUs, load average $LOAD0"
echo "bench-overhead: fixed rate $RATE req/s (h2load -c $C --rps), GET $NS configmaps list (1 etcd Range each)"
fixed 400 >/dev/null # warm-up

ROWS=()
# ---- 1. per-hit cost ----
HIT_NS=null SSTEP_NS=null
if [ "$PROBE_SITE" = 1 ]; then
	ps_out=$(scripts/bench-probe-site.sh 2>&1) || { echo "$ps_out" >&2; echo "bench-overhead: bench-probe-site.sh failed" >&2; exit 1; }
	none=$(awk '$1 == "none" {print $3}' <<<"$ps_out")
	jbe=$(awk '$1 == "JBE" {print $3}' <<<"$ps_out")
	subq=$(awk '$1 == "SUBQ" {print $3}' <<<"$ps_out")
	HIT_NS=$(awk -v a="$jbe" -v b="$none" 'BEGIN{printf "%.1f", a - b}')
	SSTEP_NS=$(awk -v a="$subq" -v b="$none" 'BEGIN{printf "%.1f", a - b}')
	echo "bench-overhead: one uprobe hit: $HIT_NS ns on an emulated site (JBE), $SSTEP_NS ns single-stepped (SUBQ) (scripts/bench-probe-site.sh)"
fi

# ---- 2. kapimon's own CPU per request ----
printf '%-20s %-5s %10s %16s %11s %12s %12s\n' mode round "req/s" "kapimon us/req" "stat ticks" hits/request hits/etcd
IFS=, read -r -a MODE_LIST <<<"$MODES"
for m in "${MODE_LIST[@]}"; do
	read -r -a margs <<<"$m"
	for ((r = 1; r <= ROUNDS; r++)); do
		start_kapimon "${margs[@]}"
		fixed "$WARM" >/dev/null
		k0=$(sched_ns "$KPID") s0=$(stat_ticks "$KPID")
		rps=$(fixed "$N")
		k1=$(sched_ns "$KPID") s1=$(stat_ticks "$KPID")
		stop_kapimon
		kus=$(awk -v d=$((k1 - k0)) -v n="$N" 'BEGIN{printf "%.2f", d / 1e3 / n}')
		hits=null hetcd=null
		if [ "${margs[0]}" = record ]; then
			hits=$(sed -n 's/.* \([0-9.]*\) uprobe hits\/request.*/\1/p' "$TMP/kapimon.err" | tail -n 1)
			hetcd=$(sed -n 's/.*, \([0-9.]*\) per etcd call.*/\1/p' "$TMP/kapimon.err" | tail -n 1)
			[ -n "$hits" ] || hits=null
			[ -n "$hetcd" ] || hetcd=null
		fi
		printf '%-20s %-5s %10s %16s %11s %12s %12s\n' "$m" "$r" "$rps" "$kus" "$((s1 - s0))" "$hits" "$hetcd"
		ROWS+=("{\"part\":\"kapimon\",\"mode\":\"$m\",\"round\":$r,\"rps\":$rps,\"kapimon_cpu_us_per_req\":$kus,\"stat_ticks\":$((s1 - s0)),\"hits_per_request\":$hits,\"hits_per_etcd_call\":$hetcd}")
	done
done

# ---- 3. apiserver CPU per request, off and on ----
printf '%-5s %-4s %10s %14s\n' round mode "req/s" "api us/req"
for ((r = 1; r <= API_ROUNDS; r++)); do
	order="off on"
	((r % 2)) || order="on off"
	for mode in $order; do
		if [ $mode = on ]; then
			start_kapimon record
			fixed "$WARM" >/dev/null
		fi
		a0=$(stat_ticks "$API")
		rps=$(fixed "$N")
		a1=$(stat_ticks "$API")
		[ $mode = off ] || stop_kapimon
		aus=$(awk -v d=$((a1 - a0)) -v t="$TCK" -v n="$N" 'BEGIN{printf "%.1f", d / t * 1e6 / n}')
		printf '%-5s %-4s %10s %14s\n' "$r" "$mode" "$rps" "$aus"
		ROWS+=("{\"part\":\"apiserver\",\"mode\":\"$mode\",\"round\":$r,\"rps\":$rps,\"apiserver_cpu_us_per_req\":$aus}")
	done
done

# ---- secondary: saturated throughput ----
printf '%-5s %-4s %10s\n' round mode "sat req/s"
for ((r = 1; r <= SAT_ROUNDS; r++)); do
	for mode in off on; do
		[ $mode = off ] || start_kapimon record
		rps=$(h2run "$SAT_N" -c 4 -m 10)
		[ $mode = off ] || stop_kapimon
		printf '%-5s %-4s %10s\n' "$r" "$mode" "$rps"
		ROWS+=("{\"part\":\"saturated\",\"mode\":\"$mode\",\"round\":$r,\"rps\":$rps}")
	done
done

mkdir -p "$(dirname "$JSON_OUT")"
python3 - "$JSON_OUT" "$RATE" "$C" "$N" "$WARM" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$HIT_NS" "$SSTEP_NS" "${ROWS[@]}" <<'EOF'
import json, math, statistics, sys
out, rate, c, n, warm, load0, load1, hit_ns, sstep_ns = sys.argv[1:10]
rows = [json.loads(x) for x in sys.argv[10:]]
hit_ns = None if hit_ns == "null" else float(hit_ns)
sstep_ns = None if sstep_ns == "null" else float(sstep_ns)
T95 = {1: 12.71, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
       12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}
def t95(df):
    return T95.get(df) or T95[max(k for k in T95 if k <= df)] if df >= 1 else float("nan")
def ci(xs):
    m = statistics.mean(xs)
    if len(xs) < 2:
        return m, float("nan")
    return m, t95(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))

summary = {"params": {"rate": int(rate), "connections": int(c), "requests_per_run": int(n), "warmup_requests": int(warm),
                      "load_average_start": load0, "load_average_end": load1},
           "runs": rows, "uprobe_hit_ns": hit_ns, "uprobe_single_step_ns": sstep_ns}
kap = {}
for r in rows:
    if r["part"] == "kapimon":
        kap.setdefault(r["mode"], []).append(r)
summary["kapimon_cpu_us_per_req"] = {m: {"median": statistics.median(x["kapimon_cpu_us_per_req"] for x in v),
                                          "min": min(x["kapimon_cpu_us_per_req"] for x in v),
                                          "max": max(x["kapimon_cpu_us_per_req"] for x in v),
                                          "achieved_rps_median": statistics.median(x["rps"] for x in v)} for m, v in kap.items()}
hits = [x["hits_per_request"] for v in kap.values() for x in v if x["hits_per_request"] is not None]
hetcd = [x["hits_per_etcd_call"] for v in kap.values() for x in v if x["hits_per_etcd_call"] is not None and x["mode"] == "record"]
summary["hits_per_request"] = statistics.median(hits) if hits else None
summary["hits_per_etcd_call"] = statistics.median(hetcd) if hetcd else None

api = {}
for r in rows:
    if r["part"] == "apiserver":
        api.setdefault(r["round"], {})[r["mode"]] = r["apiserver_cpu_us_per_req"]
ratios = [v["on"] / v["off"] for v in api.values() if "on" in v and "off" in v and v["off"] > 0]
diffs = [v["on"] - v["off"] for v in api.values() if "on" in v and "off" in v]
if ratios:
    m, h = ci(ratios)
    dm, dh = ci(diffs)
    summary["apiserver"] = {"off_us_per_req_median": statistics.median(v["off"] for v in api.values()),
                            "on_us_per_req_median": statistics.median(v["on"] for v in api.values()),
                            "ratio_on_off": {"mean": m, "ci95": h, "per_round": [round(x, 4) for x in ratios]},
                            "diff_us_per_req": {"mean": dm, "ci95": dh}}
sat = {}
for r in rows:
    if r["part"] == "saturated":
        sat.setdefault(r["round"], {})[r["mode"]] = r["rps"]
sr = [v["on"] / v["off"] for v in sat.values() if "on" in v and "off" in v and v["off"] > 0]
if sr:
    summary["saturated_ratio_on_off"] = {"median": statistics.median(sr), "min": min(sr), "max": max(sr),
                                         "per_round": [round(x, 3) for x in sr],
                                         "off_rps": [v.get("off") for v in sat.values()]}
json.dump(summary, open(out, "w"), indent=1)

print("bench-overhead: ---- summary (load average %s -> %s) ----" % (load0, load1))
hpr, hpe = summary["hits_per_request"], summary["hits_per_etcd_call"]
if hpr is not None:
    line = "uprobe hits: %.2f per request, %s per etcd call" % (hpr, "%.2f" % hpe if hpe is not None else "?")
    if hit_ns is not None:
        per_req = (hpr + (hpe or 0)) * hit_ns / 1000
        line += "; at %.0f ns a hit: %.2f us of apiserver CPU per request (with its etcd call)" % (hit_ns, per_req)
    print("bench-overhead: " + line)
for m, v in summary["kapimon_cpu_us_per_req"].items():
    print("bench-overhead: kapimon %-20s %.2f us CPU per request (median; range %.2f-%.2f) at %s req/s offered, %.0f achieved"
          % (m, v["median"], v["min"], v["max"], rate, v["achieved_rps_median"]))
if "apiserver" in summary:
    a = summary["apiserver"]
    print("bench-overhead: apiserver CPU per request at %s req/s offered: off %.1f us, on %.1f us (medians); on/off %.4f +- %.4f "
          "(95%% CI, %d interleaved rounds); on-off %.1f +- %.1f us"
          % (rate, a["off_us_per_req_median"], a["on_us_per_req_median"], a["ratio_on_off"]["mean"], a["ratio_on_off"]["ci95"],
             len(ratios), a["diff_us_per_req"]["mean"], a["diff_us_per_req"]["ci95"]))
if sr:
    s = summary["saturated_ratio_on_off"]
    print("bench-overhead: secondary: saturated throughput on/off median %.3f (range %.3f-%.3f, %d rounds; noise-dominated)"
          % (s["median"], s["min"], s["max"], len(sr)))
print("bench-overhead: JSON in %s" % out)
EOF
