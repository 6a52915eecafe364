#!/usr/bin/env bash
# kapimon agent for a while under steady load: RSS over time (flat?), ring-buffer drops, OTLP drops.
#   scripts/bench-agent-soak.sh [SECONDS]   (default 600; needs root and the testbed env:
#   eval "$(scripts/testbed.sh env)")
# Runs `kapimon agent --pid $KAPIMON_APISERVER_PID --metrics 127.0.0.1:0 --otlp <local receiver>
# --flows DIR` while h2load sends 100 req/s (list configmaps, one connection), samples VmRSS every 30 s,
# and prints the samples and the counters at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-600}
: "${KAPIMON_APISERVER_PID:?run eval \"\$(scripts/testbed.sh env)\" first}"
D=$(mktemp -d)
trap 'kill $kp $rp $hp 2>/dev/null; rm -rf "$D"' EXIT
kp= rp= hp=
python3 "$ROOT/tests/integration/otlp_receiver.py" --port 0 --port-file "$D/rport" --out /dev/null &
rp=$!
for _ in $(seq 100); do [ -s "$D/rport" ] && break; sleep 0.1; done
mkdir -p "$D/flows"
"$ROOT/kapimon" agent --pid "$KAPIMON_APISERVER_PID" --metrics 127.0.0.1:0 --otlp "http://127.0.0.1:$(cat "$D/rport")" \
	--flows "$D/flows" --rotate-mb 20 --keep 2 2>"$D/agent.err" &
kp=$!
for _ in $(seq 600); do grep -q 'metrics at' "$D/agent.err" && break; sleep 0.1; done
port=$(sed -n 's/.*metrics at .*(port \([0-9]*\)).*/\1/p' "$D/agent.err")
h2load --rps=100 -c 1 -m 1 -D "$SECS" -H "user-agent: kapimon-soak/1.0" -H "authorization: Bearer $KAPIMON_TOKEN" \
	"$KAPIMON_APISERVER_URL/api/v1/namespaces/default/configmaps" >"$D/h2load" 2>&1 &
hp=$!
t0=$(date +%s)
echo "seconds  VmRSS(kB)  VmHWM(kB)"
while kill -0 "$hp" 2>/dev/null; do
	echo "$(($(date +%s) - t0))  $(awk '/VmRSS/ {print $2}' /proc/$kp/status)  $(awk '/VmHWM/ {print $2}' /proc/$kp/status)"
	for _ in $(seq 30); do kill -0 "$hp" 2>/dev/null || break; sleep 1; done # sampling period of a report
done
grep -E 'requests:|succeeded' "$D/h2load" | head -2
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^kapimon_ringbuf_drops_total|^kapimon_attached_apiservers|^process_cpu_seconds_total'
kill -TERM "$kp"
wait "$kp" || true
kp=
grep -E 'otlp spans' "$D/agent.err"
ls -la "$D/flows" | tail -n +2
