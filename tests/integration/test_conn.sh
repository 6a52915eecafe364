#!/usr/bin/env bash
# The kernel's view of each client (bpf/conn.bpf.c: TCP tracepoints): "kind":"conn" records and their
# counts against the kernel's own.
#
# 1. N TLS connections opened and closed one after the other from a source address of this run
#    (127.77.x.y: all of 127/8 is loopback): kapimon's open and close records for that client are N each,
#    every close has a duration, bytes in/out and retransmits.
# 2. M connections held open: kapimon's currently-open count for the client (the last record's "open")
#    equals `ss -tn` of the apiserver's established sockets to that client; after they close, 0.
#    The same N-connection count with the fallback programs (KAPIMON_CONN_VARIANT=raw_tp, tracepoint).
# 3. Retransmits against nstat. The apiserver's segments must be the ones lost, and TcpRetransSegs must be
#    read in the network namespace of the sockets that retransmit: the host's root namespace is shared with
#    every other process (other helpers' loopback connections retransmit there: thousands during one run
#    here), so the test runs its own apiserver (the testbed's flags, another bind address and audit log;
#    killed in the trap) in a network namespace of this run, joined to the host by a veth pair of this run
#    (a private /30; removed in the trap); that apiserver reaches the testbed's etcd through two relays
#    (tests/integration/tcp_relay.py: 127.0.0.1 in the namespace -> the veth -> 127.0.0.1 on the host). The
#    client runs on the host; tests/integration/loss.bpf.c (this kernel has no sch_netem) drops a share of
#    the apiserver's segments (source port = its port) arriving on the host's end of the veth: lost on the
#    wire, so the apiserver's TCP retransmits. Over one quiet-to-quiet window: the namespace's TcpRetransSegs
#    delta = kapimon's retransmits (all its rows: the client's connections and the apiserver's etcd
#    connections) + those of the namespace's other sockets (the relay, the apiserver's connections to
#    itself: from their own counters, ss -ti); kapimon's retransmits for the client = the apiserver's
#    sockets' own total_retrans (ss -ti); and they are > 0. The three terms are read together, as
#    absolute counters, at a baseline where they agree twice across one of kapimon's snapshots and at the
#    end until they agree (the other sockets carry etcd traffic throughout). SYN-ACK retransmits are in
#    nstat and in each connection's total_retrans (the child inherits its request's count). The
#    namespace's ss and nstat at both ends are kept in $OUT for a failure's diagnosis.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAPIMON_ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/conn
rm -rf "$OUT" && mkdir -p "$OUT"
N=${KAPIMON_CONN_N:-120}
M=${KAPIMON_CONN_HOLD:-40}
R1=$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 2 ))
R2=$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 2 ))
SRC=127.77.$R1.$R2
PORT=${KAPIMON_APISERVER_PORT:-16443}
CLIENT="python3 $KAPIMON_ROOT/tests/integration/conn_client.py"
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
KPID="" HPID="" A2PID="" TPID="" NS="" VH="" RPIDS=""

log() { echo "test_conn: $*"; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ -z "$TPID" ] || kill -KILL "$TPID" 2>/dev/null || true
	[ -z "$HPID" ] || kill "$HPID" 2>/dev/null || true
	exec 3>&- 2>/dev/null || true
	exec 4>&- 2>/dev/null || true
	[ -z "$A2PID" ] || kill "$A2PID" 2>/dev/null || true
	[ -z "$A2PID" ] || for _ in $(seq 50); do exited "$A2PID" && break; sleep 0.1; done
	[ -z "$A2PID" ] || kill -KILL "$A2PID" 2>/dev/null || true
	for p in $RPIDS; do kill "$p" 2>/dev/null || true; done
	[ -z "$VH" ] || ip link del "$VH" 2>/dev/null || true
	[ -z "$NS" ] || ip netns del "$NS" 2>/dev/null || true
	rm -f "$OUT/token" "$OUT/hold.in" "$OUT/traffic.in"
}
trap cleanup EXIT
attached_or_exited() { grep -q attached "$1" || exited "$2"; }
# conn records of a client address (its IP), as "event open-field" lines
conn_lines() { python3 - "$1" "$2" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("kind") == "conn" and d.get("peer", "").rsplit(":", 1)[0] == sys.argv[2]:
        print(d["event"], d.get("open", 0))
EOF
}
count_events() { conn_lines "$REC" "$SRC" | grep -c "^$1 "; }
have_events() { [ "$(count_events "$1")" -ge "$2" ]; }
ss_open() { ss -Htn state established "( sport = :$PORT and dst $SRC )" | wc -l; }

"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
wait_for "kapimon record prints 'attached' (or exits)" 60 attached_or_exited "$ERR" "$KPID" || abort
grep -q attached "$ERR" || abort "kapimon record attaches" "$(cat "$ERR")"
check_contains "connection tracking attached (tcp tracepoints)" "tcp tracepoints" "$(grep attached "$ERR")"

# ---- 1. N connections opened and closed ----
check "$N TLS connections from $SRC opened and closed" $CLIENT burst --src "$SRC" --url "$KAPIMON_APISERVER_URL" --ca "$KAPIMON_CA" --n "$N"
wait_for "$N close records for $SRC" 30 have_events close "$N"
check_eq "open records for $SRC" "$N" "$(count_events open)"
check_eq "close records for $SRC" "$N" "$(count_events close)"
report < <(python3 - "$REC" "$SRC" <<'EOF'
import json, sys
closes = []
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("kind") == "conn" and d["event"] == "close" and d["peer"].rsplit(":", 1)[0] == sys.argv[2]:
        closes.append(d)
bad = [d for d in closes if not (d.get("duration_ns", 0) > 0 and d.get("bytes_in", 0) > 0 and d.get("bytes_out", 0) > 0
                                 and "retransmits" in d and d["dir"] == "client")]
print("ok\tevery close has duration_ns, bytes_in, bytes_out > 0 and retransmits" if not bad else
      "FAIL\tevery close has duration_ns, bytes_in, bytes_out > 0 and retransmits\t%s" % json.dumps(bad[:2]))
EOF
)

# ---- 2. M connections held open: kapimon's open count = ss ----
mkfifo "$OUT/hold.in"
$CLIENT hold --src "$SRC" --url "$KAPIMON_APISERVER_URL" --ca "$KAPIMON_CA" --n "$M" <"$OUT/hold.in" >"$OUT/hold.out" 2>&1 &
HPID=$!
exec 3>"$OUT/hold.in"
client_ready() { grep -q '^ready' "$1" || exited "$2"; }
wait_for "the client holds $M connections (or exits)" 60 client_ready "$OUT/hold.out" "$HPID"
grep -q "^ready" "$OUT/hold.out" || abort "hold client" "$(cat "$OUT/hold.out")"
wait_for "$((N + M)) open records for $SRC" 30 have_events open "$((N + M))"
kopen=$(conn_lines "$REC" "$SRC" | tail -n 1 | awk '{print $2}')
ssn=$(ss_open)
check_eq "kapimon's open connections for $SRC = ss -tn established (apiserver side)" "$ssn" "$kopen"
check_eq "ss -tn sees the $M held connections" "$M" "$ssn"
echo close >&3
exec 3>&-
wait_for "$((N + M)) close records for $SRC" 30 have_events close "$((N + M))"
check_eq "kapimon's open connections for $SRC after they closed" 0 "$(conn_lines "$REC" "$SRC" | tail -n 1 | awk '{print $2}')"
check_eq "ss -tn after they closed" 0 "$(ss_open)"
wait "$HPID" 2>/dev/null
HPID=""
kill -INT "$KPID"
wait_for "kapimon exits after SIGINT" 30 exited "$KPID" || abort
rc=0
wait "$KPID" || rc=$?
KPID=""
check_eq "kapimon record exit status after SIGINT" 0 "$rc"
report < <(python3 - "$REC" <<'EOF'
import json, sys
st = [json.loads(l) for l in open(sys.argv[1]) if '"kind":"stats"' in l]
c = st[-1].get("connections", {}) if st else {}
ok = c.get("opened", 0) >= 1 and c.get("etcd_active", 0) >= 1 and st[-1].get("ringbuf_drops", 1) == 0
print(("ok" if ok else "FAIL") + "\tstats: connections counted (the apiserver's etcd connections too), no ring-buffer drops\t" + json.dumps(c))
EOF
)

# ---- 2b. the fallback variants (raw_tp, plain tracepoints) count the same ----
for v in raw_tp tracepoint; do
	VSRC=127.77.$R1.$(( (R2 + 1) % 250 + 2 ))
	[ "$v" = tracepoint ] && VSRC=127.77.$R1.$(( (R2 + 2) % 250 + 2 ))
	VREC=$OUT/records-$v.jsonl
	KAPIMON_CONN_VARIANT=$v "$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$VREC" 2>"$OUT/kapimon-$v.stderr" &
	KPID=$!
	wait_for "kapimon record ($v programs) attaches (or exits)" 60 attached_or_exited "$OUT/kapimon-$v.stderr" "$KPID" || abort
	check_contains "the $v variant is the one attached" "tcp tracepoints ($v)" "$(grep attached "$OUT/kapimon-$v.stderr")"
	check "30 TLS connections from $VSRC" $CLIENT burst --src "$VSRC" --url "$KAPIMON_APISERVER_URL" --ca "$KAPIMON_CA" --n 30
	v_closes() { [ "$(conn_lines "$VREC" "$VSRC" | grep -c '^close ')" -ge 30 ]; }
	wait_for "$v: 30 close records for $VSRC" 30 v_closes
	check_eq "$v: open records for $VSRC" 30 "$(conn_lines "$VREC" "$VSRC" | grep -c '^open ')"
	check_eq "$v: close records with bytes for $VSRC" 30 "$(grep -F "\"peer\":\"$VSRC:" "$VREC" | grep '"event":"close"' | grep -c '"bytes_in":')"
	kill -INT "$KPID"
	wait_for "kapimon ($v) exits after SIGINT" 30 exited "$KPID"
	KPID=""
done

# ---- 3. retransmits under loss, against nstat in the apiserver's network namespace ----
if ! command -v tc >/dev/null || ! command -v nstat >/dev/null || ! command -v clang >/dev/null || ! ip netns list >/dev/null 2>&1; then
	echo "test_conn: SKIPPED part 3 (no tc, nstat, clang or ip netns)"
	finish
	exit $?
fi
RUN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NS=kpconn-$RUN
VH=kpc$RUN-h
VN=kpc$RUN-n
NET=10.254.$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 2 ))
HIP=$NET.1 NIP=$NET.2
EPORT=${KAPIMON_ETCD_PORT:-12379}
if ip -4 -o addr show | grep -q " $NET\."; then
	echo "test_conn: SKIPPED part 3 ($NET.0/30 is in use on this host)"
	NS="" VH=""
	finish
	exit $?
fi
ip netns add "$NS" || abort "ip netns add $NS"
ip link add "$VH" type veth peer name "$VN" || abort "ip link add $VH"
ip link set "$VN" netns "$NS"
ip addr add "$HIP/30" dev "$VH"
ip link set "$VH" up
ip netns exec "$NS" ip addr add "$NIP/30" dev "$VN"
ip netns exec "$NS" ip link set "$VN" up
ip netns exec "$NS" ip link set lo up
log "namespace $NS ($NIP) <-> $VH ($HIP)"
relay_up() { grep -q listening "$1" || exited "$2"; }
python3 tests/integration/tcp_relay.py "$HIP" "$EPORT" 127.0.0.1 "$EPORT" >"$OUT/relay_host.out" 2>&1 &
RPIDS="$!"
wait_for "relay $HIP:$EPORT -> etcd" 20 relay_up "$OUT/relay_host.out" "$!"
ip netns exec "$NS" python3 tests/integration/tcp_relay.py 127.0.0.1 "$EPORT" "$HIP" "$EPORT" >"$OUT/relay_ns.out" 2>&1 &
RPIDS="$RPIDS $!"
wait_for "relay 127.0.0.1:$EPORT in $NS -> $HIP:$EPORT" 20 relay_up "$OUT/relay_ns.out" "$!"

# the test's apiserver in the namespace, on its veth address (the testbed's flags otherwise)
mapfile -d '' A2 <"/proc/$KAPIMON_APISERVER_PID/cmdline"
for i in "${!A2[@]}"; do
	case ${A2[$i]} in
	--bind-address=*) A2[$i]=--bind-address=$NIP ;;
	--advertise-address=*) A2[$i]=--advertise-address=$NIP ;;
	--audit-log-path=*) A2[$i]=--audit-log-path=$OUT/audit2.log ;;
	esac
done
ip netns exec "$NS" "${A2[@]}" >"$OUT/apiserver2.log" 2>&1 &
A2PID=$!
api2_ready() { exited "$A2PID" || [ "$(curl -s -k -H "Authorization: Bearer $KAPIMON_TOKEN" "https://$NIP:$PORT/readyz" 2>/dev/null)" = ok ]; }
wait_for "the test's apiserver on $NIP:$PORT (in $NS) is ready (or exits)" 180 api2_ready || abort
exited "$A2PID" && abort "the test's apiserver" "$(tail -5 "$OUT/apiserver2.log")"
check "the host reaches it" $CLIENT burst --src "$HIP" --url "https://$NIP:$PORT" --ca "$KAPIMON_CA" --n 1

"$KAPIMON" -j top --pid "$A2PID" --batch --by client --interval 1 -n 50 >"$OUT/top.jsonl" 2>"$OUT/top.stderr" &
TPID=$!
wait_for "kapimon top prints 'attached' (or exits)" 60 attached_or_exited "$OUT/top.stderr" "$TPID" || abort
grep -q attached "$OUT/top.stderr" || abort "kapimon top attaches" "$(cat "$OUT/top.stderr")"
check_contains "kapimon filters the apiserver's port and etcd port in its namespace" "1 listening port, 1 etcd port" \
	"$(grep attached "$OUT/top.stderr")"

# kapimon's retransmits in its last snapshot: every row ("all") or the client's ("client")
kap_retrans() {
	python3 - "$OUT/top.jsonl" "$HIP" "$1" <<'PY'
import json, sys
last = None
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    rows = d.get("conn_rows", [])
    if sys.argv[3] == "all":
        last = sum(r["retransmits"] for r in rows)
    else:
        last = sum(r["retransmits"] for r in rows if r.get("client") == sys.argv[2])
print(last if last is not None else -1)
PY
}
# total_retrans of the namespace's sockets from their own counters (ss -ti): "tracked" = the apiserver's
# sockets kapimon follows (on its port; its connections to etcd), "others" = every other socket there
# (the relay, the apiserver's own connections to itself), "client" = the apiserver's sockets to the client
ns_retrans() {
	ip netns exec "$NS" ss -Htinp | python3 -c '
import re, sys
port, eport, pid, which, client = sys.argv[1:6]
tot, cur = 0, None
for line in sys.stdin:
    if not line[:1].isspace():
        f = line.split()
        loc, peer = f[3], f[4]
        mine = loc.rsplit(":", 1)[1] == port or (peer.rsplit(":", 1)[1] == eport and ("pid=%s," % pid) in line)
        cur = (mine, peer.rsplit(":", 1)[0])
    m = re.search(r"retrans:\d+/(\d+)", line)
    if m and cur:
        mine, peer_ip = cur
        if (which == "tracked" and mine) or (which == "others" and not mine) or (which == "client" and mine and peer_ip == client):
            tot += int(m.group(1))
print(tot)
' "$PORT" "$EPORT" "$A2PID" "$1" "$HIP"
}
# the namespace's absolute counter (nstat -a: no history file, which is per user, not per namespace)
ns_stat() { ip netns exec "$NS" nstat -asz "$1" | awk -v k="$1" '$1 == k {print $2}'; }
# the three terms together: kapimon's (every row), the other sockets' (ss -ti), the namespace's (nstat)
terms() { echo "$(kap_retrans all) $(ns_retrans others) $(ns_stat TcpRetransSegs)"; }
# a baseline the three agree on: the same twice, across one of kapimon's snapshots (1 s interval)
baseline_steady() {
	local a
	a=$(terms)
	sleep 1.2
	BASE=$(terms)
	[ "$a" = "$BASE" ] && [ "${a%% *}" != -1 ]
}
BASE=""
wait_for "kapimon's, the other sockets' and the namespace's retransmits are steady before the traffic" 30 baseline_steady
read -r K0 O0 N0 <<<"$BASE"
ip netns exec "$NS" ss -Htinp >"$OUT/ss-before.txt"
ip netns exec "$NS" nstat -asz >"$OUT/nstat-before.txt"

umask 077
printf '%s\n' "$KAPIMON_TOKEN" >"$OUT/token"
check "build the loss program" clang -O2 -g -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
	-DLOSS_PCT="${KAPIMON_CONN_LOSS:-10}" -DLOSS_SPORT="$PORT" -c tests/integration/loss.bpf.c -o "$OUT/loss.o"
tc qdisc add dev "$VH" clsact && tc filter add dev "$VH" ingress bpf da obj "$OUT/loss.o" sec tc ||
	abort "${KAPIMON_CONN_LOSS:-10}% loss of the apiserver's segments on the ingress of $VH"
mkfifo "$OUT/traffic.in"
$CLIENT traffic --src "$HIP" --url "https://$NIP:$PORT" --ca "$KAPIMON_CA" --n 8 --requests 25 \
	--token-file "$OUT/token" --path /api/v1/namespaces/kube-system <"$OUT/traffic.in" >"$OUT/traffic.out" 2>&1 &
HPID=$!
exec 4>"$OUT/traffic.in"
traffic_done() { grep -q '^done' "$OUT/traffic.out" || exited "$HPID"; }
wait_for "the client sends 200 requests over 8 connections under loss (or exits)" 180 traffic_done
grep -q "^done" "$OUT/traffic.out" || abort "traffic client" "$(cat "$OUT/traffic.out")"
tc qdisc del dev "$VH" clsact
# quiet: nothing unacknowledged on the apiserver's sockets, so their counters are final
quiet() { ! ip netns exec "$NS" ss -Htin "( sport = :$PORT )" | grep -q unacked; }
wait_for "the apiserver's sockets have nothing unacknowledged" 30 quiet
SSC=$(ns_retrans client)
kap_client_is() { [ "$(kap_retrans client)" = "$SSC" ]; }
wait_for "kapimon's retransmits for $HIP reach its sockets' total ($SSC)" 15 kap_client_is
KC=$(kap_retrans client)
# all three terms re-read together on every try: the other sockets go on talking (etcd traffic)
kap_total_is() {
	read -r K1 O1 N1 <<<"$(terms)"
	D=$((N1 - N0))
	[ $((K1 - K0 + O1 - O0)) = "$D" ]
}
K1=0 O1=0 N1=0 D=0
wait_for "kapimon's retransmits + the other sockets' reach the namespace's TcpRetransSegs delta" 15 kap_total_is
ip netns exec "$NS" ss -Htinp >"$OUT/ss-after.txt"
ip netns exec "$NS" nstat -asz >"$OUT/nstat-after.txt"
SYNR=$(($(ns_stat TcpExtTCPSynRetrans) - $(awk '$1 == "TcpExtTCPSynRetrans" {print $2}' "$OUT/nstat-before.txt")))
log "retransmitted segments in $NS: nstat delta $D (SYN/SYN-ACK $SYNR); kapimon $((K1 - K0)) (client $HIP: $KC); the namespace's other sockets $((O1 - O0)); the apiserver's sockets to the client (ss) $SSC"
check_eq "namespace TcpRetransSegs delta (nstat) = kapimon's retransmits + the other sockets'" "$D" "$((K1 - K0 + O1 - O0))"
check_eq "kapimon's retransmits for $HIP = the apiserver's sockets' total_retrans (ss -ti)" "$SSC" "$KC"
check_ge "the loss made the apiserver retransmit" 1 "$KC"
echo close >&4
exec 4>&-
wait "$HPID" 2>/dev/null
HPID=""
kill -INT "$TPID"
wait_for "kapimon top exits after SIGINT" 30 exited "$TPID"
TPID=""
finish
