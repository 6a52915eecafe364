#!/usr/bin/env bash
# What the TCP tracepoints (bpf/conn.bpf.c) cost under a connection flood. A benchmark, not a test: it
# asserts nothing about timings (it fails only when a run itself fails).
#
#   eval "$(scripts/testbed.sh env)"; scripts/bench-conn.sh
#
# `kapimon record --pid` on the testbed's apiserver; a client (tests/integration/conn_client.py) opens
# BENCH_CONN_N TLS connections one after the other from 127.78.x.y and closes them (a redeployed agent
# reconnecting), BENCH_CONN_PAR such clients at once. While it runs the kernel accounts BPF programs'
# run time (BPF_ENABLE_STATS, held by this script through a bpf(2) call for the run only: while it is on,
# every BPF program on the host reads the clock twice per run). Printed: per conn program of this
# kapimon (its prog fds in /proc/PID/fdinfo, bpftool prog show id) run_cnt, run_time_ns, ns per run; the flood's connections per
# second; the conn records per second kapimon wrote; kapimon's CPU time over the flood; ring-buffer drops.
# Note run_cnt counts every TCP state change / retransmit / reset on the host (the tracepoints are
# host-wide; most runs are a map lookup that finds nothing).
#
# Environment: BENCH_CONN_N [2000], BENCH_CONN_PAR [2], BENCH_OUT [build/bench-conn.txt]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
N=${BENCH_CONN_N:-2000}
PAR=${BENCH_CONN_PAR:-2}
OUT=${BENCH_OUT:-build/bench-conn.txt}
TMP=$(mktemp -d)
KPID="" SPID=""
cleanup() {
	[ -z "$KPID" ] || kill -INT "$KPID" 2>/dev/null || true
	[ -z "$SPID" ] || kill "$SPID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
[ -n "${KAPIMON_APISERVER_PID:-}" ] || { echo "bench-conn: no testbed environment (eval \"\$(scripts/testbed.sh env)\")" >&2; exit 1; }

./kapimon record --pid "$KAPIMON_APISERVER_PID" -o "$TMP/rec.jsonl" --stats-interval 1 2>"$TMP/err" &
KPID=$!
for _ in $(seq 600); do grep -q attached "$TMP/err" && break; kill -0 "$KPID" || { cat "$TMP/err"; exit 1; }; sleep 0.1; done
grep -q attached "$TMP/err" || { echo "bench-conn: kapimon did not attach" >&2; exit 1; }

# hold BPF_ENABLE_STATS (bpf cmd 32, type BPF_STATS_RUN_TIME 0) until its stdin closes
mkfifo "$TMP/hold"
python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
attr = (ctypes.c_uint32 * 16)(0)
fd = libc.syscall(321, 32, ctypes.byref(attr), ctypes.sizeof(attr))
if fd < 0:
    sys.exit("BPF_ENABLE_STATS: %s" % os.strerror(ctypes.get_errno()))
print("on", flush=True)
sys.stdin.read()
' <"$TMP/hold" >"$TMP/stats.out" 2>&1 &
SPID=$!
exec 5>"$TMP/hold"
for _ in $(seq 100); do grep -q on "$TMP/stats.out" && break; sleep 0.1; done
grep -q on "$TMP/stats.out" || { cat "$TMP/stats.out"; exit 1; }

# this kapimon's conn programs: the prog ids of its file descriptors (/proc/PID/fdinfo), by name
progs() {
	grep -h '^prog_id:' /proc/"$KPID"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u | while read -r id; do
		bpftool prog show id "$id" -j
		echo
	done | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        p = json.loads(line)
        if p.get("name", "").startswith(("conn_state", "tcp_")):
            print(p["name"], p.get("run_cnt", 0), p.get("run_time_ns", 0))
'
}
cpu_ns() { cat /proc/"$KPID"/task/*/schedstat | awk '{s += $1} END {print s}'; }
progs | sort >"$TMP/p0"
c0=$(cpu_ns)
r0=$(grep -c '"kind":"conn"' "$TMP/rec.jsonl" || true)
t0=$(date +%s%N)
pids=()
for i in $(seq "$PAR"); do
	python3 tests/integration/conn_client.py burst --src "127.78.$((RANDOM % 250 + 2)).$i" --url "$KAPIMON_APISERVER_URL" \
		--ca "$KAPIMON_CA" --n "$N" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t1=$(date +%s%N)
want=$((r0 + 2 * N * PAR))
for _ in $(seq 300); do [ "$(grep -c '"kind":"conn"' "$TMP/rec.jsonl")" -ge "$want" ] && break; sleep 0.1; done
r1=$(grep -c '"kind":"conn"' "$TMP/rec.jsonl")
c1=$(cpu_ns)
progs | sort >"$TMP/p1"
exec 5>&-
wait "$SPID" 2>/dev/null || true
SPID=""
kill -INT "$KPID"
wait "$KPID" || true
KPID=""
drops=$(grep '"kind":"stats"' "$TMP/rec.jsonl" | tail -n 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["ringbuf_drops"])')
{
	secs=$(python3 -c "print(($t1 - $t0) / 1e9)")
	echo "bench-conn: $((N * PAR)) connections ($PAR clients x $N) in ${secs}s: $(python3 -c "print(round($N * $PAR / $secs))") connections/s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "bench-conn: conn records written: $((r1 - r0)) ($(python3 -c "print(round(($r1 - $r0) / $secs))")/s); kapimon CPU over the flood: $(python3 -c "print(round(($c1 - $c0) / 1e6))") ms ($(python3 -c "print(round(($c1 - $c0) / max(1, $r1 - $r0) / 1e3, 1))") us per record); ring-buffer drops: $drops"
	join -a1 "$TMP/p0" "$TMP/p1" 2>/dev/null | awk '{n = $4 - $2; t = $5 - $3; printf "bench-conn: %-20s run_cnt %9d  run_time_ns %12d  %7.0f ns/run\n", $1, n, t, n ? t / n : 0}'
} | tee "$OUT"
