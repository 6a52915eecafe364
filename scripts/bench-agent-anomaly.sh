#!/usr/bin/env bash
# The agent's added CPU for its anomaly detector (docs/agent.md): `kapimon agent --pid --metrics` with the
# detector (default) and with --no-anomalies, alternately (ROUNDS times each), while h2load offers a fixed
# rate (RPS requests a second of `list configmaps`, 2 connections) for SECONDS; kapimon's CPU time over
# the load window (after attach): the run time of all its threads in ns (/proc/PID/task/*/schedstat; the
# utime+stime of /proc/PID/stat count 10 ms ticks, too coarse here), per run and the mean difference;
# VmRSS at the end.
#   scripts/bench-agent-anomaly.sh [SECONDS 60] [RPS 200] [ROUNDS 2]
# Needs root and the testbed env: eval "$(scripts/testbed.sh env)".
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-60} RPS=${2:-200} ROUNDS=${3:-2}
: "${KAPIMON_APISERVER_PID:?run eval \"\$(scripts/testbed.sh env)\" first}"
D=$(mktemp -d)
kp= hp=
trap 'kill $kp $hp 2>/dev/null || true; rm -rf "$D"' EXIT
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }

run() { # LABEL [AGENT ARGS...]: prints "LABEL cpu_ms requests rss_kB"
	local label=$1 c0 c1 n rss
	shift
	"$ROOT/kapimon" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 "$@" 2>"$D/agent.err" &
	kp=$!
	for _ in $(seq 600); do grep -qs 'metrics at' "$D/agent.err" && break; sleep 0.1; done # attach (bounded)
	c0=$(cpu_ns "$kp")
	h2load --rps=$((RPS / 2)) -c 2 -m 1 -D "$SECS" -H "user-agent: kapimon-bench/1.0" \
		-H "authorization: Bearer $KAPIMON_TOKEN" "$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" >"$D/h2load" 2>&1
	c1=$(cpu_ns "$kp")
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$kp/status")
	n=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$D/h2load")
	kill -TERM "$kp"
	wait "$kp" || true
	kp=
	echo "$label $(((c1 - c0) / 1000)) $n $rss"
}

echo "agent --metrics, h2load ${RPS} req/s for ${SECS} s, ${ROUNDS} rounds (CPU: run time of kapimon's threads over the load)"
for r in $(seq "$ROUNDS"); do
	run detector
	run no-anomalies --no-anomalies
done | tee "$D/runs" | awk -v s="$SECS" '{printf "  %-13s %9.1f ms CPU  %6d requests  %.3f%% of a core  %.2f us/request  VmRSS %d kB\n", $1, $2 / 1000, $3, $2 / s / 10000, $3 ? $2 / $3 : 0, $4}'
awk -v s="$SECS" '{c[$1] += $2; n[$1]++; q[$1] += $3}
END {d = c["detector"] / n["detector"] - c["no-anomalies"] / n["no-anomalies"];
     printf "  added by the detector (means): %.1f ms per %d s = %.3f ms CPU per second (%.4f%% of a core), %.2f us per request\n",
            d / 1000, s, d / s / 1000, d / s / 10000, d / (q["detector"] / n["detector"])}' "$D/runs"
