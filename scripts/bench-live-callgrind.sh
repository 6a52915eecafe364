#!/usr/bin/env bash
# Instructions per request of a LIVE kapimon (not a replay): `kapimon MODE` runs under
# `valgrind --tool=callgrind` attached to the testbed apiserver; after BENCH_WARM requests of warm-up
# the counters are zeroed (callgrind_control -z), BENCH_N requests are sent at BENCH_RATE req/s, and
# the counters are dumped (-d). Everything kapimon did meanwhile counts (ring reads, the refresh,
# housekeeping), so this is the live counterpart of scripts/bench-replay.sh: the same instruction
# count at a higher CPU time per request means cache misses, not instructions (docs/capture-testing.md,
# third pass). A benchmark: it asserts nothing about the figures. Needs root, the testbed and valgrind.
#
#   eval "$(scripts/testbed.sh env)"; scripts/bench-live-callgrind.sh [top|record]
#
# Load: h2load -c 4 --rps (BENCH_RATE / 4 each), GET of a namespaced list of 10 configmaps (one etcd
# Range each), as scripts/bench-overhead.sh. Environment: BENCH_RATE [400], BENCH_N [4000],
# BENCH_WARM [1000], BENCH_TOP [25] (functions listed), BENCH_KAPIMON [./kapimon], BENCH_KEEP [unset]
# (a file to keep the callgrind dump in, for callgrind_annotate --tree=calling).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODE=${1:-top}
RATE=${BENCH_RATE:-400} N=${BENCH_N:-4000} WARM=${BENCH_WARM:-1000} TOPN=${BENCH_TOP:-25}
KAPIMON=${BENCH_KAPIMON:-./kapimon}
case $MODE in top | record) ;; *) echo "usage: $0 [top|record]" >&2; exit 2 ;; esac
for t in valgrind callgrind_control callgrind_annotate h2load; do
	command -v "$t" >/dev/null || { echo "bench-live-callgrind: $t missing (apt-get install valgrind nghttp2-client)" >&2; exit 1; }
done
[ -x "$KAPIMON" ] || { echo "bench-live-callgrind: $KAPIMON missing (make)" >&2; exit 1; }
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
TMP=$(mktemp -d /tmp/kapimon-livecg.XXXXXX)
VPID=""
cleanup() {
	[ -z "$VPID" ] || kill -INT "$VPID" 2>/dev/null || true
	[ -z "$VPID" ] || wait "$VPID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$TMP/hdr"
chmod 600 "$TMP/hdr"
NS=kapimon-bench
api() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$KAPIMON_CA" -H "@$TMP/hdr" -A kapimon-bench-setup/1.0 "$@"; }
api -X POST -H 'Content-Type: application/json' "$KAPIMON_APISERVER_URL/api/v1/namespaces" \
	-d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}" >/dev/null
for i in $(seq 1 10); do
	api -X POST -H 'Content-Type: application/json' "$KAPIMON_APISERVER_URL/api/v1/namespaces/$NS/configmaps" \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"bench-$i\"},\"data\":{\"k\":\"v\"}}" >/dev/null
done
load() {
	h2load -n "$1" -c 4 --rps "$((RATE / 4))" -H "user-agent: kapimon-bench/1.0" -H "authorization: Bearer $KAPIMON_TOKEN" \
		"$KAPIMON_APISERVER_URL/api/v1/namespaces/$NS/configmaps" | grep -E '^requests:'
}

CG=$TMP/cg.out
case $MODE in
top) valgrind --tool=callgrind --callgrind-out-file="$CG" "$KAPIMON" top --pid "$KAPIMON_APISERVER_PID" --batch \
	>/dev/null 2>"$TMP/err" & ;;
record) valgrind --tool=callgrind --callgrind-out-file="$CG" "$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" \
	-o /dev/null --stats-interval 0 2>"$TMP/err" & ;;
esac
VPID=$!
# loading BPF objects under valgrind takes tens of seconds (BTF parsing, 20-50x slower)
until grep -q attached "$TMP/err"; do
	kill -0 "$VPID" 2>/dev/null || { grep -v 'eBPF command' "$TMP/err" >&2; exit 1; }
	sleep 0.5
done
echo "bench-live-callgrind: kapimon $MODE attached under callgrind (apiserver pid $KAPIMON_APISERVER_PID, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
load "$WARM" >/dev/null
callgrind_control -z "$VPID" >/dev/null
load "$N"
callgrind_control -d "$VPID" >/dev/null
DUMP=$(find "$TMP" -name 'cg.out.*' | head -n 1)
[ -n "$DUMP" ] || { echo "bench-live-callgrind: no dump written" >&2; exit 1; }
[ -z "${BENCH_KEEP:-}" ] || cp "$DUMP" "$BENCH_KEEP"
total=$(callgrind_annotate "$DUMP" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "bench-live-callgrind: $MODE: $total instructions over $N requests = $((total / N)) per request (everything kapimon ran)"
echo "functions, inclusive instructions per request:"
# "  6,048 (59.66%)  src/pipeline/pipeline.c:pipeline_feed [/path/kapimon]": count and function; the
# absolute-path duplicates callgrind adds for inlined files and libc's entry frames are left out
callgrind_annotate --auto=no --inclusive=yes "$DUMP" 2>/dev/null | grep -E '^ *[0-9,]+ \(' |
	sed -E 's/,//g; s/\([ 0-9.%]*\)//' | awk -v n="$N" '$2 !~ /^PROGRAM$|^\/|^\?\?\?|libc_start|^\(below|^main\)|^$/ {printf "%9d  %s\n", $1 / n, $2}' |
	head -n "$TOPN"
