#!/usr/bin/env bash
# Requests on an HTTP/2 connection opened BEFORE kapimon attached are captured fully.
#
# tests/integration/h2client (Go, net/http, ForceAttemptHTTP2) opens one TLS connection, sends a warm-up
# request (its User-Agent and token are now in both HPACK dynamic tables, so later requests refer to them
# by index), prints "ready"; then ./kapimon record attaches; then the client sends N requests on the same
# connection (it checks httptrace GotConn Reused=true and the same local address) and prints them.
# Checks: the client reused its connection for all N; kapimon recorded exactly N records with the client's
# user agent, and their (method, path, status) multiset equals what the client sent (even: 200 list,
# odd: 404 get), proto h2, latency_ns > 0, all from the client's address; kapimon exits 0 on SIGINT.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$ROOT/build/test-out}/preopened
rm -rf "$OUT" && mkdir -p "$OUT"
N=${KAPIMON_PREOPEN_N:-12}
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
UA=kapimon-preopen-$RUN
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
KPID="" CPID=""

log() { echo "test_preopened_conn: $*"; }
die() { echo "test_preopened_conn: FAIL: $*"; exit 1; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ -z "$CPID" ] || kill "$CPID" 2>/dev/null || true
	exec 3>&- 2>/dev/null || true
	rm -f "$OUT/token" "$OUT/go"
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
alive_or_die() { kill -0 "$1" 2>/dev/null || die "$2 exited early: $(tail -n 5 "$3")"; }
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
client_ready() { alive_or_die "$CPID" h2client "$OUT/client.err"; grep -q '^ready ' "$OUT/client.out"; }
kapimon_attached() { alive_or_die "$KPID" kapimon "$ERR"; grep -q attached "$ERR"; }
recorded_n() { [ "$(grep -cF "\"user_agent\":\"$UA\"" "$REC" 2>/dev/null || true)" -ge "$N" ]; }

# build the client (standard library only)
mkdir -p build
GO111MODULE=off GOFLAGS= go build -o build/h2client ./tests/integration/h2client || die "go build of h2client failed"

umask 077
printf '%s\n' "$KAPIMON_TOKEN" >"$OUT/token"
mkfifo "$OUT/go"
build/h2client -url "$KAPIMON_APISERVER_URL" -ca "$KAPIMON_CA" -token-file "$OUT/token" -ua "$UA" -n "$N" \
	-missing "kapimon-preopen-missing-$RUN" <"$OUT/go" >"$OUT/client.out" 2>"$OUT/client.err" &
CPID=$!
exec 3>"$OUT/go" # open the fifo's write end (the client's stdin stays open until we write)
wait_for "h2client's 'ready' line" 30 client_ready
log "client $(cat "$OUT/client.out") (connection opened and used before kapimon)"

./kapimon record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
wait_for "kapimon's 'attached' line" 60 kapimon_attached

echo go >&3
exec 3>&-
wait_for "h2client to finish" 60 exited "$CPID"
rc=0
wait "$CPID" || rc=$?
CPID=""
[ "$rc" = 0 ] || die "h2client exited $rc: $(cat "$OUT/client.err")"
wait_for "$N records with user agent $UA" 30 recorded_n

kill -INT "$KPID"
wait_for "kapimon to exit after SIGINT" 30 exited "$KPID"
rc=0
wait "$KPID" || rc=$?
KPID=""
[ "$rc" = 0 ] || die "kapimon record exited $rc after SIGINT (want 0)"

python3 - "$OUT/client.out" "$REC" "$UA" "$N" <<'EOF'
import collections, json, sys
client_out, rec_path, ua, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sent, local = [], None
for line in open(client_out):
    f = line.split()
    if f[0] == "ready":
        local = f[1]
    elif f[0] == "sent":
        assert f[5] == "HTTP/2.0" and f[6] == "reused=true", line
        sent.append((f[2], f[3], int(f[4])))
recs = []
for line in open(rec_path):
    o = json.loads(line)
    if o.get("kind") == "request" and o.get("user_agent") == ua:
        recs.append(o)
problems = []
if len(sent) != n:
    problems.append("client reports %d requests, want %d" % (len(sent), n))
got = collections.Counter((r["method"], r["path"], r["status"]) for r in recs)
want = collections.Counter(sent)
if got != want:
    problems.append("records != sent: missing %s, extra %s" % (dict(want - got), dict(got - want)))
for r in recs:
    if r.get("proto") != "h2" or r.get("ongoing") or not r.get("latency_ns", 0) > 0 or r.get("client") != local:
        problems.append("record id=%s: proto=%s ongoing=%s latency_ns=%s client=%s (want h2, finished, >0, %s)"
                        % (r.get("id"), r.get("proto"), r.get("ongoing"), r.get("latency_ns"), r.get("client"), local))
    if r["status"] == 404 and (r.get("verb"), r.get("resource")) != ("get", "configmaps"):
        problems.append("record id=%s: verb/resource %s/%s (want get/configmaps)" % (r.get("id"), r.get("verb"), r.get("resource")))
    if r["status"] == 200 and (r.get("verb"), r.get("resource")) != ("list", "configmaps"):
        problems.append("record id=%s: verb/resource %s/%s (want list/configmaps)" % (r.get("id"), r.get("verb"), r.get("resource")))
print("test_preopened_conn: sent %d requests on the pre-opened connection %s; kapimon recorded %d with its user agent "
      "(%d x 200, %d x 404)" % (len(sent), local, len(recs), sum(1 for r in recs if r["status"] == 200),
                                 sum(1 for r in recs if r["status"] == 404)))
for p in problems[:10]:
    print("test_preopened_conn: FAIL: " + p)
sys.exit(1 if problems else 0)
EOF
log PASS
