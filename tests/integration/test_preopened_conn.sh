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
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAPIMON_ROOT" || exit 1
[ -n "${KAPIMON_APISERVER_PID:-}" ] || eval "$(scripts/testbed.sh env)"
OUT=${KAPIMON_TEST_OUT:-$KAPIMON_ROOT/build/test-out/$(basename "${KAPIMON_TESTBED_DIR:-/run/kapimon-testbed}")}/preopened
rm -rf "$OUT" && mkdir -p "$OUT"
N=${KAPIMON_PREOPEN_N:-12}
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
UA=kapimon-preopen-$RUN
REC=$OUT/records.jsonl
ERR=$OUT/kapimon.stderr
KPID="" CPID=""

log() { echo "test_preopened_conn: $*"; }
cleanup() {
	[ -z "$KPID" ] || kill -KILL "$KPID" 2>/dev/null || true
	[ -z "$CPID" ] || kill "$CPID" 2>/dev/null || true
	exec 3>&- 2>/dev/null || true
	rm -f "$OUT/token" "$OUT/go"
}
trap cleanup EXIT
client_ready() { grep -q '^ready ' "$OUT/client.out" || exited "$CPID"; }
attached_or_exited() { grep -q attached "$ERR" || exited "$KPID"; }
recorded_n() { [ "$(grep -cF "\"user_agent\":\"$UA\"" "$REC" 2>/dev/null)" -ge "$N" ]; }

# build the client (standard library only)
check "go build tests/integration/h2client" env GO111MODULE=off GOFLAGS= go build -o "$OUT/h2client" ./tests/integration/h2client
[ -x "$OUT/h2client" ] || abort

umask 077
printf '%s\n' "$KAPIMON_TOKEN" >"$OUT/token"
mkfifo "$OUT/go"
"$OUT/h2client" -url "$KAPIMON_APISERVER_URL" -ca "$KAPIMON_CA" -token-file "$OUT/token" -ua "$UA" -n "$N" \
	-missing "kapimon-preopen-missing-$RUN" <"$OUT/go" >"$OUT/client.out" 2>"$OUT/client.err" &
CPID=$!
exec 3>"$OUT/go" # open the fifo's write end (the client's stdin stays open until we write)
wait_for "h2client opens its connection and prints 'ready' (or exits)" 30 client_ready || abort
grep -q '^ready ' "$OUT/client.out" || abort "h2client's warm-up request" "$(cat "$OUT/client.err")"
log "client $(cat "$OUT/client.out") (connection opened and used before kapimon)"

"$KAPIMON" record --pid "$KAPIMON_APISERVER_PID" -o "$REC" --stats-interval 1 2>"$ERR" &
KPID=$!
wait_for "kapimon record prints 'attached' (or exits)" 60 attached_or_exited || abort
grep -q attached "$ERR" || abort "kapimon record attaches" "$(cat "$ERR")"

echo go >&3
exec 3>&-
wait_for "h2client sends its $N requests and exits" 60 exited "$CPID" || abort
rc=0
wait "$CPID" || rc=$?
CPID=""
check_eq "h2client exit status (0: all $N requests reused the warm-up connection)" 0 "$rc"
[ "$rc" = 0 ] || cat "$OUT/client.err"
wait_for "$N records with user agent $UA in kapimon's output" 30 recorded_n

kill -INT "$KPID"
wait_for "kapimon exits after SIGINT" 30 exited "$KPID" || abort
rc=0
wait "$KPID" || rc=$?
KPID=""
check_eq "kapimon record exit status after SIGINT" 0 "$rc"

report < <(python3 - "$OUT/client.out" "$REC" "$UA" "$N" <<'EOF'
import collections, json, sys
client_out, rec_path, ua, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sent, local, problems = [], None, []
for line in open(client_out):
    f = line.split()
    if f[0] == "ready":
        local = f[1]
    elif f[0] == "sent":
        if f[5] != "HTTP/2.0" or f[6] != "reused=true":
            problems.append("client: " + line.strip())
        sent.append((f[2], f[3], int(f[4])))
recs = []
for line in open(rec_path):
    o = json.loads(line)
    if o.get("kind") == "request" and o.get("user_agent") == ua:
        recs.append(o)
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
print("%s\trecords of the pre-opened connection: method, path, user agent, status, proto h2, client, verb/resource (%d records)\t%s"
      % ("FAIL" if problems else "ok", len(recs), " | ".join(problems[:10])))
EOF
)
finish
