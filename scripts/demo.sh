#!/usr/bin/env bash
# make demo: bring up the loopback control plane, check the host with `kapimon doctor`, then record
# the apiserver's requests while kubectl generates some traffic. Leaves the testbed running.
#   KAPIMON_DEMO_SECONDS [10]   recording length
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
KAPIMON=$ROOT/kapimon
SECS=${KAPIMON_DEMO_SECONDS:-10}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "demo: run as root (kapimon loads BPF programs): sudo make demo" >&2; exit 1; }
[ -x "$KAPIMON" ] || { echo "demo: build kapimon first (make)" >&2; exit 1; }

say "1. loopback control plane (etcd with mTLS + kube-apiserver 1.20.2): scripts/testbed.sh up"
scripts/testbed.sh up
eval "$(scripts/testbed.sh env)"
kc() { kubectl --kubeconfig "$KAPIMON_KUBECONFIG" "$@"; }

say "2. kapimon doctor --pid $KAPIMON_APISERVER_PID"
"$KAPIMON" doctor --pid "$KAPIMON_APISERVER_PID" || echo "(doctor says kapimon cannot run here; see above)"

# One round of varied traffic: lists, a create/update/delete, a 404 and a 403.
traffic() {
	kc get namespaces >/dev/null
	kc -n default get pods >/dev/null 2>&1
	kc -n default create configmap "kapimon-demo-$1" --from-literal=k=v >/dev/null
	kc -n default patch configmap "kapimon-demo-$1" -p '{"data":{"k":"w"}}' >/dev/null
	kc -n default delete configmap "kapimon-demo-$1" --wait=false >/dev/null
	kc -n default get configmap does-not-exist >/dev/null 2>&1 || true
	kc --context kapimon-testbed-alice -n default get secrets >/dev/null 2>&1 || true
}

rec_help=$("$KAPIMON" record --help 2>&1) && rec_ok=true || rec_ok=false
if [[ $rec_help == *"not available"* ]]; then rec_ok=false; fi

if $rec_ok; then
	out=$KAPIMON_TESTBED_DIR/demo-record.jsonl
	say "3. kapimon record --pid $KAPIMON_APISERVER_PID --duration $SECS -o $out  (with kubectl traffic)"
	rm -f "$out"
	"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" --duration "$SECS" -o "$out" &
	rec_pid=$!
	# Generate traffic for as long as the recorder runs (bounded: --duration plus 30 s of grace).
	i=0
	deadline=$(($(date +%s) + SECS + 30))
	while kill -0 "$rec_pid" 2>/dev/null; do
		if (($(date +%s) >= deadline)); then
			echo "demo: kapimon record still running after $((SECS + 30)) s; interrupting it"
			kill -INT "$rec_pid" 2>/dev/null || true
			for _ in $(seq 100); do kill -0 "$rec_pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$rec_pid" 2>/dev/null || true
			break
		fi
		i=$((i + 1))
		traffic "$i" || true
	done
	wait "$rec_pid" && rc=0 || rc=$?
	echo "kapimon record exited with status $rc after $i rounds of kubectl traffic"
	if [ -s "$out" ]; then
		say "first records ($(wc -l <"$out") lines in $out)"
		head -n 5 "$out" | cut -c1-400
		if command -v jq >/dev/null; then
			say "records by kind, verb and status"
			jq -r '[.kind // "-", .verb // .op // .method // "-", (.status // .grpc_status // "-" | tostring)] | join(" ")' "$out" 2>/dev/null |
				sort | uniq -c | sort -rn | head -n 20
		fi
	else
		echo "(no records written)"
	fi
else
	say "3. kapimon record is not available in this build"
	echo "When it is, the demo runs 'kapimon record --pid $KAPIMON_APISERVER_PID --duration $SECS' while"
	echo "kubectl lists, creates, patches and deletes configmaps, gets a 404 and (as alice) a 403, and shows"
	echo "one JSON line per apiserver request (verb, resource, user, status, latency) and per etcd call."
	for i in 1 2 3; do traffic "$i"; done
	echo "Generated 3 rounds of that traffic anyway; the apiserver's own audit log has it:"
	tail -n 3 "$KAPIMON_AUDIT_LOG" | cut -c1-300
fi

say "the testbed is still running"
echo "  eval \"\$(scripts/testbed.sh env)\"   # KAPIMON_APISERVER_PID, KAPIMON_TOKEN, KAPIMON_KUBECONFIG, ..."
echo "  kubectl --kubeconfig $KAPIMON_KUBECONFIG get ns"
echo "  scripts/testbed.sh down            # tear it down"
