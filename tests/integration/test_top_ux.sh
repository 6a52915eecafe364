#!/usr/bin/env bash
# kapimon top in an incident: filter, groupings, reverse order, keys (docs/top.md).
#
# Workload: agent A lists configmaps in namespace uxa-RUN (N_A requests), agent B lists pods in namespace
# uxb-RUN (N_B requests, N_B < N_A), both over h2 while five `kapimon -j top --batch` run side by side:
#   --filter A's agent (all):  every row of every snapshot contains the filter in a key field, the
#                              snapshots carry "filter", A's row is shown, B's rows are hidden (rows_hidden);
#   --by namespace:            rows uxa-RUN / uxb-RUN, their requests summed over the snapshots = the
#                              requests each agent got answered (each request is in exactly one interval);
#   --by verb-resource:        rows (list, configmaps) and (list, pods) with >= the agents' requests;
#   --by resource:             rows keyed by resource only (no verb field);
#   --by agent --reverse:      "reverse": true and rates ascending in every snapshot, A's row after B's.
# Then interactive under tmux: '/' + B's agent + Enter shows the filter line and hides A; 'r' says
# "reversed"; '?' shows the keys overlay, a key closes it; '/' + Enter clears the filter; 'q' quits.
# Needs root, ./kapimon, curl, tmux, python3 and the testbed env. Artefacts in $KAPIMON_TEST_OUT/top_ux.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$ROOT/build/test-out}/top_ux
rm -rf "$OUT" && mkdir -p "$OUT"
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
UA_A=uxa-agent-$RUN
UA_B=uxb-agent-$RUN
NS_A=uxa-$RUN
NS_B=uxb-$RUN
N_A=${KAPIMON_TOP_UX_A:-600}
N_B=${KAPIMON_TOP_UX_B:-200}
TMUX_SOCK=kapimon-topux-$RUN
PIDS=()
BGPID=""

log() { echo "test_top_ux: $*"; }
die() { echo "test_top_ux: FAIL: $*"; exit 1; }
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	[ -z "$BGPID" ] || kill -- "$BGPID" 2>/dev/null || true
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true
	rm -f "$OUT/admin.hdr"
}
trap cleanup EXIT
wait_for() {
	local desc=$1 secs=$2 t
	shift 2
	t=$(($(date +%s%N) + secs * 1000000000))
	until "$@"; do
		(($(date +%s%N) < t)) || die "timed out after ${secs}s waiting for $desc"
		sleep 0.1
	done
}
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"
flood() {
	curl -sS --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" -A "$1" --max-time 120 -Z --parallel-max 8 \
		-o /dev/null -w '%{http_code}\n' "$KAPIMON_APISERVER_URL$3?n=[1-$2]" 2>/dev/null || true
}

# --- 1. batch JSON views side by side ------------------------------------------------------------------
VIEWS=(filter namespace verbres resource reverse)
declare -A ARGS=([filter]="--filter $UA_A" [namespace]="--by namespace" [verbres]="--by verb-resource"
	[resource]="--by resource" [reverse]="--by agent --reverse")
for v in "${VIEWS[@]}"; do
	# shellcheck disable=SC2086
	./kapimon -j top --pid "$KAPIMON_APISERVER_PID" --batch --interval 1 --iterations 600 -n 1000 ${ARGS[$v]} \
		>"$OUT/$v.jsonl" 2>"$OUT/$v.stderr" &
	PIDS+=($!)
done
nsnap() { [ -s "$OUT/$1.jsonl" ] && wc -l <"$OUT/$1.jsonl" || echo 0; }
all_have() { for v in "${VIEWS[@]}"; do (($(nsnap "$v") >= $1)) || return 1; done; }
wait_for "a first snapshot from every view" 90 all_have 1
flood "$UA_B" "$N_B" "/api/v1/namespaces/$NS_B/pods" >"$OUT/b.codes" &
FB=$!
flood "$UA_A" "$N_A" "/api/v1/namespaces/$NS_A/configmaps" >"$OUT/a.codes"
wait "$FB"
ok_a=$(grep -c '^200$' "$OUT/a.codes" || true)
ok_b=$(grep -c '^200$' "$OUT/b.codes" || true)
log "flood: A $ok_a of $N_A, B $ok_b of $N_B answered 200"
((ok_a >= N_A * 9 / 10 && ok_b >= N_B * 9 / 10)) || die "the floods themselves failed"
base=$(nsnap namespace)
wait_for "two snapshots after the floods" 30 all_have $((base + 2))
for p in "${PIDS[@]}"; do kill -INT "$p"; done
for p in "${PIDS[@]}"; do wait_for "kapimon top to exit" 30 exited "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || die "a kapimon top exited with $?"; done
PIDS=()

python3 - "$OUT" "$UA_A" "$UA_B" "$NS_A" "$NS_B" "$ok_a" "$ok_b" <<'EOF' || die "snapshot checks failed"
import json, sys
out, ua_a, ua_b, ns_a, ns_b, ok_a, ok_b = sys.argv[1:6] + [int(x) for x in sys.argv[6:8]]
load = lambda v: [json.loads(l) for l in open(f"{out}/{v}.jsonl")]
fails = []
def check(c, m):
    if not c: fails.append(m)
KEYS = ("user_agent", "verb", "resource", "subresource", "namespace", "client")
def reqs(s, pred):
    return sum(r["req_per_s"] * s["span_s"] for r in s["rows"] if pred(r))

# filter
snaps = load("filter")
seen_a = hidden = 0
for s in snaps:
    check(s["filter"] == ua_a, f"snapshot filter {s.get('filter')!r}")
    for r in s["rows"]:
        check(any(ua_a in str(r.get(k, "")) for k in KEYS), f"row outside the filter: {r}")
        seen_a += r.get("user_agent") == ua_a
    hidden = max(hidden, s["rows_hidden"])
check(seen_a > 0, "the filtered agent's row never shown")
check(hidden >= 1, "rows_hidden never > 0 although agent B ran")
print(f"filter: {len(snaps)} snapshots, A's row in {seen_a}, at most {hidden} rows hidden")

# namespace
snaps = load("namespace")
check(all(s["by"] == "namespace" and s["filter"] == "" for s in snaps), "namespace snapshots' by/filter")
for r in (r for s in snaps for r in s["rows"]):
    check(set(r) & set(KEYS) <= {"namespace"}, f"namespace row with other keys: {r}")
ca = sum(reqs(s, lambda r: r.get("namespace") == ns_a) for s in snaps)
cb = sum(reqs(s, lambda r: r.get("namespace") == ns_b) for s in snaps)
print(f"namespace: {ns_a} {ca:.0f} (curl {ok_a}), {ns_b} {cb:.0f} (curl {ok_b})")
check(abs(ca - ok_a) <= 0.02 * ok_a + 2, f"namespace A counted {ca}, answered {ok_a}")
check(abs(cb - ok_b) <= 0.02 * ok_b + 2, f"namespace B counted {cb}, answered {ok_b}")

# verb-resource
snaps = load("verbres")
cm = sum(reqs(s, lambda r: (r.get("verb"), r.get("resource")) == ("list", "configmaps")) for s in snaps)
pods = sum(reqs(s, lambda r: (r.get("verb"), r.get("resource")) == ("list", "pods")) for s in snaps)
print(f"verb-resource: list configmaps {cm:.0f}, list pods {pods:.0f}")
check(all(s["by"] == "verb-resource" for s in snaps), "verb-resource snapshots' by")
check(cm >= ok_a * 0.98 - 2 and pods >= ok_b * 0.98 - 2, "verb-resource counts below the workload")
check(all("user_agent" not in r for s in snaps for r in s["rows"]), "verb-resource rows carry a user agent")

# resource
snaps = load("resource")
rows = [r for s in snaps for r in s["rows"]]
check(any(r.get("resource") == "configmaps" for r in rows), "no configmaps row by resource")
check(all("verb" not in r and "user_agent" not in r for r in rows), "resource rows carry verb/agent")

# reverse
snaps = load("reverse")
busy = 0
for s in snaps:
    check(s["reverse"] is True, "reverse flag missing")
    rates = [r["req_per_s"] for r in s["rows"]]
    check(rates == sorted(rates), f"reversed rows not ascending: {rates}")
    names = [r.get("user_agent") for r in s["rows"]]
    if ua_a in names and ua_b in names:
        ra = s["rows"][names.index(ua_a)]["req_per_s"]; rb = s["rows"][names.index(ua_b)]["req_per_s"]
        if ra > rb:
            busy += 1
            check(names.index(ua_a) > names.index(ua_b), "reverse: the busier agent A before B")
check(busy > 0, "no snapshot with A busier than B to check the reversed order on")
if fails:
    print("\n".join(fails[:20])); sys.exit(1)
EOF
log "batch views: ok"

# --- 2. batch text: the filter line --------------------------------------------------------------------
./kapimon top --pid "$KAPIMON_APISERVER_PID" --batch --iterations 2 --filter "no-such-agent-$RUN" --reverse \
	>"$OUT/text.txt" 2>"$OUT/text.stderr" || die "batch text run failed"
grep -q "^filter \"no-such-agent-$RUN\" on: [0-9]* rows hidden" "$OUT/text.txt" || die "no filter line in batch text"
grep -q "reversed" "$OUT/text.txt" || die "no 'reversed' in batch text"
log "batch text: ok"

# --- 3. interactive under tmux: / r ? --------------------------------------------------------------------
# steady traffic from both agents while the screen is driven
( while :; do flood "$UA_A" 40 "/api/v1/namespaces/$NS_A/configmaps" >/dev/null
	flood "$UA_B" 20 "/api/v1/namespaces/$NS_B/pods" >/dev/null; sleep 0.2; done ) &
BGPID=$!
pane() { tmux -L "$TMUX_SOCK" capture-pane -p -t top 2>/dev/null; }
pane_shows() { pane >"$OUT/pane.txt" && grep -q '^kapimon top - ' "$OUT/pane.txt" && grep -q -- "$1" "$OUT/pane.txt"; }
pane_lacks() { pane >"$OUT/pane.txt" && grep -q '^kapimon top - ' "$OUT/pane.txt" && ! grep -q -- "$1" "$OUT/pane.txt"; }
session_gone() { ! tmux -L "$TMUX_SOCK" has-session -t top 2>/dev/null; }
keys() { tmux -L "$TMUX_SOCK" send-keys -t top "$@"; }
tmux -L "$TMUX_SOCK" new-session -d -s top -x 180 -y 45 "./kapimon top --pid $KAPIMON_APISERVER_PID 2>$OUT/tmux.stderr"
wait_for "the footer with the keys" 60 pane_shows '? help'
wait_for "both agents on the screen" 30 pane_shows "$UA_B"
wait_for "agent A on the screen" 30 pane_shows "$UA_A"
keys /
wait_for "the filter prompt" 10 pane_shows '^filter: _'
keys -l "$UA_B"
keys Enter
wait_for "the filter line" 10 pane_shows "filter \"$UA_B\" on"
wait_for "agent A hidden by the filter" 10 pane_lacks "$UA_A"
pane_shows "$UA_B" || wait_for "agent B still shown" 10 pane_shows "$UA_B"
log "screen with the filter:"
grep -v '^ *$' "$OUT/pane.txt" | head -12 | sed 's/^/  | /'
keys r
wait_for "'reversed' after key r" 10 pane_shows 'reversed'
keys '?'
wait_for "the help overlay" 10 pane_shows '^kapimon top - keys'
keys x
wait_for "the help overlay closed" 10 pane_lacks '^kapimon top - keys'
keys /
# clear: backspace the typed filter, then Enter on the empty line
for _ in $(seq ${#UA_B}); do keys BSpace; done
keys Enter
wait_for "the filter cleared" 10 pane_lacks 'rows hidden'
wait_for "agent A back after clearing" 15 pane_shows "$UA_A"
keys q
wait_for "kapimon top to quit on q" 10 session_gone
log "interactive: ok"
log "PASS"
