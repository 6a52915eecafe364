#!/usr/bin/env bash
# Follow: without --pid, `record` and `top` watch every apiserver with a given executable name.
#   1. An apiserver A (a copy of the testbed's binary under a name unique to this run, on its own port,
#      on the testbed's etcd; `--exe NAME` so other kube-apiservers on this host are left alone) is
#      attached; it is restarted (SIGTERM, new process): both re-attach by themselves within 2 s of
#      the new process's start, and requests sent before and after the restart are in the file and
#      the snapshots, with the right "apiserver_pid".
#   2. A second apiserver B, started with `unshare --mount --pid --fork` from a tmpfs mounted only in
#      its mount namespace (its binary is visible nowhere else), is attached too: records of both tell
#      them apart, etcd calls are linked to requests of their own apiserver, the stats record and top
#      list both.
#   3. --pid keeps the old behaviour: record and top exit 1 when that process exits.
# The ground truth is what curl got back (every request answered 200 is one record).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

cd "$KAPIMON_ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/follow
rm -rf "$OUT" && mkdir -p "$OUT/bin" "$OUT/ns"
RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
NAME=kube-apiserver-kpf$RUN
REC=$OUT/records.jsonl ERR=$OUT/record.stderr TOPJ=$OUT/top.jsonl TOPERR=$OUT/top.stderr
APID="" BPID="" UPID="" KPID="" TPID="" PPID1="" PPID2=""
N=20

log() { echo "test_follow: $*"; }
cleanup() {
	local p
	for p in $KPID $TPID $PPID1 $PPID2; do kill -KILL "$p" 2>/dev/null; done
	for p in $APID $BPID; do kill -KILL "$p" 2>/dev/null; done
	[ -z "$UPID" ] || kill -KILL "$UPID" 2>/dev/null
	rm -f "$OUT/bin/$NAME" "$OUT/admin.hdr"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PA=$(free_port) PB=$(free_port)
[ "$PA" != "$PB" ] || PB=$(free_port)
# the testbed apiserver's flags, on another port, with its own audit log
mapfile -t ARGS < <(tr '\0' '\n' <"/proc/$KAPIMON_APISERVER_PID/cmdline" | tail -n +2 | grep -v '^--secure-port=\|^--audit-log-path=')
cp "$(readlink -f "/proc/$KAPIMON_APISERVER_PID/exe")" "$OUT/bin/$NAME" || abort "copy the apiserver binary"
printf 'Authorization: Bearer %s\n' "$KAPIMON_TOKEN" >"$OUT/admin.hdr" && chmod 600 "$OUT/admin.hdr"

start_a() {
	"$OUT/bin/$NAME" "${ARGS[@]}" --secure-port="$PA" --audit-log-path="$OUT/audit-a.log" >>"$OUT/a.log" 2>&1 </dev/null &
	APID=$!
}
healthy() { [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 -H "@$OUT/admin.hdr" "https://127.0.0.1:$1/healthz")" = 200 ]; }
# send PORT UA: N admin LISTs over h2; prints how many were answered 200
send() {
	local ok=0 i
	for i in $(seq "$N"); do
		[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --http2 --cacert "$KAPIMON_CA" -H "@$OUT/admin.hdr" \
			-A "$2" "https://127.0.0.1:$1/api/v1/namespaces/default/configmaps?limit=1")" = 200 ] && ok=$((ok + 1))
	done
	echo "$ok"
}
attached() { grep -q "attached: pid $2 " "$1"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }

# --- 1. one apiserver, restarted ------------------------------------------------------------------
start_a
wait_for "apiserver A ($NAME, port $PA) healthy" 120 healthy "$PA" || abort
"$KAPIMON" record -v --exe "$NAME" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
"$KAPIMON" -j top -v --batch --exe "$NAME" --interval 1 -n 1000 >"$TOPJ" 2>"$TOPERR" &
TPID=$!
wait_for "record (no --pid) attaches to A (pid $APID)" 60 attached "$ERR" "$APID" || abort "" "$(cat "$ERR")"
wait_for "top (no --pid) attaches to A" 60 attached "$TOPERR" "$APID" || abort "" "$(cat "$TOPERR")"
check_eq "requests to A before the restart" "$N" "$(send "$PA" "before-$RUN")"

OLD=$APID
kill -TERM "$OLD"
wait_for "apiserver A exits on SIGTERM" 90 exited "$OLD" || abort
start_a
t_start=$(ms_now)
log "restarted: pid $OLD -> $APID"
wait_for "record re-attaches to the restarted A (pid $APID)" 30 attached "$ERR" "$APID"
t_rec=$(ms_now)
wait_for "top re-attaches to the restarted A" 30 attached "$TOPERR" "$APID"
t_top=$(ms_now)
log "re-attached $((t_rec - t_start)) ms (record) and $((t_top - t_start)) ms (top) after the new process started"
check "record re-attached within 2 s of the start ($((t_rec - t_start)) ms, polled every 0.1 s)" test $((t_rec - t_start)) -le 2100
check "top re-attached within 2 s of the start ($((t_top - t_start)) ms, polled every 0.1 s)" test $((t_top - t_start)) -le 2100
check_contains "record says the old one exited" "pid $OLD exited" "$(cat "$ERR")"
wait_for "restarted A healthy" 120 healthy "$PA" || abort
check_eq "requests to A after the restart" "$N" "$(send "$PA" "after-$RUN")"

# --- 2. a second apiserver in its own mount + PID namespace -----------------------------------------
unshare --mount --pid --fork --kill-child sh -c 'mount -t tmpfs kpf "$1" && cp "$2" "$1/" && shift 2 && exec "$@"' sh \
	"$OUT/ns" "$OUT/bin/$NAME" "$OUT/ns/$NAME" "${ARGS[@]}" --secure-port="$PB" --audit-log-path="$OUT/audit-b.log" \
	>"$OUT/b.log" 2>&1 </dev/null &
UPID=$!
find_b() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$OUT/ns/$NAME" ] && BPID=${p#/proc/} && return 0
	done
	return 1
}
wait_for "apiserver B runs in its own namespaces" 60 find_b || abort
check "B's binary is not visible outside its mount namespace" test ! -e "$OUT/ns/$NAME"
check "B is in another PID namespace" test "$(readlink "/proc/$BPID/ns/pid")" != "$(readlink /proc/self/ns/pid)"
log "B: host pid $BPID, pid $(awk '/^NSpid/ {print $NF}' "/proc/$BPID/status") in its namespace"
wait_for "record attaches to B (pid $BPID)" 30 attached "$ERR" "$BPID"
wait_for "top attaches to B" 30 attached "$TOPERR" "$BPID"
wait_for "B healthy" 120 healthy "$PB" || abort
check_eq "requests to B" "$N" "$(send "$PB" "ns-$RUN")"
check_eq "requests to A while B runs" "$N" "$(send "$PA" "both-$RUN")"
recorded() { grep -qF "\"user_agent\":\"$1\"" "$REC" 2>/dev/null; }
wait_for "the last requests are in the file" 30 recorded "both-$RUN"
# every request ended before this: two more snapshots cover the interval they ended in
snaps_ge() { [ "$(wc -l <"$TOPJ")" -ge "$1" ]; }
n_snaps=$(wc -l <"$TOPJ")
wait_for "top reports the interval the last requests ended in" 30 snaps_ge $((n_snaps + 2))
sleep_until_stats() { [ "$(grep -c '"kind":"stats"' "$REC")" -ge "$1" ]; }
n_stats=$(grep -c '"kind":"stats"' "$REC")
wait_for "a stats record after that" 30 sleep_until_stats $((n_stats + 1))

kill -INT "$KPID" "$TPID"
wait_for "record exits after SIGINT" 30 exited "$KPID"
rc=0; wait "$KPID" || rc=$?
check_eq "record exit status" 0 "$rc"
wait_for "top exits after SIGINT" 30 exited "$TPID"
rc=0; wait "$TPID" || rc=$?
check_eq "top exit status" 0 "$rc"
KPID="" TPID=""

report < <(python3 - "$REC" "$TOPJ" "$RUN" "$N" "$OLD" "$APID" "$BPID" <<'EOF'
import json, sys
rec, topj, run, n, old, apid, bpid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), *map(int, sys.argv[5:8])
def ok(desc, cond, detail=""):
    print(f"{'ok' if cond else 'FAIL'}\t{desc}\t{detail}")
reqs, etcd, stats = [], [], []
for line in open(rec):
    d = json.loads(line)
    # conn (connection) records are not checked here
    {"request": reqs, "etcd": etcd, "stats": stats}.get(d["kind"], []).append(d)
def by_ua(ua):
    return [r for r in reqs if r["user_agent"] == ua]
for ua, pid, what in ((f"before-{run}", old, "A before the restart"), (f"after-{run}", apid, "A after the restart"),
                      (f"ns-{run}", bpid, "B (own mount+PID namespace)"), (f"both-{run}", apid, "A while B runs")):
    rs = by_ua(ua)
    ok(f"record: {n} requests to {what} recorded", len(rs) == n, f"{len(rs)}")
    pids = sorted({r.get("apiserver_pid") for r in rs})
    ok(f"record: they carry apiserver_pid {pid}", pids == [pid], f"{pids}")
    ok(f"record: {what}: list configmaps 200", all(r["verb"] == "list" and r["status"] == 200 for r in rs))
ids = {r["id"]: r for r in reqs}
ok("record: request ids unique across apiservers", len(ids) == len(reqs), f"{len(reqs) - len(ids)} duplicates")
linked = [e for e in etcd if e.get("request_id")]
bad = [e for e in linked if e["request_id"] not in ids or ids[e["request_id"]].get("apiserver_pid") != e.get("apiserver_pid")]
ok("record: linked etcd calls belong to a request of their own apiserver", linked and not bad,
   f"{len(bad)} of {len(linked)}")
ok("record: etcd calls of both apiservers", {apid, bpid} <= {e.get("apiserver_pid") for e in etcd})
last = stats[-1]["apiservers"] if stats and "apiservers" in stats[-1] else {}
ok("stats: follow mode", last.get("follow") is True, f"{last}")
ok("stats: A (restarted) and B attached", sorted(last.get("attached", [])) == sorted([apid, bpid]), f"{last}")
ok("stats: 3 attaches, 1 exit", last.get("attaches") == 3 and last.get("exits") == 1, f"{last}")
snaps = [json.loads(l) for l in open(topj)]
ok("top: snapshots", len(snaps) >= 3, f"{len(snaps)}")
def counted(ua):
    return sum(r["req_per_s"] * s["span_s"] for s in snaps for r in s["rows"] if r.get("user_agent") == ua)
for ua, what in ((f"after-{run}", "A after the restart"), (f"ns-{run}", "B"), (f"both-{run}", "A while B runs")):
    c = counted(ua)
    ok(f"top: the {n} requests to {what} are in the snapshots", abs(c - n) < 0.01, f"{c:.2f}")
both = [s for s in snaps if sorted(s["apiservers"]["attached"]) == sorted([apid, bpid])]
ok("top: snapshots list both apiservers", both, f"{[s['apiservers'] for s in snaps[-3:]]}")
ok("top: the description names both", both and "2 apiservers" in both[-1]["probes"])
EOF
)
check_contains "top's attach lines name B" "attached: pid $BPID" "$(cat "$TOPERR")"

# --- 3. --pid: the old behaviour (exit 1 when the process exits) ------------------------------------
"$KAPIMON" record --pid "$APID" -o "$OUT/pid.jsonl" 2>"$OUT/pid-record.stderr" &
PPID1=$!
"$KAPIMON" top --batch --pid "$APID" >/dev/null 2>"$OUT/pid-top.stderr" &
PPID2=$!
wait_for "record --pid attaches" 60 attached "$OUT/pid-record.stderr" "$APID" || abort
wait_for "top --pid attaches" 60 attached "$OUT/pid-top.stderr" "$APID" || abort
kill -TERM "$APID"
wait_for "apiserver A exits on SIGTERM" 90 exited "$APID"
wait_for "record --pid exits when its process exits" 30 exited "$PPID1"
rc=0; wait "$PPID1" || rc=$?
check_eq "record --pid exit status when the process exited" 1 "$rc"
wait_for "top --pid exits when its process exits" 30 exited "$PPID2"
rc=0; wait "$PPID2" || rc=$?
check_eq "top --pid exit status when the process exited" 1 "$rc"
check_contains "top --pid says why" "pid $APID exited" "$(cat "$OUT/pid-top.stderr")"
PPID1="" PPID2=""
finish
