#!/usr/bin/env bash
# kapimon's userspace cost per request, deterministically: recorded ring-buffer events are fed through
# the path of `record` (assemble -> etcd join -> JSON lines) and of `top` (assemble -> aggregate), with
# and without etcd, by build/bench/replay (tests/bench/replay.c) under callgrind; the instructions
# counted in replay_run are divided by the requests replayed. Same binary + same events = same count,
# whatever else runs on the machine. Also prints CPU ns per request outside valgrind (best of 5;
# that one depends on the machine). A benchmark: it asserts nothing about the figures.
#
#   scripts/bench-replay.sh [EVENTS]       default: tests/bench/list-400rps-etcdcost.raw.gz (committed)
#   BENCH_CAPTURE=1 scripts/bench-replay.sh  capture a fresh corpus from the testbed first (root):
#       `kapimon record --raw-events` while h2load lists configmaps at BENCH_RATE req/s
#
# The committed corpus: 2,000 GETs of a namespaced list of 10 configmaps at 400 req/s (one etcd Range
# each, with the etcd cost fields: response size, keys returned) plus the testbed apiserver's own
# traffic in those seconds, as `kapimon record --raw-events` wrote it (string tails and padding zeroed,
# etcd values redacted: src/input/raw_events.h). tests/bench/list-400rps.raw.gz is the earlier one
# (1,000 requests, recorded before the etcd cost fields and the user; test_replay_cli reads both).
# build/bench/replay feeds the events pass by pass, as the live loop reads the rings.
#
# Environment: BENCH_CAPTURE [0], BENCH_RATE [400], BENCH_N [2000], BENCH_OUT [build/bench-replay.json]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
EVENTS=${1:-tests/bench/list-400rps-etcdcost.raw.gz}
JSON_OUT=${BENCH_OUT:-$ROOT/build/bench-replay.json}
make -s build/bench/replay >/dev/null

if [ "${BENCH_CAPTURE:-0}" = 1 ]; then
	RATE=${BENCH_RATE:-400} N=${BENCH_N:-2000}
	[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
	make -s kapimon >/dev/null
	TMP=$(mktemp -d /tmp/kapimon-replay.XXXXXX)
	KPID=""
	trap '[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null; rm -rf "$TMP"' EXIT
	printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$TMP/hdr"
	NS=kapimon-bench
	api() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$KAPIMON_CA" -H "@$TMP/hdr" "$@"; }
	api -X POST -H 'Content-Type: application/json' "$KAPIMON_APISERVER_URL/api/v1/namespaces" \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}" >/dev/null
	for i in $(seq 1 10); do
		api -X POST -H 'Content-Type: application/json' "$KAPIMON_APISERVER_URL/api/v1/namespaces/$NS/configmaps" \
			-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"bench-$i\"},\"data\":{\"k\":\"$(printf 'v%.0s' $(seq 1 64))\"}}" >/dev/null
	done
	EVENTS=${BENCH_EVENTS_OUT:-$ROOT/build/bench-replay.raw}
	./kapimon record --pid "$KAPIMON_APISERVER_PID" -o /dev/null --stats-interval 0 --raw-events "$EVENTS" 2>"$TMP/err" &
	KPID=$!
	until grep -q attached "$TMP/err"; do
		kill -0 "$KPID" 2>/dev/null || { cat "$TMP/err" >&2; exit 1; }
		sleep 0.1
	done
	h2load -n "$N" -c 4 --rps "$((RATE / 4))" -H "user-agent: kapimon-bench/1.0" -H "authorization: Bearer $KAPIMON_TOKEN" \
		"$KAPIMON_APISERVER_URL/api/v1/namespaces/$NS/configmaps" | grep -E '^(finished|status codes)'
	kill -INT "$KPID"
	wait "$KPID"
	KPID=""
	tail -n 1 "$TMP/err"
	echo "bench-replay: captured $EVENTS ($(stat -c %s "$EVENTS") bytes)"
fi

[ -r "$EVENTS" ] || { echo "bench-replay: $EVENTS: no such file" >&2; exit 1; }
have_vg=1
command -v valgrind >/dev/null || { have_vg=0; echo "bench-replay: valgrind missing (apt-get install valgrind): no instruction counts" >&2; }
echo "bench-replay: $EVENTS, $(cc --version | head -n 1), CFLAGS as the Makefile's"
printf '%-18s %10s %16s %18s %14s\n' mode requests "instr/request" "D1 miss rd/wr/req" "cpu ns/req"
ROWS=()
for mode in "record" "record --no-etcd" "top" "top --no-etcd"; do
	# shellcheck disable=SC2086
	out=$(build/bench/replay $mode --repeat 5 "$EVENTS")
	reqs=$(sed -n 's/^requests \([0-9]*\)$/\1/p' <<<"$out")
	ns=$(sed -n 's/^cpu_ns_per_request \([0-9.]*\).*/\1/p' <<<"$out")
	ir=null d1r=null d1w=null
	if [ "$have_vg" = 1 ]; then
		cg=$(mktemp /tmp/kapimon-cg.XXXXXX)
		# shellcheck disable=SC2086
		# fixed environment: its size moves the stack, and memcpy's path depends on alignment (+-0.02%).
		# --cache-sim: the simulated L1 data cache's misses (this host's cache geometry), the memory a
		# request touches: deterministic too, where live time depends on what else ran on the cores.
		read -r total d1r d1w < <(env -i PATH=/usr/bin:/bin valgrind --tool=callgrind --cache-sim=yes --toggle-collect=replay_run \
			--callgrind-out-file="$cg" build/bench/replay $mode "$EVENTS" 2>&1 >/dev/null |
			sed -n 's/.*Collected : \([0-9]*\) [0-9]* [0-9]* [0-9]* \([0-9]*\) \([0-9]*\).*/\1 \2 \3/p')
		rm -f "$cg"
		ir=$((total / reqs))
		d1r=$(awk -v a="$d1r" -v n="$reqs" 'BEGIN { printf "%.1f", a / n }')
		d1w=$(awk -v a="$d1w" -v n="$reqs" 'BEGIN { printf "%.1f", a / n }')
	fi
	printf '%-18s %10s %16s %18s %14s\n' "$mode" "$reqs" "$ir" "$d1r/$d1w" "$ns"
	ROWS+=("{\"mode\":\"$mode\",\"requests\":$reqs,\"instructions_per_request\":$ir,\"d1_read_misses_per_request\":$d1r,\"d1_write_misses_per_request\":$d1w,\"cpu_ns_per_request\":${ns:-null}}")
done
mkdir -p "$(dirname "$JSON_OUT")"
(IFS=,; echo "{\"events\":\"$EVENTS\",\"runs\":[${ROWS[*]}]}") >"$JSON_OUT"
echo "bench-replay: JSON in $JSON_OUT"
