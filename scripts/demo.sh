#!/usr/bin/env bash
# make demo: the main job on a loopback control plane. Brings up the testbed, starts steady background
# traffic from several kubelet/controller-like clients, then `kapimon top` on the apiserver; after
# KAPIMON_DEMO_CALM seconds (default 45: the anomaly detector learns the baseline in ~30) one new agent
# floods `list configmaps` and top shows it as the top talker, the anomaly, and the cause line.
#   On a terminal: the full-screen top (q quits; s sort, b grouping). Without a terminal (CI, a pipe):
#   batch snapshots for KAPIMON_DEMO_SECONDS (default 90), then a summary.
# The background clients and the flood stop when the demo ends; the testbed stays up
# (scripts/testbed.sh down).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
KAPIMON=$ROOT/kapimon
CALM=${KAPIMON_DEMO_CALM:-45}
SECS=${KAPIMON_DEMO_SECONDS:-90}

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "demo: run as root (kapimon loads BPF programs): sudo make demo" >&2; exit 1; }
[ -x "$KAPIMON" ] || { echo "demo: build kapimon first (make)" >&2; exit 1; }

say "1. loopback control plane (etcd with mTLS + kube-apiserver 1.20.2): scripts/testbed.sh up"
scripts/testbed.sh up >&2
eval "$(scripts/testbed.sh env)"

say "2. kapimon doctor --pid $KAPIMON_APISERVER_PID"
"$KAPIMON" doctor --pid "$KAPIMON_APISERVER_PID" >&2 || echo "(doctor says kapimon cannot run here; see above)" >&2

pids=()
cleanup() { [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# steady clients: UA PERIOD(s) PATH... (each loops over its paths; a synthetic client's pacing)
client() {
	local ua=$1 period=$2
	shift 2
	while :; do
		for p in "$@"; do
			curl -s -o /dev/null --cacert "$KAPIMON_CA" -H "Authorization: Bearer $KAPIMON_TOKEN" -A "$ua" \
				"$KAPIMON_APISERVER_URL$p" || true
		done
		sleep "$period"
	done
}
say "3. background: kubelets, a scheduler, a controller manager (curl loops)"
for n in 1 2 3; do
	client "kubelet/v1.20.2 (linux/amd64) node-$n" 0.5 \
		/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-$n /api/v1/nodes/node-$n \
		"/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-$n" &
	pids+=($!)
done
client "kube-scheduler/v1.20.2 (linux/amd64) scheduler" 1 /api/v1/pods /api/v1/nodes &
pids+=($!)
client "kube-controller-manager/v1.20.2 (linux/amd64) kube-controller-manager" 1 \
	/apis/apps/v1/deployments /apis/apps/v1/replicasets /api/v1/endpoints &
pids+=($!)

flood() { # after CALM seconds: a new agent lists every configmap in a tight loop for 20 s
	sleep "$CALM" # the demo's script: when the flood starts, not a synchronisation
	h2load -D 20 -c 2 -m 4 -H "user-agent: telemetry-agent/7.1" -H "authorization: Bearer $KAPIMON_TOKEN" \
		"$KAPIMON_APISERVER_URL/api/v1/configmaps" >/dev/null 2>&1 || true
}
flood &
pids+=($!)

if [ -t 1 ] && [ -t 0 ]; then
	say "4. kapimon top --pid $KAPIMON_APISERVER_PID  (a flood starts in ${CALM} s; q quits)"
	sleep 2
	"$KAPIMON" top --pid "$KAPIMON_APISERVER_PID" || true
else
	out=$KAPIMON_TESTBED_DIR/demo-top.txt
	say "4. kapimon top --batch --pid $KAPIMON_APISERVER_PID --iterations $SECS  (no terminal: batch snapshots; a flood starts at ${CALM} s)"
	"$KAPIMON" top --batch -n 8 --pid "$KAPIMON_APISERVER_PID" --iterations "$SECS" | tee "$out" |
		awk '/^kapimon top/ { n++ } n % 5 == 1 || /anomaly since/' || true
	say "the snapshots with a cause line"
	grep -m 3 'anomaly since' "$out" || echo "(no anomaly was shown: is the machine very loaded?)"
fi

say "the testbed is still running"
echo "  eval \"\$(scripts/testbed.sh env)\"   # KAPIMON_APISERVER_PID, KAPIMON_TOKEN, KAPIMON_KUBECONFIG, ..." >&2
echo "  sudo ./kapimon record --pid \$KAPIMON_APISERVER_PID -o flows.jsonl; ./kapimon analyze flows.jsonl --step 1" >&2
echo "  scripts/testbed.sh down            # tear it down" >&2
